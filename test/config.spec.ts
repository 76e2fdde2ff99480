import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, rawStackConfig } from "../config/load";
import { TIER_DEFAULTS, parseStackConfig, STACK_CONFIG_KEYS, StackConfigError } from "../config/schema";
import { asPulumiConfig, projectFile, rawConfigFor, STACKS } from "./stackRun";

const SUBNET = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s";
const GUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

/** Parses a devlike config with one change and returns the single problem it must produce. */
function problemsFor(change: Record<string, unknown>) {
    try {
        parseStackConfig({ tier: "dev", ...change });
    } catch (e) {
        assert.ok(e instanceof StackConfigError, `expected StackConfigError, got ${e}`);
        return e.problems;
    }
    assert.fail(`config ${JSON.stringify(change)} was accepted`);
}

describe("stack config schema", () => {
    describe("refuses bad config, naming the key, the value and what is allowed", () => {
        const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
            ["an unknown tier", { tier: "qa" }, "tier", /"dev", "staging", "prod"/],
            ["a missing tier", { tier: undefined }, "tier", /required/],
            ["prod without a private endpoint", { tier: "prod", monitoring: { alertEmails: ["ops@example.com"] } }, "privateEndpoint", /required in prod/],
            ["an extra tag that would override an ownership tag", { tags: { tier: "prod" } }, "tags.tier", /set by the platform/],
            ["a team with capitals", { team: "Payments" }, "team", /lowercase/],
            ["an unknown manager", { managedBy: "terraform" }, "managedBy", /"keyvault-platform", "keyvault-platform-server"/],
            ["retention above 90 days", { softDeleteRetentionDays: 120 }, "softDeleteRetentionDays", /at most 90/],
            ["retention below 7 days", { softDeleteRetentionDays: 3 }, "softDeleteRetentionDays", /at least 7/],
            ["a fractional retention", { softDeleteRetentionDays: 30.5 }, "softDeleteRetentionDays", /int/],
            ["purge protection off in prod", { tier: "prod", purgeProtection: false }, "purgeProtection", /cannot be false in prod/],
            ["prod without alert receivers", { tier: "prod" }, "monitoring.alertEmails", /at least one address in prod/],
            ["an unknown SKU", { vaultSku: "gold" }, "vaultSku", /"standard", "premium"/],
            ["an unknown authorization mode", { authorizationMode: "acl" }, "authorizationMode", /"rbac", "accessPolicies"/],
            ["a non-CIDR IP rule", { allowedIpRanges: ["not-an-ip"] }, "allowedIpRanges[0]", /IPv4 address or CIDR/],
            ["a private IP range", { allowedIpRanges: ["10.1.0.0/16"] }, "allowedIpRanges[0]", /private \(RFC 1918\)/],
            ["a CIDR with host bits", { allowedIpRanges: ["203.0.113.7/24"] }, "allowedIpRanges[0]", /203\.0\.113\.0\/24/],
            ["a range wider than /16", { allowedIpRanges: ["52.0.0.0/12"] }, "allowedIpRanges[0]", /wider than \/16/],
            ["a subnet id that is a VNet id", { allowedSubnetIds: [SUBNET.replace(/\/subnets\/s$/, "")] }, "allowedSubnetIds[0]", /ARM subnet id/],
            ["a role grant with a non-GUID principal", { roleAssignments: [{ principalId: "alice", principalType: "User", role: "reader" }] }, "roleAssignments[0].principalId", /GUID/],
            ["an Owner grant", { roleAssignments: [{ principalId: GUID, principalType: "User", role: "owner" }] }, "roleAssignments[0].role", /secrets-user/],
            ["an unknown principal type", { roleAssignments: [{ principalId: GUID, principalType: "App", role: "reader" }] }, "roleAssignments[0].principalType", /"User", "Group", "ServicePrincipal"/],
            ["the same grant twice", { roleAssignments: [{ principalId: GUID, principalType: "User", role: "reader" }, { principalId: GUID.toUpperCase(), principalType: "User", role: "reader" }] }, "roleAssignments[1]", /twice/],
            ["an access policy granting all", { authorizationMode: "accessPolicies", accessPolicies: [{ objectId: GUID, secrets: ["all"] }] }, "accessPolicies[0].secrets[0]", /never granted/],
            ["an access policy granting purge", { authorizationMode: "accessPolicies", accessPolicies: [{ objectId: GUID, keys: ["get", "purge"] }] }, "accessPolicies[0].keys[1]", /never granted/],
            ["access policies on an RBAC vault", { accessPolicies: [{ objectId: GUID, secrets: ["get"] }] }, "accessPolicies", /authorizationMode is accessPolicies/],
            ["a data-plane role on an access-policy vault", { authorizationMode: "accessPolicies", roleAssignments: [{ principalId: GUID, principalType: "User", role: "secrets-user" }] }, "roleAssignments", /use accessPolicies/],
            ["a private DNS zone for another service", { privateEndpoint: { subnetId: SUBNET, privateDnsZoneId: "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net" } }, "privateEndpoint.privateDnsZoneId", /privatelink\.vaultcore\.azure\.net/],
            ["firewall rules next to a private endpoint", { privateEndpoint: { subnetId: SUBNET }, allowedIpRanges: ["203.0.113.0/24"] }, "allowedIpRanges", /no effect with a private endpoint/],
            ["a Cosmos key size of 1024", { cosmos: { enabled: true, keySize: 1024 } }, "cosmos.keySize", /2048, 3072, 4096/],
            ["a Cosmos rotation after expiry", { cosmos: { enabled: true, keyRotationDays: 400, keyExpiryDays: 365 } }, "cosmos.keyRotationDays", /less than keyExpiryDays/],
            ["an unknown consistency level", { cosmos: { consistencyLevel: "Linearizable" } }, "cosmos.consistencyLevel", /"Session"/],
            ["a bad alert e-mail", { monitoring: { alertEmails: ["ops at example"] } }, "monitoring.alertEmails[0]", /e-mail address/],
            ["a zero alert threshold", { monitoring: { thresholds: { unusualAccessPerCallerIp: 0 } } }, "monitoring.thresholds.unusualAccessPerCallerIp", /at least 1/],
            ["a workspace id of another type", { monitoring: { workspaceId: SUBNET } }, "monitoring.workspaceId", /Log Analytics workspace id/],
            ["a reserved tag name", { tags: { "microsoft-owner": "x" } }, "tags.microsoft-owner", /reserved/],
            ["a misspelled key", { purgeProtecton: true }, "purgeProtecton", /not a known field; did you mean "purgeProtection"\?/],
            ["a misspelled nested key", { cosmos: { enabeld: true } }, "cosmos.enabeld", /did you mean "enabled"\?/],
            ["a region with spaces", { location: "West Europe" }, "location", /region name/],
            ["a five-field timer schedule", { rotation: { enabled: true, schedule: "0 3 * * *", postgresServerIds: [SUBNET] } }, "rotation.schedule", /six-field NCRONTAB/],
            ["rotation behind a private endpoint without VNet integration", { privateEndpoint: { subnetId: SUBNET }, rotation: { enabled: true, postgresServerIds: [SUBNET] } }, "rotation.subnetId", /VNet integration/],
            ["rotation without targets", { rotation: { enabled: true } }, "rotation", /names no target/],
            ["CSI without an OIDC issuer", { secretsStoreCsi: { enabled: true } }, "secretsStoreCsi.oidcIssuerUrl", /required/],
            ["a certificate without contacts", { certificates: [{ name: "tls", subject: "CN=a.example.com" }] }, "certificateContactEmails", /at least one address/],
        ];
        for (const [what, change, key, allowed] of cases) {
            it(`refuses ${what}`, () => {
                const problems = problemsFor(change);
                const p = problems.find((x) => x.path === key);
                assert.ok(p, `no problem reported for ${key}; got ${JSON.stringify(problems)}`);
                assert.match(p.message, allowed);
            });
        }

        it("reports the offending value next to the key", () => {
            const [p] = problemsFor({ softDeleteRetentionDays: 120 });
            assert.equal(p.value, 120);
            assert.throws(() => parseStackConfig({ tier: "dev", softDeleteRetentionDays: 120 }), /keyvault-platform:softDeleteRetentionDays: must be at most 90 \(got 120\)/);
        });

        it("reports every problem at once rather than the first", () => {
            const problems = problemsFor({ vaultSku: "gold", authorizationMode: "acl", location: "West Europe" });
            assert.deepEqual(problems.map((p) => p.path).sort(), ["authorizationMode", "location", "vaultSku"]);
        });
    });

    describe("tier defaults", () => {
        it("gives dev 7-day retention and no purge protection", () => {
            const c = parseStackConfig({ tier: "dev" });
            assert.equal(c.softDeleteRetentionDays, 7);
            assert.equal(c.purgeProtection, false);
        });

        it("gives staging and prod 90-day retention and purge protection", () => {
            for (const env of ["staging", "prod"] as const) {
                const c = parseStackConfig({ tier: env, privateEndpoint: { subnetId: SUBNET }, monitoring: { alertEmails: ["ops@example.com"] } });
                assert.equal(c.softDeleteRetentionDays, 90, env);
                assert.equal(c.purgeProtection, true, env);
            }
        });

        it("lets an explicit value override the tier default", () => {
            const c = parseStackConfig({ tier: "staging", softDeleteRetentionDays: 30 });
            assert.equal(c.softDeleteRetentionDays, 30);
        });

        it("keeps Cosmos public network access off outside dev", () => {
            assert.equal(parseStackConfig({ tier: "dev" }).cosmos.publicNetworkAccess, "Enabled");
            assert.equal(parseStackConfig({ tier: "staging" }).cosmos.publicNetworkAccess, "Disabled");
            assert.equal(parseStackConfig({ tier: "prod", privateEndpoint: { subnetId: SUBNET }, monitoring: { alertEmails: ["ops@example.com"] } }).cosmos.publicNetworkAccess, "Disabled");
        });

        it("defaults Cosmos locations to the stack location", () => {
            assert.deepEqual(parseStackConfig({ tier: "dev", location: "northeurope" }).cosmos.locations, ["northeurope"]);
        });

        it("retains audit logs 365 days in prod, matching Azure Policy's parameter", () => {
            assert.equal(parseStackConfig({ tier: "prod", privateEndpoint: { subnetId: SUBNET }, monitoring: { alertEmails: ["ops@example.com"] } }).monitoring.retentionDays, 365);
            assert.equal(TIER_DEFAULTS.prod.logRetentionDays, 365);
        });
    });

    describe("Pulumi.yaml", () => {
        const declared = projectFile().config;

        it("declares every schema key with a description", () => {
            for (const key of STACK_CONFIG_KEYS) {
                assert.ok(declared[key], `Pulumi.yaml does not declare ${key}`);
                assert.ok((declared[key].description ?? "").length > 10, `${key} has no useful description`);
            }
        });

        it("declares no key the schema does not know", () => {
            for (const key of Object.keys(declared)) assert.ok((STACK_CONFIG_KEYS as string[]).includes(key), `${key} is declared but not in the schema`);
        });

        it("declares only defaults the schema itself would choose", () => {
            const withDefaults = Object.fromEntries(Object.entries(declared).filter(([, d]) => d.default !== undefined).map(([k, d]) => [k, d.default]));
            const fromYaml = parseStackConfig({ tier: "staging", ...withDefaults });
            const fromSchema = parseStackConfig({ tier: "staging" });
            assert.deepEqual(fromYaml, fromSchema);
        });

        it("never declares a default for tier-dependent settings", () => {
            for (const key of ["softDeleteRetentionDays", "purgeProtection", "tier"]) {
                assert.equal(declared[key].default, undefined, `${key} must not have a project-wide default`);
            }
        });
    });

    describe("every real stack file", () => {
        for (const stack of STACKS) {
            it(`validates Pulumi.${stack}.yaml as Pulumi would pass it`, () => {
                const c = parseStackConfig(rawStackConfig(asPulumiConfig(rawConfigFor(stack))));
                assert.equal(c.tier, stack);
            });
        }

        it("turns every feature on in prod", () => {
            const c = parseStackConfig(rawStackConfig(asPulumiConfig(rawConfigFor("prod"))));
            assert.equal(c.cosmos.enabled, true);
            assert.equal(c.rotation.enabled, true);
            assert.equal(c.secretsStoreCsi.enabled, true);
            assert.ok(c.privateEndpoint, "prod has a private endpoint");
            assert.ok(c.certificates.length > 0);
            assert.ok(c.monitoring.alertEmails.length > 0);
            assert.ok(c.roleAssignments.length >= 3);
        });
    });

    describe("loadStackConfig", () => {
        afterEach(() => pulumi.runtime.setAllConfig({}));

        it("decodes Pulumi's string-encoded values back to typed ones", () => {
            const raw = rawStackConfig({ "keyvault-platform:softDeleteRetentionDays": "30", "keyvault-platform:purgeProtection": "true", "keyvault-platform:location": "westeurope", "other:key": "ignored" });
            assert.deepEqual(raw, { softDeleteRetentionDays: 30, purgeProtection: true, location: "westeurope" });
        });

        it("ends the program with a RunError that names the bad key", () => {
            pulumi.runtime.setAllConfig({ "keyvault-platform:tier": "qa" });
            assert.throws(() => loadStackConfig(), (e: unknown) => e instanceof pulumi.RunError && /keyvault-platform:tier: must be one of "dev", "staging", "prod" \(got "qa"\)/.test((e as Error).message));
        });

        it("returns the resolved config for a good stack", () => {
            pulumi.runtime.setAllConfig(asPulumiConfig(rawConfigFor("dev")));
            const c = loadStackConfig();
            assert.equal(c.tier, "dev");
            assert.deepEqual(c.allowedIpRanges, ["203.0.113.0/24"]);
        });
    });
});
