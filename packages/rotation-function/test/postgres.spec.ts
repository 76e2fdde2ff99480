import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { escapeLiteral } from "pg";
import type { Failpoint } from "../src/protocol";
import { FAILPOINTS } from "../src/protocol";
import type { RotationResult } from "../src/result";
import { matchesVerifier } from "../src/scram";
import { RotationService } from "../src/service";
import { PostgresDualTarget } from "../src/targets/postgres";
import { silentLogger } from "../src/log";
import { pendingSecretName } from "../src/vault";
import {
    ADDRESS, adminQuery, createPair, dropPair, enforcePasswordAuth, localAdmin, logsIn, RolePair, uniqueSuffix, uri,
} from "./helpers/postgres";
import { VaultDouble } from "./helpers/vaultDouble";

const INITIAL = "Initial-Pass-1x";
const CHILD = join(__dirname, "helpers", "rotateChild.ts");

function serviceFor(vault: VaultDouble, failpoint?: (p: Failpoint) => void) {
    return new RotationService({
        vault,
        logger: silentLogger,
        configSecretName: "rotation-config",
        windowDays: 30,
        targets: async (spec) => new PostgresDualTarget(spec.providerAddress, spec.credentialPair!, localAdmin),
        failpoint,
    });
}

async function seedSecret(vault: VaultDouble, name: string, pair: RolePair) {
    await vault.setSecret(name, uri(pair.a, INITIAL), {
        tags: { RotationTarget: "postgres", ProviderAddress: ADDRESS, CredentialId: pair.a, CredentialPair: `${pair.a},${pair.b}`, ValidityPeriodDays: "30" },
    });
}

function roleOf(value: string): string {
    return /^postgresql:\/\/([^:]+):/.exec(value)![1];
}

/** What the vault held after a recovery run, as one row of the closing table. */
interface Row {
    failure: string;
    injected: string;
    atFailure: string;
    recovery: string;
    current: string;
    currentLogsIn: boolean;
    previousLogsIn: boolean;
    pending: string;
}

/** The vault right after the failure: whose value is current, does it log in, is a pending marker enabled. */
async function atFailure(vault: VaultDouble, name: string, pair: RolePair): Promise<string> {
    const cur = vault.latest(name)!;
    const pending = vault.versions(pendingSecretName(name)).filter((p) => p.enabled).length;
    return `current ${roleOf(cur.value) === pair.a ? "A" : "B"}${await logsIn(cur.value) ? " logs in" : " DEAD"}, ${pending} pending`;
}

async function snapshot(vault: VaultDouble, name: string, pair: RolePair, failure: string, injected: string, crash: string, recovery: string): Promise<Row> {
    const versions = vault.versions(name);
    const cur = versions[versions.length - 1];
    const prev = versions[versions.length - 2];
    const pendings = vault.versions(pendingSecretName(name));
    return {
        failure,
        injected,
        atFailure: crash,
        recovery,
        current: `${roleOf(cur.value) === pair.a ? "A" : "B"} (${cur.tags?.RotationState ?? "initial"})`,
        currentLogsIn: await logsIn(cur.value),
        previousLogsIn: prev ? await logsIn(prev.value) : false,
        pending: `${pendings.filter((p) => p.enabled).length} enabled / ${pendings.length}: ${pendings.map((p) => p.tags?.RotationState).join(",") || "-"}`,
    };
}

/** The invariant: the current version logs in, and no pending version is left enabled. */
async function assertSettled(vault: VaultDouble, name: string) {
    const cur = vault.latest(name)!;
    assert.equal(cur.enabled, true);
    assert.ok(await logsIn(cur.value), "the vault's current version must log in");
    assert.deepEqual(vault.versions(pendingSecretName(name)).filter((v) => v.enabled).map((v) => v.version), [], "no pending version may stay enabled");
}

function runChild(vaultFile: string, name: string, killAt: string): Promise<{ signal: NodeJS.Signals | null; code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", CHILD, vaultFile, name, killAt], { cwd: join(__dirname, ".."), stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
}

describe("rotation against real PostgreSQL (dual credentials)", function () {
    this.timeout(60_000);
    const pairs: RolePair[] = [];
    const rows: Row[] = [];
    const dir = mkdtempSync(join(tmpdir(), "kvp-rotation-"));

    async function newPair(): Promise<RolePair> {
        const pair = await createPair(uniqueSuffix(), INITIAL);
        pairs.push(pair);
        return pair;
    }

    before(async () => {
        await enforcePasswordAuth();
    });

    after(async () => {
        for (const pair of pairs) await dropPair(pair);
        rmSync(dir, { recursive: true, force: true });
        if (rows.length > 0) {
            console.log("\n      What the vault held after the recovery run (A/B = role of the current version):");
            console.table(rows);
        }
    });

    it("refuses a wrong password, so every login check below means something", async () => {
        const pair = await newPair();
        assert.equal(await logsIn(uri(pair.a, INITIAL)), true);
        assert.equal(await logsIn(uri(pair.a, "Wrong-Pass-1x")), false);
        assert.equal(await logsIn(uri(pair.b, INITIAL)), false, "b has no password yet");
    });

    it("stores only a SCRAM verifier, which PostgreSQL accepts for the generated password", async () => {
        const pair = await newPair();
        const vault = new VaultDouble();
        await seedSecret(vault, "pg-scram", pair);
        await serviceFor(vault).rotateNow("pg-scram");
        const value = vault.latest("pg-scram")!.value;
        const password = /:([^:@]+)@/.exec(value)![1];
        const [{ rolpassword }] = await adminQuery<{ rolpassword: string }>(`SELECT rolpassword FROM pg_authid WHERE rolname = ${escapeLiteral(pair.b)}`);
        assert.match(rolpassword, /^SCRAM-SHA-256\$4096:/);
        assert.ok(matchesVerifier(password, rolpassword));
        assert.ok(!matchesVerifier("Wrong-Pass-1x", rolpassword));
        assert.ok(!rolpassword.includes(password));
    });

    it("rotates the alternate role, keeps the old one working until its turn, then flips back", async () => {
        const pair = await newPair();
        const vault = new VaultDouble();
        await seedSecret(vault, "pg-full", pair);
        const service = serviceFor(vault);

        const first = await service.rotateNow("pg-full");
        assert.equal(first.outcome, "rotated", first.reason);
        assert.equal(first.credentialId, pair.b);
        const afterFirst = vault.latest("pg-full")!;
        assert.equal(roleOf(afterFirst.value), pair.b);
        assert.equal(afterFirst.tags?.CredentialId, pair.b);
        assert.equal(first.version, afterFirst.version);
        assert.ok(await logsIn(afterFirst.value), "the new credential logs in");
        assert.ok(await logsIn(uri(pair.a, INITIAL)), "the alternate keeps working until its turn");
        assert.ok(Math.abs(afterFirst.expiresOn!.getTime() - (Date.now() + 30 * 86_400_000)) < 60_000, "expires now + ValidityPeriodDays");

        const second = await service.rotateNow("pg-full");
        assert.equal(second.outcome, "rotated", second.reason);
        const afterSecond = vault.latest("pg-full")!;
        assert.equal(roleOf(afterSecond.value), pair.a);
        assert.ok(await logsIn(afterSecond.value));
        assert.ok(await logsIn(afterFirst.value), "the previous value still works after the flip");
        assert.equal(await logsIn(uri(pair.a, INITIAL)), false, "the value two rotations back is dead");
        await assertSettled(vault, "pg-full");
    });

    describe("fault injection: a thrown error between each pair of steps", () => {
        for (const point of FAILPOINTS) {
            it(`recovers from an error ${point}`, async () => {
                const pair = await newPair();
                const vault = new VaultDouble();
                const name = `pg-throw-${point}`;
                await seedSecret(vault, name, pair);
                const failed = await serviceFor(vault, (p) => {
                    if (p === point) throw new Error(`injected at ${p}`);
                }).rotateNow(name);
                assert.equal(failed.outcome, "failed");
                assert.ok(await logsIn(vault.latest(name)!.value), "right after the failure the current version logs in");
                const crash = await atFailure(vault, name, pair);

                const recovery = await serviceFor(vault).rotateNow(name);
                assert.equal(recovery.outcome, "resumed", recovery.reason);
                assert.equal(roleOf(vault.latest(name)!.value), pair.b);
                await assertSettled(vault, name);
                rows.push(await snapshot(vault, name, pair, point, "thrown error", crash, recovery.outcome));
            });
        }
    });

    describe("fault injection: the process is SIGKILLed between each pair of steps", () => {
        for (const point of FAILPOINTS) {
            it(`recovers from a kill ${point}`, async () => {
                const pair = await newPair();
                const file = join(dir, `${point}.json`);
                const name = `pg-kill-${point}`;
                await seedSecret(new VaultDouble(file), name, pair);

                const crashed = await runChild(file, name, point);
                assert.equal(crashed.signal, "SIGKILL", `child should die at ${point}: code ${crashed.code} ${crashed.stderr.slice(0, 500)}`);
                const vault = new VaultDouble(file);
                assert.ok(await logsIn(vault.latest(name)!.value), "right after the crash the current version logs in");
                assert.equal(vault.versions(pendingSecretName(name)).filter((v) => v.enabled).length, 1, "the crash left a pending marker");
                const crash = await atFailure(vault, name, pair);

                // One recovery runs in a fresh process, proving nothing lives outside the vault;
                // the others run in this process to keep the suite fast.
                let result: RotationResult;
                if (point === "after-provider") {
                    const recovered = await runChild(file, name, "none");
                    assert.equal(recovered.code, 0, recovered.stderr.slice(0, 500));
                    result = JSON.parse(recovered.stdout) as RotationResult;
                } else {
                    result = await serviceFor(vault).rotateNow(name);
                }
                assert.equal(result.outcome, "resumed", result.reason);
                assert.equal(roleOf(vault.latest(name)!.value), pair.b);
                await assertSettled(vault, name);
                rows.push(await snapshot(vault, name, pair, point, point === "after-provider" ? "SIGKILL, new process recovers" : "SIGKILL", crash, result.outcome));
            });
        }

        it("rolls back a killed rotation whose base version was replaced meanwhile", async () => {
            const pair = await newPair();
            const file = join(dir, "stale.json");
            const name = "pg-kill-stale";
            await seedSecret(new VaultDouble(file), name, pair);
            const crashed = await runChild(file, name, "after-provider");
            assert.equal(crashed.signal, "SIGKILL");
            // An operator re-saves the (still working) current value, e.g. to change its tags.
            const vault = new VaultDouble(file);
            const crash = await atFailure(vault, name, pair);
            const seeded = vault.latest(name)!;
            await vault.setSecret(name, seeded.value, { tags: seeded.tags });

            const result = await serviceFor(vault).rotateNow(name);
            assert.equal(result.outcome, "rolled-back", result.reason);
            assert.equal(roleOf(vault.latest(name)!.value), pair.a);
            await assertSettled(vault, name);
            rows.push(await snapshot(vault, name, pair, "after-provider, then the secret was re-saved", "SIGKILL", crash, result.outcome));
        });
    });
});
