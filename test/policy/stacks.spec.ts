/**
 * The real program, evaluated under mocks from the real Pulumi.<stack>.yaml,
 * must pass the whole pack; copies broken in one place (in the stack config, or
 * in the inputs the engine would hand the analyzer) must fail with the policy
 * that guards that place, and only with it.
 */
import assert from "node:assert/strict";
import type { RecordedResource } from "../mocks";
import { runStack, StackName, STACKS } from "../stackRun";
import { describeViolations, evaluatePack, fromRecorded, mandatory, type Props, type Violation, withPath } from "@keyvault-platform/policy-pack/evaluate";

const VAULT = "azure-native:keyvault:Vault";
const KEY = "azure-native:keyvault:Key";
const COSMOS = "azure-native:cosmosdb:DatabaseAccount";
const DIAG = "azure-native:monitor:DiagnosticSetting";
const ROLE = "azure-native:authorization:RoleAssignment";
const OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

const evaluate = (resources: RecordedResource[]): Violation[] => {
    const { inputs, outputs } = fromRecorded(resources);
    return evaluatePack(inputs, outputs);
};

const mandatoryIds = (vs: Violation[]) => [...new Set(mandatory(vs).map((v) => v.policy))].sort();

function one(resources: RecordedResource[], type: string, pick: (r: RecordedResource) => boolean = () => true): RecordedResource {
    const hits = resources.filter((r) => r.type === type && pick(r));
    assert.equal(hits.length, 1, `expected one ${type}, found ${hits.map((h) => h.name).join(", ") || "none"}`);
    return hits[0];
}

const isAppVault = (r: RecordedResource) => !r.name.includes("cmk");
const isCmkKey = (r: RecordedResource) => r.name.includes("cmk");

/**
 * A copy of the recording with one resource's props changed the way a hand edit
 * of the program would change them: in its inputs and in the state the engine
 * reports back (the mocks echo inputs into state).
 */
function mutate(resources: RecordedResource[], target: RecordedResource, change: (props: Props) => Props): RecordedResource[] {
    return structuredClone(resources).map((r) => (r.urn === target.urn ? { ...r, inputs: change(r.inputs), state: change(r.state) } : r));
}

describe("the real stacks under the policy pack", function () {
    this.timeout(120_000);
    const runs = new Map<StackName, RecordedResource[]>();

    before(async () => {
        for (const stack of STACKS) runs.set(stack, (await runStack(stack)).resources);
    });

    const recorded = (stack: StackName) => runs.get(stack)!;

    for (const stack of STACKS) {
        it(`${stack} passes every mandatory policy`, () => {
            const vs = evaluate(recorded(stack));
            assert.deepEqual(mandatory(vs), [], describeViolations(vs));
        });
    }

    it("evaluates the policies on the resources that matter (vaults, keys, Cosmos DB, grants, diagnostics, private endpoint)", () => {
        const types = new Set(recorded("prod").map((r) => r.type));
        for (const t of [VAULT, KEY, COSMOS, DIAG, ROLE, "azure-native:network:PrivateEndpoint"]) assert.ok(types.has(t), `prod registers no ${t}`);
        assert.equal(one(recorded("prod"), VAULT, isAppVault).inputs.tags?.Tier, "prod", "the app vault's Tier tag names the tier");
    });

    describe("mutated in the inputs the analyzer sees", () => {
        it("prod with purge protection off on the app vault fails kv-purge-protection-prod", () => {
            const rs = recorded("prod");
            const broken = mutate(rs, one(rs, VAULT, isAppVault), (p) => withPath(p, "properties.enablePurgeProtection", false));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-purge-protection-prod"]);
        });

        it("staging with purge protection off on the CMK vault fails kv-purge-protection-cmk (staging is not prod, but the vault holds a CMK)", () => {
            const rs = recorded("staging");
            const broken = mutate(rs, one(rs, VAULT, (r) => !isAppVault(r)), (p) => withPath(p, "properties.enablePurgeProtection", undefined));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-purge-protection-cmk"]);
        });

        it("prod with soft delete off fails kv-soft-delete-enabled", () => {
            const rs = recorded("prod");
            const broken = mutate(rs, one(rs, VAULT, isAppVault), (p) => withPath(p, "properties.enableSoftDelete", false));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-soft-delete-enabled"]);
        });

        it("staging with the firewall's default action Allow fails kv-network-default-deny", () => {
            const rs = recorded("staging");
            const broken = mutate(rs, one(rs, VAULT, isAppVault), (p) => withPath(p, "properties.networkAcls.defaultAction", "Allow"));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-network-default-deny"]);
        });

        it("prod with public access re-opened on the private-endpoint vault fails kv-public-access-private-endpoint", () => {
            const rs = recorded("prod");
            const broken = mutate(rs, one(rs, VAULT, isAppVault), (p) => withPath(p, "properties.publicNetworkAccess", "Enabled"));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-public-access-private-endpoint"]);
        });

        it("prod with an Owner assignment on the app vault fails no-privileged-role-at-data-scope", () => {
            const rs = recorded("prod");
            const grant = rs.find((r) => r.type === ROLE && /\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i.test(String(r.inputs.scope)))!;
            assert.ok(grant, "prod grants a role on the app vault");
            const owner = (p: Props) => ({ ...p, roleDefinitionId: String(p.roleDefinitionId).replace(/[0-9a-f-]{36}$/i, OWNER) });
            const added: RecordedResource = { ...structuredClone(grant), name: `${grant.name}-owner`, urn: `${grant.urn}-owner`, inputs: owner(grant.inputs), state: owner(grant.state) };
            const vs = evaluate([...structuredClone(rs), added]);
            assert.deepEqual(mandatoryIds(vs), ["no-privileged-role-at-data-scope"]);
            assert.equal(mandatory(vs)[0].message.includes("Owner"), true);
        });

        it("staging with the CMK key's rotation policy removed fails kv-key-rotation-policy", () => {
            const rs = recorded("staging");
            const broken = mutate(rs, one(rs, KEY, isCmkKey), (p) => withPath(p, "properties.rotationPolicy", undefined));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-key-rotation-policy"]);
        });

        it("prod with Cosmos DB local auth re-enabled fails cosmos-disable-local-auth", () => {
            const rs = recorded("prod");
            const broken = mutate(rs, one(rs, COSMOS), (p) => withPath(p, "disableLocalAuth", false));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["cosmos-disable-local-auth"]);
        });

        it("staging with Cosmos DB pinned to a key version fails cosmos-cmk-versionless-key", () => {
            const rs = recorded("staging");
            const broken = mutate(rs, one(rs, COSMOS), (p) => withPath(p, "keyVaultKeyUri", `${p.keyVaultKeyUri}/0123456789abcdef0123456789abcdef`));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["cosmos-cmk-versionless-key"]);
        });

        it("prod with an RSA 2048 certificate fails kv-certificate-key-type", () => {
            const rs = recorded("prod");
            const broken = mutate(rs, one(rs, "azure:keyvault/certificate:Certificate"), (p) => withPath(p, "certificatePolicy.keyProperties.keySize", 2048));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-certificate-key-type"]);
        });

        it("staging with the CMK key's keyOps dropped and purge protection off still fails kv-purge-protection-cmk (Cosmos DB encrypts with it)", () => {
            const rs = recorded("staging");
            const noOps = mutate(rs, one(rs, KEY, isCmkKey), (p) => withPath(p, "properties.keyOps", undefined));
            const broken = mutate(noOps, one(noOps, VAULT, (r) => !isAppVault(r)), (p) => withPath(p, "properties.enablePurgeProtection", undefined));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-purge-protection-cmk"]);
        });

        it("prod with the app vault's private endpoint removed and public access on fails kv-prod-private-endpoint", () => {
            const rs = recorded("prod");
            const open = mutate(rs, one(rs, VAULT, isAppVault), (p) => withPath(p, "properties.publicNetworkAccess", "Enabled"))
                .filter((r) => r.type !== "azure-native:network:PrivateEndpoint");
            assert.deepEqual(mandatoryIds(evaluate(open)), ["kv-prod-private-endpoint"]);
        });

        it("dev without the app vault's diagnostic setting fails kv-diagnostic-audit-logs", () => {
            const rs = recorded("dev");
            const vault = one(rs, VAULT, isAppVault);
            const broken = structuredClone(rs).filter((r) => !(r.type === DIAG && String(r.inputs.resourceUri) === vault.id));
            assert.equal(broken.length, rs.length - 1, "dev has exactly one diagnostic setting on its vault");
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-diagnostic-audit-logs"]);
        });
    });

    describe("mutated in the stack config", () => {
        it("dev with enabledForDeployment on fails kv-enabled-for-flags", async () => {
            const rec = await runStack("dev", (raw) => { raw.enabledForDeployment = true; });
            assert.deepEqual(mandatoryIds(evaluate(rec.resources)), ["kv-enabled-for-flags"]);
        });

        it("dev on access policies fails kv-rbac-authorization", async () => {
            const rec = await runStack("dev", (raw) => {
                raw.authorizationMode = "accessPolicies";
                raw.roleAssignments = [];
                raw.accessPolicies = [{ objectId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", secrets: ["get", "list"] }];
            });
            assert.deepEqual(mandatoryIds(evaluate(rec.resources)), ["kv-rbac-authorization"]);
        });

        it("staging in eastus fails allowed-locations", async () => {
            const rec = await runStack("staging", (raw) => { raw.location = "eastus"; });
            assert.deepEqual(mandatoryIds(evaluate(rec.resources)), ["allowed-locations"]);
        });

        it("dev with a /12 firewall rule (refused by the stack config too; here edited into the program's inputs) fails kv-firewall-no-allow-all", async () => {
            const rec = (await runStack("dev")).resources;
            const vault = one(rec, VAULT, isAppVault);
            const broken = mutate(rec, vault, (p) => ({ ...p, properties: { ...p.properties, networkAcls: { ...p.properties.networkAcls, ipRules: [{ value: "20.0.0.0/12" }] } } }));
            assert.deepEqual(mandatoryIds(evaluate(broken)), ["kv-firewall-no-allow-all"]);
        });

        it("prod with a 36-month certificate fails kv-certificate-max-validity (the classic-provider certificate is checked)", async () => {
            const rec = await runStack("prod", (raw) => { (raw.certificates as Array<Record<string, unknown>>)[0].validityMonths = 36; });
            assert.deepEqual(mandatoryIds(evaluate(rec.resources)), ["kv-certificate-max-validity"]);
        });

        it("prod with a CMK rotated every three years fails kv-key-rotation-max-period", async () => {
            const rec = await runStack("prod", (raw) => { Object.assign(raw.cosmos as Record<string, unknown>, { keyExpiryDays: 1460, keyRotationDays: 1095 }); });
            assert.deepEqual(mandatoryIds(evaluate(rec.resources)), ["kv-key-rotation-max-period"]);
        });

        it("prod with a 2048-bit CMK passes the minimum but draws the advisory kv-cmk-key-recommended-size", async () => {
            const rec = await runStack("prod", (raw) => { (raw.cosmos as Record<string, unknown>).keySize = 2048; });
            const vs = evaluate(rec.resources);
            assert.deepEqual(mandatory(vs), [], describeViolations(vs));
            assert.ok(vs.some((v) => v.policy === "kv-cmk-key-recommended-size" && v.enforcementLevel === "advisory"), describeViolations(vs));
        });
    });
});
