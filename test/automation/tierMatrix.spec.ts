/**
 * Every tier and every feature a spec can ask for, through the same path as the server:
 * the spec is parsed at the edge and merged with a platform profile into a stack config,
 * that config is encoded as the engine hands it to the program, the real program runs
 * under mocks, and the policy pack checks what it registered.
 *
 * For each combination the test asserts that the program accepts the config, that no
 * mandatory policy fails, and that every taggable Azure resource carries the four
 * ownership tags. The combinations the platform must refuse are refused at the edge,
 * with the status and field a client would see.
 */
import "../mocks";
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { installMockCloud, record, type RecordedResource } from "../mocks";
import { runProgram } from "../../program";
import { encodeStackConfig } from "../../automation/engine/stackConfig";
import { EMPTY_PROFILE, type PlatformProfile } from "../../automation/domain/platformProfile";
import { PlatformNotConfiguredError, ValidationError } from "../../automation/domain/errors";
import { TAG_KEYS } from "@keyvault-platform/conventions";
import { describeViolations, evaluatePack, fromRecorded, mandatory } from "@keyvault-platform/policy-pack/evaluate";
import { desired, EXAMPLE_PROFILE, GUID } from "./domainFixtures";

/**
 * Azure resource types whose ARM resource takes tags. A type the program registers that
 * is on neither list fails the test, so a new resource type forces a decision.
 */
const TAGGABLE = new Set([
    "azure-native:resources:ResourceGroup",
    "azure-native:keyvault:Vault",
    "azure-native:keyvault:Key",
    "azure-native:cosmosdb:DatabaseAccount",
    "azure-native:operationalinsights:Workspace",
    "azure-native:monitor:ActionGroup",
    "azure-native:monitor:MetricAlert",
    "azure-native:monitor:ScheduledQueryRule",
    "azure-native:network:PrivateEndpoint",
    "azure-native:privatedns:PrivateZone",
    "azure-native:privatedns:VirtualNetworkLink",
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:eventgrid:SystemTopic",
    "azure-native:storage:StorageAccount",
    "azure-native:web:AppServicePlan",
    "azure-native:web:WebApp",
    "azure:keyvault/certificate:Certificate",
]);
/** Types that ARM (or Kubernetes) gives no tags, and the program's own components and providers. */
const UNTAGGABLE = [
    /^keyvault-platform:/, /^pulumi:providers:/, /^random:/, /^kubernetes:/,
    /^azure-native:authorization:RoleAssignment$/, /^azure-native:monitor:DiagnosticSetting$/,
    /^azure-native:network:PrivateDnsZoneGroup$/, /^azure-native:eventgrid:SystemTopicEventSubscription$/,
    /^azure-native:managedidentity:FederatedIdentityCredential$/, /^azure-native:storage:BlobContainer$/,
    /^azure-native:web:WebApp(Ftp|Scm)Allowed$/, /^azure:keyvault\/certificateContacts:/, /^azure:storage\/blob:Blob$/,
];

const TIERS = ["dev", "staging", "prod"] as const;
const PROFILES: ReadonlyArray<[string, PlatformProfile]> = [["example profile", EXAMPLE_PROFILE], ["no profile", EMPTY_PROFILE]];

interface Features { cosmos: boolean; access: boolean; network: boolean }
const FEATURES: Features[] = [];
for (const cosmos of [false, true]) for (const access of [false, true]) for (const network of [false, true]) FEATURES.push({ cosmos, access, network });

const label = (f: Features) => [f.cosmos ? "cosmos" : "no cosmos", f.access ? "grants" : "no grants", f.network ? "firewall rules" : "no firewall rules"].join(", ");

function specFor(tier: (typeof TIERS)[number], f: Features): Record<string, unknown> {
    return {
        tier, location: "westeurope", team: "payments",
        cosmos: { enabled: f.cosmos },
        ...(f.access ? {
            access: [
                { principalId: GUID, principalType: "Group", role: "secrets-user" },
                { principalId: "0b7f2a4c-9d1e-4f3a-8b6c-5e2d1a0f9c8b", principalType: "ServicePrincipal", role: "crypto-user" },
            ],
        } : {}),
        ...(f.network ? { network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: ["/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-app/subnets/snet-app"] } } : {}),
        // Prod needs alert receivers; the example profile has them, and without a profile the spec must name them.
        ...(tier === "prod" ? { alerts: { emails: ["ops@example.com"] } } : {}),
    };
}

/** What the platform must refuse, and how; undefined when the combination is served. */
function refusal(tier: string, f: Features, profile: PlatformProfile): { error: typeof ValidationError | typeof PlatformNotConfiguredError; field: string } | undefined {
    if (tier !== "prod") return undefined;
    if (!profile.tiers.prod?.privateEndpoint) return { error: PlatformNotConfiguredError, field: "tiers.prod.privateEndpoint" };
    // Behind a private endpoint public access is off, so firewall rules would be a promise the vault cannot keep.
    if (f.network) return { error: ValidationError, field: "network.allowedIpRanges" };
    return undefined;
}

/** Runs the real program on a stack config exactly as the engine would hand it over. */
async function runConfig(stack: string, config: Record<string, { value: string; secret?: boolean }>): Promise<{ resources: RecordedResource[]; outputs: Record<string, unknown> }> {
    await installMockCloud("keyvault-platform", stack, false);
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])));
    let outputs: Record<string, pulumi.Output<unknown>> = {};
    const rec = await record(() => {
        outputs = runProgram();
    });
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(outputs)) resolved[k] = await new Promise<unknown>((resolve) => v.apply((x) => resolve(x)));
    return { resources: rec.resources, outputs: resolved };
}

describe("every tier and feature, from a spec through the real program and the policy pack", function () {
    this.timeout(120_000);
    after(() => installMockCloud("keyvault-platform", "test", false));

    for (const tier of TIERS) {
        for (const [profileName, profile] of PROFILES) {
            for (const f of FEATURES) {
                const name = `payments-${tier}`;
                const refused = refusal(tier, f, profile);
                if (refused) {
                    it(`${tier}, ${profileName}, ${label(f)}: refused at the edge, naming ${refused.field}`, () => {
                        assert.throws(() => desired(name, specFor(tier, f), profile), (e: unknown) => {
                            assert.ok(e instanceof refused.error, `expected ${refused.error.name}, got ${String(e)}`);
                            assert.deepEqual(e.problems.map((p) => p.path), [refused.field]);
                            return true;
                        });
                    });
                    continue;
                }
                it(`${tier}, ${profileName}, ${label(f)}: runs, passes every mandatory policy, tags every resource`, async () => {
                    const d = desired(name, specFor(tier, f), profile);
                    const { resources, outputs } = await runConfig(name, encodeStackConfig(d.config));

                    const { inputs, outputs: state } = fromRecorded(resources);
                    const violations = evaluatePack(inputs, state);
                    assert.deepEqual(mandatory(violations), [], describeViolations(violations));

                    let tagged = 0;
                    for (const r of resources) {
                        if (!TAGGABLE.has(r.type)) {
                            assert.ok(UNTAGGABLE.some((p) => p.test(r.type)), `${r.type} is on neither the taggable nor the untaggable list`);
                            continue;
                        }
                        tagged++;
                        const tags = r.inputs.tags as Record<string, string> | undefined;
                        assert.ok(tags, `${r.type} ${r.name} has no tags`);
                        assert.equal(tags[TAG_KEYS.team], "payments", `${r.type} ${r.name}`);
                        assert.equal(tags[TAG_KEYS.environment], name, `${r.type} ${r.name}`);
                        assert.equal(tags[TAG_KEYS.tier], tier, `${r.type} ${r.name}`);
                        assert.equal(tags[TAG_KEYS.managedBy], "keyvault-platform-server", `${r.type} ${r.name}`);
                        const extra = profile.tiers[tier]?.tags ?? {};
                        for (const [k, v] of Object.entries(extra)) assert.equal(tags[k], v, `${r.type} ${r.name} lacks the profile's ${k} tag`);
                    }
                    assert.ok(tagged >= 8, `only ${tagged} taggable resources`);

                    const ofType = (t: string) => resources.filter((r) => r.type === t);
                    assert.equal(ofType("azure-native:cosmosdb:DatabaseAccount").length, f.cosmos ? 1 : 0, "Cosmos DB only when asked for");
                    const grants = ofType("azure-native:authorization:RoleAssignment").filter((r) => [GUID, "0b7f2a4c-9d1e-4f3a-8b6c-5e2d1a0f9c8b"].includes(String(r.inputs.principalId)));
                    assert.equal(grants.length, f.access ? 2 : 0, "one role assignment per grant in the spec");
                    const vault = resources.find((r) => r.type === "azure-native:keyvault:Vault" && !r.name.includes("cmk"));
                    assert.ok(vault, "the environment's vault");
                    const acls = (vault.inputs.properties as { networkAcls: { defaultAction: string; ipRules?: Array<{ value: string }> } }).networkAcls;
                    assert.equal(acls.defaultAction, "Deny");
                    assert.deepEqual((acls.ipRules ?? []).map((r) => r.value), f.network ? ["203.0.113.0/24"] : []);

                    const endpoints = ofType("azure-native:network:PrivateEndpoint");
                    const profileEndpoint = profile.tiers[tier]?.privateEndpoint;
                    assert.equal(endpoints.length, profileEndpoint ? 1 : 0, "a private endpoint exactly when the profile gives the tier one");
                    if (tier === "prod") {
                        assert.equal(ofType("azure-native:network:PrivateDnsZoneGroup").length, 1, "prod's endpoint registers in the privatelink zone");
                        assert.equal((vault.inputs.properties as { publicNetworkAccess: string }).publicNetworkAccess, "Disabled");
                    }
                    const workspace = profile.tiers[tier]?.logAnalyticsWorkspaceId;
                    if (workspace) assert.equal(outputs.workspaceId, workspace, "logs go to the profile's central workspace");
                    else assert.equal(ofType("azure-native:operationalinsights:Workspace").length, 1, "a workspace of its own without a central one");
                });
            }
        }
    }
});
