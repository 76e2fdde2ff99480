/**
 * Environments the self-service server makes must pass the pack as the shipped stacks
 * do: each spec is turned into a stack config exactly as the server does it
 * (stackConfigFor with the example platform profile, then encodeStackConfig), the real
 * program runs on it under mocks on a stack named after the environment, and the pack
 * evaluates what it registered. A prod environment's open copy must still fail.
 */
import "../mocks";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { EnvironmentSpecSchema, stackConfigFor } from "../../automation/domain/spec";
import { encodeStackConfig } from "../../automation/engine/stackConfig";
import { runProgram } from "../../program";
import { installMockCloud, record, type RecordedResource } from "../mocks";
import { EXAMPLE_PROFILE, validSpec } from "../automation/domainFixtures";
import { describeViolations, evaluatePack, fromRecorded, mandatory, type Violation, withPath } from "@keyvault-platform/policy-pack/evaluate";

const GROUP = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const APP = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

/** One spec per tier, with every role the server lets a team grant in prod. */
const SPECS: Record<string, Record<string, unknown>> = {
    "payments-dev": validSpec(),
    "payments-staging": validSpec({ tier: "staging", cosmos: { enabled: true } }),
    "payments-prod": validSpec({
        tier: "prod",
        network: { allowedIpRanges: [], allowedSubnetIds: [] },
        cosmos: { enabled: true },
        access: [
            { principalId: GROUP, principalType: "Group", role: "administrator" },
            { principalId: APP, principalType: "ServicePrincipal", role: "secrets-user" },
            { principalId: APP, principalType: "ServicePrincipal", role: "crypto-service-encryption-user" },
        ],
    }),
};

async function runServerMade(name: string): Promise<RecordedResource[]> {
    const spec = EnvironmentSpecSchema.parse(SPECS[name]);
    const config = encodeStackConfig(stackConfigFor(name, spec, EXAMPLE_PROFILE));
    await installMockCloud("keyvault-platform", name, false);
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])));
    try {
        return (await record(() => { runProgram(); })).resources;
    } finally {
        await installMockCloud("keyvault-platform", "test", false);
    }
}

const evaluate = (resources: RecordedResource[]): Violation[] => {
    const { inputs, outputs } = fromRecorded(resources);
    return evaluatePack(inputs, outputs);
};

describe("server-made environments under the policy pack", function () {
    this.timeout(120_000);
    const runs = new Map<string, RecordedResource[]>();
    before(async () => {
        for (const name of Object.keys(SPECS)) runs.set(name, await runServerMade(name));
    });

    for (const name of Object.keys(SPECS)) {
        it(`${name} passes every mandatory policy`, () => {
            const rs = runs.get(name)!;
            assert.ok(rs.some((r) => r.type === "azure-native:keyvault:Vault"), `${name} registers no vault`);
            const vs = evaluate(rs);
            assert.deepEqual(mandatory(vs), [], describeViolations(vs));
        });
    }

    it("payments-prod is recognised as prod by its Tier tag (the stack name names no tier) and has its private endpoint", () => {
        const rs = runs.get("payments-prod")!;
        const app = rs.find((r) => r.type === "azure-native:keyvault:Vault" && !r.name.includes("cmk"))!;
        assert.equal(app.inputs.tags?.Tier, "prod");
        assert.ok(rs.some((r) => r.type === "azure-native:network:PrivateEndpoint"), "the profile's prod private endpoint is in the stack");
    });

    it("payments-prod with its private endpoint removed and public access on fails kv-prod-private-endpoint", () => {
        const rs = structuredClone(runs.get("payments-prod")!)
            .filter((r) => r.type !== "azure-native:network:PrivateEndpoint")
            .map((r) => (r.type === "azure-native:keyvault:Vault" && !r.name.includes("cmk")
                ? { ...r, inputs: withPath(r.inputs, "properties.publicNetworkAccess", "Enabled"), state: withPath(r.state, "properties.publicNetworkAccess", "Enabled") }
                : r));
        const ids = [...new Set(mandatory(evaluate(rs)).map((v) => v.policy))];
        assert.deepEqual(ids, ["kv-prod-private-endpoint"]);
    });
});
