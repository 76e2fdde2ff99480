import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { desired } from "../automation/domainFixtures";
import { startHarness, TOKENS, TEAM_A, TEAM_B, spec, type Harness } from "../automation/httpHarness";

/**
 * The portal in a real Chromium (Debian's package, driven by playwright-core) against a real
 * server: the harness's app on the offline engine with a worker, so every operation runs the
 * real program under mocks. Each page is checked with axe-core and photographed at 390 px and
 * 1440 px into test-output/portal/ (not committed).
 */

const CHROMIUM = process.env.KVP_CHROMIUM ?? "/usr/bin/chromium";
const OUT = path.resolve(__dirname, "..", "..", "test-output", "portal");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const WIDTHS = [390, 1440] as const;

interface AxeResult { violations: Array<{ id: string; impact: string | null; nodes: unknown[]; help: string }> }

/** Per page and width: violations by impact; written to test-output/portal/axe.json for the record. */
const axeCounts: Record<string, Record<string, number>> = {};
const screenshots: string[] = [];

/** Listens on a free loopback port; resolves with the base URL. */
async function listen(server: Server): Promise<string> {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const launch = () => chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });

const closeServer = (server: Server | undefined) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

/** Skips (saying why and how to run) outside CI; in CI (.ci/run sets KVP_REQUIRE_BROWSER) a missing browser is a broken build, never a pass. */
function requireChromium(ctx: Mocha.Context): void {
    if (existsSync(CHROMIUM)) return;
    const why = `Chromium is missing at ${CHROMIUM}: install it (apt-get install -y chromium) or point KVP_CHROMIUM at one`;
    if (process.env.CI || process.env.KVP_REQUIRE_BROWSER) throw new Error(why);
    console.log(`    SKIPPED the portal browser tests: ${why}; then run npm run test:portal`);
    ctx.skip();
}

describe("portal in Chromium", function () {
    this.timeout(240_000);
    let h: Harness;
    let server: Server;
    let base: string;
    let browser: Browser;
    /** Last-Event-ID headers of every event-stream request, in order. */
    const lastEventIds: Array<string | undefined> = [];
    /** When set, the next event stream is cut after its third event, as a dropped connection would be. */
    let dropNextStream = false;

    before(async function () {
        requireChromium(this);
        mkdirSync(OUT, { recursive: true });
        h = await startHarness({ worker: true, offline: true });
        server = createServer((req: IncomingMessage, res: ServerResponse) => {
            if (req.url?.includes("/events")) {
                lastEventIds.push(req.headers["last-event-id"] as string | undefined);
                if (dropNextStream) {
                    dropNextStream = false;
                    let events = 0;
                    const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
                    (res as unknown as { write: typeof write }).write = (chunk, ...rest) => {
                        const ok = write(chunk, ...rest);
                        if (String(chunk).startsWith("id:") && ++events === 3) setImmediate(() => req.socket.destroy());
                        return ok;
                    };
                }
            }
            h.app(req, res);
        });
        base = await listen(server);
        browser = await launch();
    });

    after(async () => {
        await browser?.close();
        await closeServer(server);
        await h?.close();
        if (Object.keys(axeCounts).length) {
            writeFileSync(path.join(OUT, "axe.json"), JSON.stringify(axeCounts, null, 2));
            console.log("    axe-core violations by page (all impacts):");
            for (const [name, counts] of Object.entries(axeCounts)) console.log(`      ${name}: ${JSON.stringify(counts)}`);
            console.log(`    ${screenshots.length} screenshots under ${OUT}`);
        }
    });

    /** A new tab with its own session storage; CSP violations and page errors fail the test. */
    async function open(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
        const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
        const page = await context.newPage();
        const problems: string[] = [];
        page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
        page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`CSP: ${m.text()}`); });
        await page.goto(base);
        return { context, page, problems };
    }

    async function signIn(page: Page, token: string, who: RegExp): Promise<void> {
        await page.getByLabel("API token").fill(token);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.locator("header.top .who").getByText(who).waitFor();
    }

    /** axe-core at both widths (no serious or critical violation) and a screenshot at each. */
    async function check(page: Page, name: string): Promise<void> {
        for (const width of WIDTHS) {
            await page.setViewportSize({ width, height: 900 });
            // Evaluated through the DevTools protocol, so the page's CSP (rightly) does not apply to the checker.
            await page.evaluate(AXE);
            const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(o: unknown): Promise<AxeResult> } }).axe.run({ resultTypes: ["violations"] })) as AxeResult;
            const counts: Record<string, number> = { critical: 0, serious: 0, moderate: 0, minor: 0 };
            for (const v of result.violations) counts[v.impact ?? "minor"] += v.nodes.length;
            axeCounts[`${name}@${width}`] = counts;
            const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
            assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), [], `${name} at ${width}px`);
            const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") as number;
            if (overflow > 0) {
                const wide = await page.evaluate(`[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
                    .slice(0, 5).map((e) => e.tagName + "." + e.className).join(", ")`);
                assert.fail(`${name} at ${width}px scrolls sideways by ${overflow}px: ${wide}`);
            }
            const file = path.join(OUT, `${name}-${width}.png`);
            await page.screenshot({ path: file, fullPage: true });
            screenshots.push(file);
        }
        await page.setViewportSize({ width: 1440, height: 900 });
    }

    /** A property of the focused element, as text. */
    async function focused(page: Page, property: "id" | "tagName" | "textContent"): Promise<string> {
        return String(await page.evaluate(`document.activeElement?.${property} ?? ""`));
    }

    /**
     * Polls `read` (up to 5 s) until it returns `expected`: the page applies a change on its next
     * render, not at once. Polled from here because page.waitForFunction with a string evaluates
     * it with eval inside the page, which the portal's CSP rightly refuses.
     */
    async function until<T>(read: () => Promise<T>, expected: T, message?: string): Promise<void> {
        const deadline = Date.now() + 5_000;
        for (let value = await read(); value !== expected; value = await read()) {
            if (Date.now() > deadline) assert.equal(value, expected, message);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    }

    /** Waits for a filtered list to show n rows. */
    const countIs = (rows: Locator, n: number, message?: string) => until(() => rows.count(), n, message);

    async function finished(page: Page, state: string): Promise<void> {
        await page.locator("#op-status").getByText(`Finished: ${state}.`).waitFor({ timeout: 120_000 });
    }

    it("signs in with a token kept in session storage only, and refuses a wrong one", async () => {
        const { context, page, problems } = await open();
        await check(page, "sign-in");
        await page.getByLabel("API token").fill("not-a-valid-token-at-all");
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("alert").getByText("HTTP 401").waitFor();
        await signIn(page, TOKENS.operatorA, /token:payments-operator · operator · team payments/);
        assert.equal(await page.evaluate(() => sessionStorage.getItem("kvp.token")), TOKENS.operatorA);
        assert.equal(await page.evaluate(() => localStorage.length), 0);
        assert.ok(!page.url().includes(TOKENS.operatorA));
        await page.getByRole("button", { name: "Sign out" }).click();
        assert.equal(await page.evaluate(() => sessionStorage.getItem("kvp.token")), null);
        assert.deepEqual(problems, []);
        await context.close();
        assert.ok(!h.logs.some((l) => l.includes(TOKENS.operatorA)), "the token reached a log line");
    });

    it("signs in with what is in the field when Enter comes before the page has re-rendered (a fast typist, a password manager)", async () => {
        const { context, page, problems } = await open();
        await page.getByLabel("API token").waitFor();
        // The value lands and the form is submitted in one task, so no render runs in between.
        await page.evaluate(`{
            const input = document.getElementById("token");
            input.value = ${JSON.stringify(TOKENS.readerA)};
            input.dispatchEvent(new Event("input", { bubbles: true }));
            input.form.requestSubmit();
        }`);
        await page.locator("header.top .who").getByText(/reader/).waitFor({ timeout: 10_000 });
        assert.equal(await page.evaluate(() => sessionStorage.getItem("kvp.token")), TOKENS.readerA);
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("runs an environment's life: a field error corrected, the plan previewed, apply watched live through a dropped connection, outputs, preview, destroy by typed name", async () => {
        const { context, page, problems } = await open();
        await signIn(page, TOKENS.operatorA, /team payments/);
        await check(page, "environments-empty");

        await page.getByRole("link", { name: "New environment" }).first().click();
        await page.locator("#f-name").waitFor();
        await page.locator("#f-name").fill("payments-dev");
        await page.locator("#f-location").fill("westeurope");
        await page.locator("#f-alerts-emails").fill("not-an-email");
        await page.getByRole("button", { name: "Create and apply" }).click();
        const emails = page.locator("#f-alerts-emails");
        await page.locator("#f-alerts-emails-error").getByText("e-mail").waitFor();
        assert.equal(await emails.getAttribute("aria-invalid"), "true");
        // Focus moves to the field in error once the page has rendered the answer.
        await until(() => focused(page, "id"), "f-alerts-emails", "focus moves to the first field with an error");
        await check(page, "create-field-error");

        await emails.fill("ops@example.com");
        await page.getByRole("button", { name: "Preview plan" }).click();
        const preview = page.getByRole("region", { name: "Preview" });
        await preview.getByText("nothing has been applied").waitFor({ timeout: 120_000 });
        const planned = await preview.getByRole("region", { name: "Planned resources" }).locator("tbody tr").allTextContents();
        assert.ok(planned.some((r) => r.includes("azure-native:keyvault:Vault")), "the preview plans the vault");
        assert.ok(planned.length >= 5 && planned.every((r) => r.startsWith("create")), "a new environment's plan only creates");
        await assert.rejects(h.service.getEnvironment({ subject: "test", role: "admin" }, "payments-dev"), /does not exist/, "previewing stored nothing");
        await check(page, "create-preview");

        dropNextStream = true;
        const streamsBefore = lastEventIds.length;
        await page.getByRole("button", { name: "Create and apply" }).click();
        await page.waitForURL(/#\/operations\//);
        const operationId = decodeURIComponent(page.url().split("#/operations/")[1]);
        await finished(page, "succeeded");

        // The first stream was cut after three events; the portal came back with Last-Event-ID and lost nothing.
        const resumes = lastEventIds.slice(streamsBefore);
        assert.equal(resumes[0], undefined, "the first connection starts from the beginning");
        // destroy() may drop what was still buffered, so the resume point is whatever last arrived whole.
        assert.ok(resumes.length >= 2 && Number(resumes[1]) >= 1, `no resume with Last-Event-ID: ${JSON.stringify(resumes)}`);
        const shown = (await page.locator("#event-log li").evaluateAll((lis) => lis.map((li) => Number(li.getAttribute("data-seq")))));
        const stored = (await h.service.listEvents({ subject: "test", role: "admin" }, operationId)).map((e) => e.seq);
        assert.deepEqual(shown, stored, "the log shows every stored event once, in order");

        const creates = await page.locator("#event-log li").filter({ hasText: /^#\d+ create azure-native:/ }).count();
        assert.ok(creates >= 5, `only ${creates} Azure resources planned`);
        const progress = /Resources done: (\d+) of (\d+) planned/.exec(await page.locator("label[for=progress]").textContent() ?? "");
        assert.ok(progress && progress[1] === progress[2] && Number(progress[2]) >= creates, `progress reads ${progress?.[0]}`);
        await page.getByRole("region", { name: "Planned resources" }).getByText("azure-native:keyvault:Vault").first().waitFor();
        await check(page, "operation-update");

        await page.getByRole("main").getByRole("link", { name: "payments-dev" }).click();
        await page.getByRole("heading", { name: "Environment payments-dev" }).waitFor();
        const outputs = page.getByRole("region", { name: "Outputs" });
        await outputs.getByText(/https:\/\/kv-.*\.vault\.azure\.net\//).waitFor();
        assert.ok(!(await page.locator("main").textContent())?.includes("[secret]"), "a secret marker is shown raw");
        await page.locator("dl.meta").getByText(TEAM_A).first().waitFor();
        await page.getByText("Operation history").waitFor();
        const history = page.getByRole("region", { name: "Operation history" }).locator("tbody tr");
        await history.first().waitFor();
        assert.deepEqual(await history.locator("td:first-child").allTextContents(), ["update", "preview"], "newest first: the update, then the preview of the proposed spec");
        assert.deepEqual(await history.locator("td:nth-child(2)").allTextContents(), ["succeeded", "succeeded"]);
        const tags = await page.locator("h2:has-text('Tags') + dl").textContent();
        assert.match(tags ?? "", /Teampayments/);
        assert.match(tags ?? "", /Environmentpayments-dev/);
        await check(page, "environment-detail");

        await page.getByRole("button", { name: "Preview" }).click();
        await page.waitForURL(/#\/operations\//);
        await finished(page, "succeeded");
        const ops = await page.getByRole("region", { name: "Planned resources" }).locator("tbody tr td:first-child").allTextContents();
        assert.ok(ops.length >= 5 && ops.every((o) => o === "same"), `a preview after apply plans no change: ${ops.join(",")}`);
        await check(page, "operation-preview");

        await page.getByRole("main").getByRole("link", { name: "payments-dev" }).click();
        await page.getByRole("button", { name: "Destroy…" }).click();
        const dialog = page.getByRole("dialog", { name: "Destroy payments-dev?" });
        const destroy = dialog.getByRole("button", { name: "Destroy", exact: true });
        assert.equal(await destroy.isDisabled(), true);
        await dialog.getByLabel("Type payments-dev to confirm").fill("payments-de");
        assert.equal(await destroy.isDisabled(), true, "a wrong name does not arm the button");
        await check(page, "destroy-dialog");
        await dialog.getByLabel("Type payments-dev to confirm").fill("payments-dev");
        await destroy.click();
        await page.waitForURL(/#\/operations\//);
        await finished(page, "succeeded");
        const env = await h.service.getEnvironment({ subject: "test", role: "admin" }, "payments-dev");
        assert.equal(env.status, "destroyed");
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("shows a reader no button it cannot use, and an operator only its own team", async () => {
        const now = new Date().toISOString();
        for (let i = 1; i <= 12; i++) {
            const team = i <= 11 ? TEAM_A : TEAM_B;
            await h.store.upsertEnvironment({ name: `${team}-env-${String(i).padStart(2, "0")}`, team, spec: spec({ team }), specHash: `h${i}`, status: "ready", expiresAt: null, now });
        }
        const reader = await open();
        await signIn(reader.page, TOKENS.readerA, /reader · team payments/);
        const rows = reader.page.getByRole("region", { name: "Environments" }).locator("tbody tr");
        await rows.first().waitFor();
        assert.equal(await rows.count(), 10, "a page holds ten");
        const first = await rows.allTextContents();
        await reader.page.getByRole("button", { name: "Next page" }).click();
        await reader.page.getByText("Page 2").waitFor();
        await rows.filter({ hasText: "payments-dev" }).waitFor({ state: "detached" });
        const second = await rows.allTextContents();
        assert.ok(second.length >= 1 && second.every((r) => !first.includes(r)), "the next page follows the cursor");
        assert.ok([...first, ...second].every((r) => !r.includes(TEAM_B)), "a reader sees only its team");
        assert.equal(await reader.page.getByRole("link", { name: "New environment" }).count(), 0);
        assert.equal(await reader.page.getByRole("link", { name: "Audit log" }).count(), 0);
        await reader.page.goto(`${base}/#/environments/payments-env-01`);
        await reader.page.getByRole("heading", { name: "Environment payments-env-01" }).waitFor();
        await reader.page.getByText("Operation history").waitFor();
        for (const name of ["Edit spec", "Preview", "Destroy…"]) {
            assert.equal(await reader.page.getByRole("main").getByText(name, { exact: true }).count(), 0, `a reader sees ${name}`);
        }
        await check(reader.page, "environment-detail-reader");
        await reader.page.goto(`${base}/#/new`);
        await reader.page.getByRole("heading", { name: "Environments of team payments" }).waitFor();
        assert.deepEqual(reader.problems, []);
        await reader.context.close();

        const billing = await open();
        await signIn(billing.page, TOKENS.operatorB, /team billing/);
        const billingRows = billing.page.getByRole("region", { name: "Environments" }).locator("tbody tr");
        await billingRows.first().waitFor();
        assert.deepEqual((await billingRows.locator("td:first-child").allTextContents()), ["billing-env-12"]);
        await billing.page.goto(`${base}/#/environments/payments-env-01`);
        await billing.page.getByRole("alert").getByText("HTTP 404").waitFor();
        assert.deepEqual(billing.problems, []);
        await billing.context.close();
    });

    it("gives an admin every team's environments, a team filter and the audit log with its filters", async () => {
        const { context, page, problems } = await open();
        await signIn(page, TOKENS.admin, /admin · all teams/);
        await page.getByRole("heading", { name: "Environments of every team" }).waitFor();
        await page.getByLabel("Status", { exact: true }).selectOption("destroyed");
        const destroyed = page.getByRole("region", { name: "Environments" }).locator("tbody tr").filter({ hasText: "payments-dev" });
        await destroyed.getByText("destroy succeeded").waitFor();
        await page.getByLabel("Status", { exact: true }).selectOption("");
        await page.getByLabel("Team", { exact: true }).fill(TEAM_B);
        await page.getByLabel("Team", { exact: true }).press("Tab");
        const rows = page.getByRole("region", { name: "Environments" }).locator("tbody tr");
        // Unfiltered, the first page also holds the payments environments; filtered, they go.
        await rows.filter({ hasText: "payments-" }).first().waitFor({ state: "detached" });
        assert.deepEqual(await rows.locator("td:first-child").allTextContents(), ["billing-env-12"]);
        await check(page, "environments-admin");

        await page.getByRole("link", { name: "Audit log" }).click();
        const entries = page.getByRole("region", { name: "Audit entries" }).locator("tbody tr");
        await entries.first().waitFor();
        const all = await entries.count();
        assert.ok(all >= 4, `only ${all} audit entries`);
        await page.getByLabel("Action", { exact: true }).selectOption("environment.delete");
        await countIs(entries, 1);
        assert.match(await entries.first().textContent() ?? "", /payments-operator.*environment\.delete.*payments-dev/);
        await page.getByLabel("Action", { exact: true }).selectOption("");
        await countIs(entries, all);
        // Two filters changed in one task, before any render: both apply.
        await page.evaluate(`{
            for (const [id, value] of [["audit-action", "environment.delete"], ["audit-outcome", "accepted"]]) {
                const select = document.getElementById(id);
                select.value = value;
                select.dispatchEvent(new Event("change", { bubbles: true }));
            }
        }`);
        await countIs(entries, 1, "the action filter survived the outcome filter's change");
        await page.getByLabel("Action", { exact: true }).selectOption("");
        await page.getByLabel("Outcome", { exact: true }).selectOption("");
        await page.getByLabel("Actor, team or target contains").fill("billing-operator");
        await countIs(entries, 0, "the billing operator changed nothing");
        await page.getByLabel("Actor, team or target contains").fill("");
        await check(page, "audit-log");
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("can be used with the keyboard alone: sign-in, the list and a detail page", async () => {
        const { context, page, problems } = await open();
        await page.getByLabel("API token").waitFor();
        await page.keyboard.press("Tab");
        assert.equal(await focused(page, "id"), "token");
        await page.keyboard.type(TOKENS.readerA);
        await page.keyboard.press("Enter");
        await page.locator("header.top .who").getByText(/reader/).waitFor();
        await page.getByRole("region", { name: "Environments" }).locator("tbody a").first().waitFor();
        // Each page starts at its heading, so the next Tab stops are the page's own controls.
        assert.equal(await focused(page, "tagName"), "H1");
        await page.keyboard.press("Tab");
        assert.equal(await focused(page, "id"), "filter-status");
        await page.keyboard.press("Tab");
        await page.keyboard.press("Tab");
        assert.match(await focused(page, "textContent"), /^payments-/);
        await page.keyboard.press("Enter");
        await page.getByRole("heading", { name: /^Environment payments-/ }).waitFor();
        await until(async () => `${await focused(page, "tagName")} ${await focused(page, "textContent")}`.startsWith("H1 Environment payments-"), true, "focus moves to the detail page's heading");
        assert.deepEqual(problems, []);
        await context.close();
    });
});

describe("portal sign-in with OIDC (authorization code and PKCE) in Chromium", function () {
    this.timeout(60_000);
    let h: Harness;
    let app: Server;
    let issuerServer: Server;
    let browser: Browser;
    let base: string;
    let privateKey: CryptoKey;
    /** What the identity provider saw, for the assertions. */
    const seen: { challenge?: string; method?: string; verifierMatched?: boolean; redirectUri?: string; scope?: string } = {};

    before(async function () {
        requireChromium(this);
        const keys = await generateKeyPair("RS256");
        privateKey = keys.privateKey;
        const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "RS256" };
        issuerServer = createServer((req, res) => void fakeIssuer(req, res));
        const issuer = await listen(issuerServer);
        h = await startHarness({
            oidc: { issuer, audience: "api://kvp", algorithms: ["RS256"], roleClaim: "roles", teamClaim: "team", clientId: "portal-client", scopes: "openid api://kvp/.default" },
            jwks: createLocalJWKSet({ keys: [jwk] }),
        });
        app = createServer(h.app);
        base = await listen(app);
        browser = await launch();

        async function fakeIssuer(req: IncomingMessage, res: ServerResponse): Promise<void> {
            const url = new URL(req.url ?? "/", issuer);
            res.setHeader("Access-Control-Allow-Origin", base);
            if (url.pathname === "/.well-known/openid-configuration") {
                res.setHeader("Content-Type", "application/json");
                res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token` }));
            } else if (url.pathname === "/authorize") {
                const q = url.searchParams;
                Object.assign(seen, { challenge: q.get("code_challenge"), method: q.get("code_challenge_method"), redirectUri: q.get("redirect_uri"), scope: q.get("scope") });
                const ok = q.get("response_type") === "code" && q.get("client_id") === "portal-client";
                res.writeHead(302, { Location: `${q.get("redirect_uri")}?${ok ? `code=the-code&state=${q.get("state")}` : "error=invalid_request"}` }).end();
            } else if (url.pathname === "/token" && req.method === "POST") {
                let body = "";
                for await (const chunk of req) body += chunk;
                const form = new URLSearchParams(body);
                const verifier = form.get("code_verifier") ?? "";
                seen.verifierMatched = createHash("sha256").update(verifier).digest("base64url") === seen.challenge;
                if (!seen.verifierMatched || form.get("code") !== "the-code" || form.get("grant_type") !== "authorization_code") {
                    res.writeHead(400, { "Content-Type": "application/json" }).end(JSON.stringify({ error: "invalid_grant" }));
                    return;
                }
                const token = await new SignJWT({ roles: ["KeyVaultPlatform.Operator"], team: TEAM_A })
                    .setProtectedHeader({ alg: "RS256", kid: "k1" }).setIssuer(issuer).setAudience("api://kvp").setSubject("user-1")
                    .setIssuedAt().setExpirationTime("10m").sign(privateKey);
                res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 600 }));
            } else {
                res.writeHead(404).end();
            }
        }
    });

    after(async () => {
        await browser?.close();
        await closeServer(app);
        await closeServer(issuerServer);
        await h?.close();
    });

    it("signs in through the issuer with S256 PKCE, keeps the code out of the address bar, and acts as the token's role and team", async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        const problems: string[] = [];
        page.on("pageerror", (e) => problems.push(e.message));
        page.on("console", (m) => { if (/Content Security Policy|Refused to/.test(m.text())) problems.push(m.text()); });
        await page.goto(base);
        await page.getByRole("button", { name: "Sign in with your organisation" }).click();
        await page.locator("header.top .who").getByText("oidc:user-1 · operator · team payments").waitFor();
        assert.equal(seen.method, "S256");
        assert.equal(seen.verifierMatched, true, "the token exchange proved the PKCE verifier");
        assert.equal(seen.redirectUri, `${base}/`);
        assert.equal(seen.scope, "openid api://kvp/.default");
        assert.ok(!page.url().includes("code="), `the code stayed in the address bar: ${page.url()}`);
        assert.equal(await page.evaluate(() => sessionStorage.getItem("kvp.oidc.flow")), null, "the PKCE verifier is dropped after use");
        await page.getByRole("link", { name: "New environment" }).first().waitFor();
        assert.deepEqual(problems, []);
        await context.close();
    });
});

describe("portal: cancel a queued operation in Chromium", function () {
    this.timeout(60_000);
    let h: Harness;
    let app: Server;
    let browser: Browser;
    let base: string;

    before(async function () {
        requireChromium(this);
        // No worker: the update stays queued until the page cancels it.
        h = await startHarness({ worker: false });
        app = createServer(h.app);
        base = await listen(app);
        browser = await launch();
    });

    after(async () => {
        await browser?.close();
        await closeServer(app);
        await h?.close();
    });

    it("cancels from the operation's page, and the stream ends with the final state", async () => {
        const put = await h.service.putEnvironment({ subject: "test", role: "admin" }, desired("payments-queued", spec()));
        const id = put.operation!.id;
        const page = await (await browser.newContext()).newPage();
        await page.goto(base);
        await page.getByLabel("API token").fill(TOKENS.operatorA);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.locator("header.top .who").getByText(/team payments/).waitFor();
        await page.goto(`${base}/#/operations/${id}`);
        await page.locator("#op-status").getByText("Following live").waitFor();
        await page.getByRole("button", { name: "Cancel operation" }).click();
        await page.locator("#op-status").getByText("Finished: canceled.").waitFor();
        assert.equal(await page.getByRole("button", { name: "Cancel operation" }).count(), 0, "nothing left to cancel");
        assert.equal((await h.service.getOperation({ subject: "test", role: "admin" }, id)).state, "canceled");
        await page.context().close();
    });
});
