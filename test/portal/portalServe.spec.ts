import { strict as assert } from "node:assert";
import request from "supertest";
import { portalConfig, portalCsp } from "../../automation/http/portal";
import { startHarness, type Harness } from "../automation/httpHarness";

/** What the server sends for the portal, without a browser: the page, its assets and their CSP. */

describe("portal assets", function () {
    this.timeout(30_000);
    let h: Harness;
    before(async () => { h = await startHarness(); });
    after(() => h.close());

    it("serves the page, the bundled script and the stylesheet from this origin under a CSP with no inline script", async () => {
        const page = await request(h.app).get("/").expect(200);
        assert.match(page.headers["content-type"], /text\/html/);
        assert.match(page.text, /<script type="module" src="\/portal\/app.js"><\/script>/);
        assert.doesNotMatch(page.text, /<script>|<script type="module">|https?:\/\//, "no inline script and no third-party asset");
        const csp = page.headers["content-security-policy"];
        assert.match(csp, /script-src 'self';/);
        assert.match(csp, /style-src 'self';/);
        assert.match(csp, /connect-src 'self';/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
        const script = await request(h.app).get("/portal/app.js").expect(200);
        assert.match(script.headers["content-type"], /javascript/);
        assert.doesNotMatch(script.text, /from ?"preact"|import\(/, "Preact and htm are bundled in, not fetched");
        await request(h.app).get("/portal/app.css").expect(200).expect("Content-Type", /text\/css/);
        assert.deepEqual((await request(h.app).get("/portal/config.json").expect(200)).body, {}, "no OIDC: the token form only");
    });

    it("lets the page reach the OIDC issuer only when a portal client id is set", () => {
        const oidc = { issuer: "https://login.microsoftonline.com/tenant/v2.0", clientId: "portal", scopes: "openid api://kvp/.default" };
        assert.match(portalCsp({ oidc }), /connect-src 'self' https:\/\/login\.microsoftonline\.com;/);
        assert.deepEqual(portalConfig({ oidc }), { oidc });
        assert.match(portalCsp({ oidc: { ...oidc, clientId: undefined } }), /connect-src 'self';/);
        assert.deepEqual(portalConfig({ oidc: { ...oidc, clientId: undefined } }), {});
    });
});
