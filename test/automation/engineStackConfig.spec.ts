import { strict as assert } from "node:assert";
import { rawStackConfig } from "../../config/load";
import { parseStackConfig, type StackConfigInput } from "../../config/schema";
import { AZURE_LOCATION_KEY, encodeStackConfig, staleConfigKeys } from "../../automation/engine/stackConfig";

/** What `pulumi.runtime.allConfig()` hands the program: every value as the string the CLI stored. */
function asRuntimeConfig(input: StackConfigInput): Record<string, string> {
    return Object.fromEntries(Object.entries(encodeStackConfig(input)).map(([k, v]) => [k, v.value]));
}

const full: StackConfigInput = {
    tier: "staging",
    location: "northeurope",
    namePrefix: "pay",
    softDeleteRetentionDays: 30,
    purgeProtection: true,
    roleAssignments: [{ principalId: "11111111-2222-3333-4444-555555555555", principalType: "Group", role: "secrets-user" }],
    allowedIpRanges: ["203.0.113.0/24"],
    allowedSubnetIds: [],
    cosmos: { enabled: true, keySize: 4096 },
    monitoring: { alertEmails: ["ops@example.com"], thresholds: { failedAuthorizations: 3 } },
    team: "payments",
    tags: { costCenter: "42", flag: "true" },
};

describe("stack config written by the engine", () => {
    it("round-trips through rawStackConfig and parseStackConfig to the same config", () => {
        assert.deepEqual(parseStackConfig(rawStackConfig(asRuntimeConfig(full))), parseStackConfig(full));
    });

    it("round-trips the minimal spec, leaving every default to the program", () => {
        const raw = rawStackConfig(asRuntimeConfig({ tier: "dev" }));
        assert.deepEqual(raw, { tier: "dev" });
        assert.deepEqual(parseStackConfig(raw), parseStackConfig({ tier: "dev" }));
    });

    it("keeps strings that look like JSON as strings", () => {
        for (const namePrefix of ["true", "null"]) {
            const raw = rawStackConfig(asRuntimeConfig({ tier: "dev", namePrefix }));
            assert.equal(raw.namePrefix, namePrefix);
        }
    });

    it("writes plain strings unquoted so Pulumi.<stack>.yaml stays readable", () => {
        assert.equal(encodeStackConfig({ tier: "prod" })["keyvault-platform:tier"].value, "prod");
    });

    it("sets the Azure provider's location from the spec, or the schema default", () => {
        assert.equal(encodeStackConfig(full)[AZURE_LOCATION_KEY].value, "northeurope");
        assert.equal(encodeStackConfig({ tier: "dev" })[AZURE_LOCATION_KEY].value, "westeurope");
        assert.ok(!("location" in rawStackConfig(asRuntimeConfig({ tier: "dev" }))), "the provider key stays out of the program's namespace");
    });

    it("marks no value secret (the schema has no secret keys) and skips undefined ones", () => {
        const map = encodeStackConfig({ tier: "dev", privateEndpoint: undefined });
        assert.ok(Object.values(map).every((v) => v.secret === false));
        assert.ok(!("keyvault-platform:privateEndpoint" in map));
    });

    it("finds namespace keys the new spec dropped, and only those", () => {
        const desired = encodeStackConfig({ tier: "dev" });
        const existing = ["keyvault-platform:tier", "keyvault-platform:cosmos", "azure-native:location", "azure-native:subscriptionId"];
        assert.deepEqual(staleConfigKeys(existing, desired), ["keyvault-platform:cosmos"]);
    });
});
