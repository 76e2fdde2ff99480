import { strict as assert } from "node:assert";
import fc from "fast-check";
import { z } from "zod";
import { KEY_VAULT_ROLE_NAMES, PRINCIPAL_TYPES } from "@keyvault-platform/conventions";
import { parseStackConfig } from "../../config/schema";
import { PlatformNotConfiguredError, ValidationError } from "../../automation/domain/errors";
import { EMPTY_PROFILE, parsePlatformProfile } from "../../automation/domain/platformProfile";
import {
    EnvironmentNameSchema, EnvironmentSpecSchema, namePrefixFor, specHash, stackConfigFor,
} from "../../automation/domain/spec";
import { desired, EXAMPLE_PROFILE, GUID, validSpec } from "./domainFixtures";

const parseEnvironmentSpec = (name: string, body: unknown) => desired(name, body).spec;

function problemsOf(fn: () => unknown): Array<{ path: string; message: string }> {
    try {
        fn();
    } catch (e) {
        assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
        return e.problems;
    }
    return assert.fail("expected the spec to be refused");
}

const SUBNET = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/app";

describe("environment spec validation", () => {
    it("accepts the full example spec and a minimal one", () => {
        assert.equal(parseEnvironmentSpec("payments-dev", validSpec()).tier, "dev");
        assert.deepEqual(parseEnvironmentSpec("payments-dev", { tier: "dev", location: "westeurope", team: "payments" }), { tier: "dev", location: "westeurope", team: "payments" });
    });

    const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
        ["an unknown tier", validSpec({ tier: "qa" }), "tier", /one of "dev", "staging", "prod"/],
        ["a missing tier", (({ tier: _t, ...rest }) => rest)(validSpec()), "tier", /required/],
        ["a location with spaces", validSpec({ location: "West Europe" }), "location", /Azure region/],
        ["a team with capitals", validSpec({ team: "Payments" }), "team", /lowercase/],
        ["a missing team", (({ team: _t, ...rest }) => rest)(validSpec()), "team", /required/],
        ["a private IP range", validSpec({ network: { allowedIpRanges: ["10.0.0.0/8"] } }), "network.allowedIpRanges[0]", /private/],
        ["a CIDR with host bits", validSpec({ network: { allowedIpRanges: ["203.0.113.7/24"] } }), "network.allowedIpRanges[0]", /host bits/],
        ["a range wider than /16", validSpec({ network: { allowedIpRanges: ["52.0.0.0/12"] } }), "network.allowedIpRanges[0]", /wider than \/16/],
        ["a subnet id that is not an ARM subnet id", validSpec({ network: { allowedSubnetIds: ["subnet-1"] } }), "network.allowedSubnetIds[0]", /ARM subnet id/],
        ["an unknown network field", validSpec({ network: { publicAccess: true } }), "network.publicAccess", /not a known field/],
        ["a principal id that is not a GUID", validSpec({ access: [{ principalId: "alice", principalType: "User", role: "reader" }] }), "access[0].principalId", /GUID/],
        ["an unknown principal type", validSpec({ access: [{ principalId: GUID, principalType: "Robot", role: "reader" }] }), "access[0].principalType", /"User", "Group", "ServicePrincipal"/],
        ["a role outside the Key Vault table (Owner)", validSpec({ access: [{ principalId: GUID, principalType: "User", role: "owner" }] }), "access[0].role", /secrets-user/],
        ["the same grant twice", validSpec({ access: [{ principalId: GUID, principalType: "User", role: "reader" }, { principalId: GUID, principalType: "User", role: "reader" }] }), "access[1]", /twice/],
        ["cosmos without enabled", validSpec({ cosmos: {} }), "cosmos.enabled", /required/],
        ["cosmos enabled as a string", validSpec({ cosmos: { enabled: "yes" } }), "cosmos.enabled", /must be a boolean/],
        ["a bad alert e-mail", validSpec({ alerts: { emails: ["ops-at-example"] } }), "alerts.emails[0]", /e-mail/],
        ["an empty alert list", validSpec({ alerts: { emails: [] } }), "alerts.emails", /at least 1/],
        ["a TTL of zero", validSpec({ ttlHours: 0 }), "ttlHours", /at least 1/],
        ["a TTL above 30 days", validSpec({ ttlHours: 721 }), "ttlHours", /at most 720/],
        ["a fractional TTL", validSpec({ ttlHours: 1.5 }), "ttlHours", /int/],
        ["an unknown top-level field", validSpec({ purgeProtection: false }), "purgeProtection", /not a known field/],
        ["a misspelled field", (({ tier, ...rest }) => ({ ...rest, teir: tier }))(validSpec()), "teir", /did you mean "tier"\?/],
        ["a region the platform does not allow for the tier", validSpec({ location: "eastus2" }), "location", /"westeurope", "northeurope" \(the platform's regions for dev\)/],
        ["firewall rules in prod, where the private endpoint makes them void (a stack-config rule)", validSpec({ tier: "prod" }), "network.allowedIpRanges", /no effect with a private endpoint/],
    ];
    for (const [what, body, path, message] of bad) {
        it(`refuses ${what}, naming ${path}`, () => {
            const problems = problemsOf(() => parseEnvironmentSpec("payments-dev", body));
            const hit = problems.find((p) => p.path === path);
            assert.ok(hit, `expected a problem at ${path}, got ${JSON.stringify(problems)}`);
            assert.match(hit.message, message);
        });
    }

    it("refuses a body that is not an object", () => {
        for (const body of [null, "spec", 42, []]) {
            assert.ok(problemsOf(() => parseEnvironmentSpec("payments-dev", body)).length > 0, `${JSON.stringify(body)} should be refused`);
        }
    });
});

describe("environment names", () => {
    for (const good of ["abc", "payments-dev", "a1-b2-c3", "x".repeat(24)]) {
        it(`accepts ${good}`, () => assert.equal(EnvironmentNameSchema.parse(good), good));
    }
    for (const bad of ["ab", "x".repeat(25), "1abc", "-abc", "abc-", "ab--cd", "Payments", "pay_ments", "pay.ments", "", "päy"]) {
        it(`refuses ${JSON.stringify(bad)}`, () => {
            const result = EnvironmentNameSchema.safeParse(bad);
            assert.equal(result.success, false);
            assert.match(result.error!.issues[0].message, /lowercase|must be/);
        });
    }
});

describe("environment names are namespaced by team", () => {
    it("refuses a name that does not start with the spec's team, whatever else is right", () => {
        assert.deepEqual(problemsOf(() => desired("billing-dev", validSpec())).map((p) => p.path), ["name"]);
        assert.match(problemsOf(() => desired("paymentsdev", validSpec()))[0].message, /must start with the team's name and a hyphen \(payments-\)/);
        assert.equal(desired("payments-x", validSpec()).name, "payments-x");
    });
});

describe("spec to stack config", () => {
    it("maps every spec field onto the stack config, with what the profile sets for the tier", () => {
        const config = desired("payments-dev", validSpec({
            tier: "staging", cosmos: { enabled: true }, network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [SUBNET] },
        })).config;
        assert.equal(config.tier, "staging");
        assert.equal(config.team, "payments");
        assert.equal(config.managedBy, "keyvault-platform-server");
        assert.equal(config.location, "westeurope");
        assert.deepEqual(config.roleAssignments, [{ principalId: GUID, principalType: "Group", role: "secrets-user" }]);
        assert.deepEqual(config.allowedIpRanges, ["203.0.113.0/24"]);
        assert.deepEqual(config.allowedSubnetIds, [SUBNET]);
        assert.deepEqual(config.cosmos, { enabled: true });
        assert.deepEqual(config.monitoring, { alertEmails: ["ops@example.com"], workspaceId: EXAMPLE_PROFILE.tiers.staging!.logAnalyticsWorkspaceId });
        assert.deepEqual(config.tags, { CostCenter: "platform-staging" });
        assert.equal(config.privateEndpoint, undefined);
        assert.equal(config.namePrefix, namePrefixFor("payments-dev"));
    });

    it("gives a prod spec the profile's private endpoint, DNS zone, rotation subnet and alert receivers", () => {
        const config = desired("payments-prod", { tier: "prod", location: "westeurope", team: "payments" }).config;
        assert.deepEqual(config.privateEndpoint, EXAMPLE_PROFILE.tiers.prod!.privateEndpoint);
        assert.match(config.privateEndpoint!.privateDnsZoneId!, /privatelink\.vaultcore\.azure\.net$/);
        assert.deepEqual(config.monitoring!.alertEmails, ["platform-oncall@example.com"]);
        assert.equal(config.rotation!.subnetId, EXAMPLE_PROFILE.tiers.prod!.rotationSubnetId);
        assert.equal(parseStackConfig(config).purgeProtection, true);
    });

    it("refuses prod with 422-class error naming the profile key when the profile has no prod network", () => {
        assert.throws(() => desired("payments-prod", { tier: "prod", location: "westeurope", team: "payments", alerts: { emails: ["ops@example.com"] } }, EMPTY_PROFILE),
            (e: unknown) => e instanceof PlatformNotConfiguredError && e.problems.some((p) => p.path === "tiers.prod.privateEndpoint") && /platform profile/.test(e.message));
    });

    it("still names the client's field when both the spec and the profile fall short", () => {
        const problems = problemsOf(() => desired("payments-prod", { tier: "prod", location: "westeurope", team: "payments" }, parsePlatformProfile({ tiers: { prod: { privateEndpoint: EXAMPLE_PROFILE.tiers.prod!.privateEndpoint } } })));
        assert.deepEqual(problems.map((p) => p.path), ["alerts.emails"]);
        assert.match(problems[0].message, /at least one address in prod/);
    });

    it("changes the desired-state hash when only the profile changes, so a re-PUT applies it", () => {
        const spec = validSpec();
        const before = desired("payments-dev", spec).hash;
        const after = desired("payments-dev", spec, parsePlatformProfile({ tiers: { dev: { tags: { CostCenter: "new" } } } })).hash;
        assert.notEqual(before, after);
        assert.equal(desired("payments-dev", spec).hash, before);
    });

    it("derives distinct valid name prefixes for names that share a beginning", () => {
        const a = namePrefixFor("payments-dev-a");
        const b = namePrefixFor("payments-dev-b");
        assert.notEqual(a, b);
        for (const p of [a, b, namePrefixFor("abc")]) assert.match(p, /^[a-z][a-z0-9]{1,7}$/);
    });

    const ipRange = fc.tuple(fc.integer({ min: 1, max: 99 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `${a === 10 ? 11 : a}.${b}.7.0/24`)
        .filter((r) => !/^(100\.|127\.)/.test(r));
    const specArb = fc.record({
        tier: fc.constantFrom("dev", "staging", "prod"),
        location: fc.constantFrom("westeurope", "northeurope", "eastus2"),
        team: fc.stringMatching(/^[a-z][a-z0-9-]{1,31}$/),
        network: fc.record({ allowedIpRanges: fc.uniqueArray(ipRange, { maxLength: 5 }), allowedSubnetIds: fc.constantFrom([], [SUBNET]) }, { requiredKeys: [] }),
        access: fc.uniqueArray(
            fc.record({ principalId: fc.uuid(), principalType: fc.constantFrom(...PRINCIPAL_TYPES), role: fc.constantFrom(...KEY_VAULT_ROLE_NAMES) }),
            { maxLength: 6, selector: (a) => `${a.principalId}|${a.role}` },
        ),
        cosmos: fc.record({ enabled: fc.boolean() }),
        alerts: fc.record({ emails: fc.uniqueArray(fc.constantFrom("ops@example.com", "sec@example.org", "a.b@corp.example.net"), { minLength: 1 }) }),
        ttlHours: fc.integer({ min: 1, max: 720 }),
    }, { requiredKeys: ["tier", "location", "team"] });
    const nameArb = fc.array(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 1, maxLength: 4 })
        .map((parts) => parts.join("-"))
        .filter((n) => n.length >= 3 && n.length <= 24);

    it("always yields a config parseStackConfig accepts, for any spec the schema and the example profile accept", () => {
        let checked = 0;
        fc.assert(fc.property(nameArb, specArb, (name, raw) => {
            const result = EnvironmentSpecSchema.safeParse(raw);
            assert.ok(result.success, JSON.stringify(raw));
            const spec = result.data;
            // The two rules the merge adds: the tier's regions, and no firewall rules beside prod's private endpoint.
            const firewall = (spec.network?.allowedIpRanges?.length ?? 0) + (spec.network?.allowedSubnetIds?.length ?? 0) > 0;
            const acceptable = spec.location !== "eastus2" && !(spec.tier === "prod" && firewall);
            let config;
            try {
                config = stackConfigFor(name, spec, EXAMPLE_PROFILE);
            } catch (e) {
                assert.ok(!acceptable, `refused an acceptable spec ${JSON.stringify(raw)}: ${String(e)}`);
                assert.ok(e instanceof ValidationError);
                return;
            }
            assert.ok(acceptable, `accepted ${JSON.stringify(raw)}`);
            checked++;
            const parsed = parseStackConfig(config);
            assert.equal(parsed.tier, spec.tier);
            assert.equal(parsed.roleAssignments.length, spec.access?.length ?? 0);
        }), { numRuns: 300 });
        assert.ok(checked > 100, `only ${checked} generated specs were valid`);
    });

    it("hashes equal specs equally regardless of key order, and different specs differently", () => {
        const a = validSpec();
        const reordered = Object.fromEntries(Object.entries(a).reverse());
        assert.equal(specHash(a), specHash(reordered));
        assert.notEqual(specHash(a), specHash(validSpec({ ttlHours: 73 })));
        assert.match(specHash(a), /^[0-9a-f]{64}$/);
    });

    it("converts to an OpenAPI-ready JSON schema with descriptions, examples and no extra fields", () => {
        const schema = z.toJSONSchema(EnvironmentSpecSchema) as { additionalProperties?: boolean; required?: string[]; properties: Record<string, { description?: string }>; example?: unknown };
        assert.equal(schema.additionalProperties, false);
        assert.deepEqual([...(schema.required ?? [])].sort(), ["location", "team", "tier"]);
        for (const [field, prop] of Object.entries(schema.properties)) assert.ok(prop.description, `${field} has no description`);
        assert.doesNotThrow(() => parseEnvironmentSpec("payments-dev", schema.example));
    });
});
