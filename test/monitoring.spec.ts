import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { record, Recording, RecordedResource, SUBSCRIPTION_ID, unwrap } from "./mocks";
import { Monitoring, MonitoringArgs, resolveMonitoringSettings } from "../components/monitoring";
import { failedAuthorizationsQuery, failedOperationsQuery, kqlNumber, unusualAccessQuery } from "../components/helpers/alertQueries";
import { AlertThresholdsSchema } from "../config/schema";

const T = {
    component: "keyvault-platform:monitoring:Monitoring",
    workspace: "azure-native:operationalinsights:Workspace",
    diag: "azure-native:monitor:DiagnosticSetting",
    actionGroup: "azure-native:monitor:ActionGroup",
    queryRule: "azure-native:monitor:ScheduledQueryRule",
    metricAlert: "azure-native:monitor:MetricAlert",
};
const RG = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-kv`;
const APP_VAULT = `${RG}/providers/Microsoft.KeyVault/vaults/kv-app-dev`;
const CMK_VAULT = `${RG}/providers/Microsoft.KeyVault/vaults/kv-cmk-dev`;
const COSMOS = `${RG}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-kvp-dev`;
const EXISTING_WORKSPACE = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-shared/providers/Microsoft.OperationalInsights/workspaces/log-shared`;
const DEFAULTS = AlertThresholdsSchema.parse({});
// Deliberately unlike the defaults, so a passing test proves the config is wired through.
const THRESHOLDS = { unusualAccessPerCallerIp: 437, failedOperations: 23, failedAuthorizations: 17, availabilityPercent: 98.5, saturationPercent: 64 };

function baseArgs(over: Partial<MonitoringArgs> = {}): MonitoringArgs {
    return {
        resourceGroupName: "rg-kv",
        location: "westeurope",
        tier: "dev",
        namePrefix: "kvp",
        alertEmails: ["ops@example.com", "security@example.com"],
        thresholds: THRESHOLDS,
        vaults: [{ key: "app", resourceId: APP_VAULT }, { key: "cmk", resourceId: CMK_VAULT }],
        cosmosAccountId: COSMOS,
        ...over,
    };
}

describe("alert queries", () => {
    const queries: Array<[string, (n: number) => string]> = [
        ["failed operations", failedOperationsQuery],
        ["unusual access", unusualAccessQuery],
        ["failed authorizations", failedAuthorizationsQuery],
    ];
    for (const [what, build] of queries) {
        it(`${what}: interpolates the threshold as a number and reads only Key Vault records`, () => {
            const q = build(4242);
            assert.match(q, /^let threshold = 4242;\n/);
            assert.match(q, /\| where \w+ > threshold$/m);
            assert.match(q, /^AzureDiagnostics\n\| where ResourceProvider == "MICROSOFT\.KEYVAULT"$/m);
        });
        it(`${what}: refuses a threshold that is not a finite non-negative number`, () => {
            for (const bad of [Number.NaN, Infinity, -1, "5; AzureActivity" as unknown as number]) {
                assert.throws(() => build(bad), (e: Error) => e instanceof pulumi.RunError && /^Monitoring: thresholds\.\w+ .* finite, non-negative number/.test(e.message));
            }
        });
    }

    it("groups failed operations by operation, caller IP and caller identity", () => {
        const q = failedOperationsQuery(3);
        assert.match(q, /where ResultType != "Success"/);
        assert.match(q, /summarize FailedOperations = count\(\) by OperationName, CallerIPAddress, Caller, _ResourceId/);
        assert.match(q, /column_ifexists\("identity_claim_upn_s", ""\)/);
        assert.match(q, /identity_claims_objectidentifier_g/);
    });

    it("bins unusual access by caller IP in 5-minute bins", () => {
        const q = unusualAccessQuery(100);
        assert.match(q, /summarize AccessCount = count\(\) by CallerIPAddress, _ResourceId, bin\(TimeGenerated, 5m\)/);
        assert.match(q, /where AccessCount > threshold/);
    });

    it("counts 403s and token-bearing 401s as failed authorizations", () => {
        const q = failedAuthorizationsQuery(5);
        assert.match(q, /Status in \(401, 403\) or ResultSignature in \("Unauthorized", "Forbidden"\)/);
        assert.match(q, /where Status == 403 or ResultSignature == "Forbidden" or Caller != "unknown"/);
    });

    it("renders a number literal as KQL accepts it", () => {
        assert.equal(kqlNumber("x", 12), "12");
        assert.equal(kqlNumber("x", 0.5), "0.5");
    });
});

describe("Monitoring settings", () => {
    const ok = { tier: "dev" as const, namePrefix: "kvp", alertEmails: [], vaults: [{ key: "app" }] };

    it("derives names, the short name and the schema's default thresholds", () => {
        const s = resolveMonitoringSettings(ok);
        assert.equal(s.workspaceName, "log-kvp-dev");
        assert.equal(s.actionGroupName, "ag-kvp-dev");
        assert.equal(s.actionGroupShortName, "kvpdev");
        assert.equal(s.ruleNamePrefix, "kvp-dev");
        assert.deepEqual(s.thresholds, DEFAULTS);
        assert.equal(s.retentionDays, 365);
    });

    it("appends the suffix and honours explicit names", () => {
        const s = resolveMonitoringSettings({ ...ok, nameSuffix: "weu", workspaceName: "law-central", actionGroupName: "ag-oncall" });
        assert.equal(s.workspaceName, "law-central");
        assert.equal(s.actionGroupName, "ag-oncall");
        assert.equal(s.ruleNamePrefix, "kvp-dev-weu");
    });

    it("keeps the longest short name within Azure's 12 characters", () => {
        assert.ok(resolveMonitoringSettings({ ...ok, tier: "staging", namePrefix: "abcdefgh", alertEmails: ["a@example.com"] }).actionGroupShortName.length <= 12);
    });

    it("overrides only the thresholds given", () => {
        const s = resolveMonitoringSettings({ ...ok, thresholds: { failedOperations: 3 } });
        assert.deepEqual(s.thresholds, { ...DEFAULTS, failedOperations: 3 });
    });

    const bad: Array<[string, Record<string, unknown>, RegExp]> = [
        ["an unknown tier", { tier: "qa" }, /tier "qa" .*dev, staging, prod/],
        ["an uppercase prefix", { namePrefix: "KVP" }, /namePrefix "KVP"/],
        ["a suffix with a hyphen", { nameSuffix: "we-u" }, /nameSuffix "we-u"/],
        ["a workspace id of another type", { workspaceId: `${RG}/providers/Microsoft.Storage/storageAccounts/st` }, /workspaceId .*Log Analytics workspace id/],
        ["a retention under 30 days", { retentionDays: 7 }, /retentionDays 7 .*30 to 730/],
        ["a zero threshold", { thresholds: { failedOperations: 0 } }, /thresholds\.failedOperations 0/],
        ["an availability above 100%", { thresholds: { availabilityPercent: 101 } }, /thresholds\.availabilityPercent 101/],
        ["an unknown threshold", { thresholds: { failedLogins: 3 } }, /thresholds .*unknown failedLogins; allowed: unusualAccessPerCallerIp/],
        ["a malformed e-mail", { alertEmails: ["ops@"] }, /alertEmails\[0\] "ops@" .*e-mail address/],
        ["a repeated e-mail", { alertEmails: ["a@example.com", "A@example.com"] }, /alertEmails\[1\] .*twice/],
        ["prod without an e-mail", { tier: "prod" }, /alertEmails \[\] .*at least one address in prod/],
        ["no vault", { vaults: [] }, /vaults .*at least one vault/],
        ["a vault key with a slash", { vaults: [{ key: "app/1" }] }, /vaults\[0\]\.key "app\/1"/],
        ["a repeated vault key", { vaults: [{ key: "app" }, { key: "app" }] }, /vaults\[1\]\.key "app" .*twice/],
        ["a workspace name with a space", { workspaceName: "my workspace" }, /workspaceName "my workspace"/],
    ];
    for (const [what, over, message] of bad) {
        it(`rejects ${what}, naming the component and the field`, () => {
            assert.throws(() => resolveMonitoringSettings({ ...ok, ...over } as never), (e: Error) => {
                assert.ok(e instanceof pulumi.RunError, "a RunError exits cleanly");
                assert.match(e.message, /^Monitoring: /);
                assert.match(e.message, message);
                return true;
            });
        });
    }
});

describe("Monitoring", () => {
    let rec: Recording;
    let mon: Monitoring;
    let workspace: RecordedResource;

    before(async () => {
        rec = await record(() => {
            mon = new Monitoring("mon", baseArgs({ retentionDays: 90, tags: { env: "dev" } }));
        });
        workspace = rec.one(T.workspace);
    });

    it("creates a PerGB2018 workspace with the configured retention", () => {
        assert.equal(workspace.inputs.workspaceName, "log-kvp-dev");
        assert.deepEqual(workspace.inputs.sku, { name: "PerGB2018" });
        assert.equal(workspace.inputs.retentionInDays, 90);
        assert.equal(workspace.inputs.features.disableLocalAuth, true);
    });

    it("sends every vault's logs and metrics to the workspace's AzureDiagnostics table", () => {
        for (const vaultId of [APP_VAULT, CMK_VAULT]) {
            const settings = rec.ofType(T.diag).filter((d) => d.inputs.resourceUri === vaultId);
            assert.equal(settings.length, 1, vaultId);
            const d = settings[0].inputs;
            assert.equal(d.workspaceId, workspace.id);
            assert.deepEqual(d.logs, [{ categoryGroup: "allLogs", enabled: true }], "allLogs covers the audit group");
            assert.deepEqual(d.metrics, [{ category: "AllMetrics", enabled: true }]);
            assert.equal(d.logAnalyticsDestinationType, undefined, "the alert queries read AzureDiagnostics");
        }
    });

    it("sends the Cosmos account's logs and metrics to resource-specific tables", () => {
        const d = rec.one(T.diag, "cosmos").inputs;
        assert.equal(d.resourceUri, COSMOS);
        assert.equal(d.workspaceId, workspace.id);
        assert.deepEqual(d.logs, [{ categoryGroup: "allLogs", enabled: true }]);
        assert.deepEqual(d.metrics, [{ category: "Requests", enabled: true }]);
        assert.equal(d.logAnalyticsDestinationType, "Dedicated");
    });

    it("e-mails every address with the common alert schema", () => {
        const ag = rec.one(T.actionGroup).inputs;
        assert.equal(ag.enabled, true);
        assert.equal(ag.groupShortName, "kvpdev");
        assert.deepEqual(ag.emailReceivers.map((r: any) => r.emailAddress), ["ops@example.com", "security@example.com"]);
        assert.ok(ag.emailReceivers.every((r: any) => r.useCommonAlertSchema === true));
        assert.equal(new Set(ag.emailReceivers.map((r: any) => r.name)).size, 2, "receiver names are unique");
    });

    const rule = (role: string) => rec.one(T.queryRule, role);

    it("turns each KQL query into a workspace-scoped log alert with the configured threshold", () => {
        const expected: Array<[string, number, string]> = [
            ["failed-operations", THRESHOLDS.failedOperations, "PT15M"],
            ["unusual-access", THRESHOLDS.unusualAccessPerCallerIp, "PT5M"],
            ["failed-authorizations", THRESHOLDS.failedAuthorizations, "PT15M"],
        ];
        for (const [role, threshold, window] of expected) {
            const r = rule(role).inputs;
            assert.equal(r.ruleName, `kvp-dev-kv-${role}`);
            assert.deepEqual(r.scopes, [workspace.id]);
            assert.equal(r.kind, "LogAlert");
            assert.equal(r.enabled, true);
            assert.equal(r.windowSize, window);
            assert.equal(r.evaluationFrequency, "PT5M");
            assert.equal(r.autoMitigate, true);
            assert.deepEqual(r.actions.actionGroups, [rec.one(T.actionGroup).id]);
            const c = r.criteria.allOf[0];
            assert.ok(c.query.includes(`let threshold = ${threshold};`), `${role} query carries ${threshold}`);
            assert.ok(!c.query.includes(`let threshold = ${role === "unusual-access" ? DEFAULTS.unusualAccessPerCallerIp : role === "failed-operations" ? DEFAULTS.failedOperations : DEFAULTS.failedAuthorizations};`));
            assert.equal(c.timeAggregation, "Count");
            assert.equal(c.operator, "GreaterThan");
            assert.equal(c.threshold, 0);
        }
    });

    it("fires on unusual access per 5-minute bin and caller IP, split by caller IP", () => {
        const r = rule("unusual-access").inputs;
        assert.match(r.criteria.allOf[0].query, /by CallerIPAddress, _ResourceId, bin\(TimeGenerated, 5m\)/);
        assert.deepEqual(r.criteria.allOf[0].dimensions.map((d: any) => d.name), ["CallerIPAddress", "_ResourceId"]);
        assert.ok(r.severity < rule("failed-operations").inputs.severity, "a request flood outranks failed operations");
    });

    it("splits failed operations by operation, caller IP and identity", () => {
        assert.deepEqual(rule("failed-operations").inputs.criteria.allOf[0].dimensions, ["OperationName", "CallerIPAddress", "Caller", "_ResourceId"].map((name) => ({ name, operator: "Include", values: ["*"] })));
    });

    it("alerts per vault on availability and saturation with the configured thresholds", () => {
        for (const [key, vaultId] of [["app", APP_VAULT], ["cmk", CMK_VAULT]]) {
            const availability = rec.one(T.metricAlert, `availability-${key}`).inputs;
            const saturation = rec.one(T.metricAlert, `saturation-${key}`).inputs;
            for (const a of [availability, saturation]) {
                assert.deepEqual(a.scopes, [vaultId]);
                assert.equal(a.criteria.odataType, "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria");
                assert.equal(a.windowSize, "PT5M");
                assert.equal(a.evaluationFrequency, "PT1M");
                assert.deepEqual(a.actions, [{ actionGroupId: rec.one(T.actionGroup).id }]);
            }
            assert.deepEqual(availability.criteria.allOf, [{ criterionType: "StaticThresholdCriterion", name: "Availability", metricName: "Availability", metricNamespace: "Microsoft.KeyVault/vaults", operator: "LessThan", threshold: 98.5, timeAggregation: "Average" }]);
            assert.deepEqual(saturation.criteria.allOf, [{ criterionType: "StaticThresholdCriterion", name: "SaturationShoebox", metricName: "SaturationShoebox", metricNamespace: "Microsoft.KeyVault/vaults", operator: "GreaterThan", threshold: 64, timeAggregation: "Average" }]);
        }
        assert.equal(rec.ofType(T.metricAlert).length, 4);
    });

    it("exposes the workspace, its customer id and the action group", async () => {
        assert.equal(await unwrap(mon.workspaceId), workspace.id);
        assert.equal(await unwrap(mon.workspaceCustomerId), workspace.state.customerId);
        assert.equal(await unwrap(mon.actionGroupId), rec.one(T.actionGroup).id);
    });

    it("parents every child to the component", () => {
        const component = rec.one(T.component);
        const children = rec.resources.filter((r) => r !== component);
        // workspace, 3 diagnostic settings, action group, 3 log alerts, 4 metric alerts
        assert.equal(children.length, 12);
        for (const child of children) assert.equal(child.parentUrn, component.urn, child.name);
    });
});

describe("Monitoring variants", () => {
    it("uses an existing workspace without creating one", async () => {
        let mon: Monitoring | undefined;
        const rec = await record(() => {
            mon = new Monitoring("ext", baseArgs({ workspaceId: EXISTING_WORKSPACE, cosmosAccountId: undefined }));
        });
        assert.equal(rec.ofType(T.workspace).length, 0);
        assert.ok(rec.ofType(T.diag).every((d) => d.inputs.workspaceId === EXISTING_WORKSPACE));
        assert.ok(rec.ofType(T.queryRule).every((r) => r.inputs.scopes[0] === EXISTING_WORKSPACE));
        assert.equal(await unwrap(mon!.workspaceId), EXISTING_WORKSPACE);
        assert.equal(await unwrap(mon!.workspaceCustomerId), undefined);
    });

    it("adds no Cosmos diagnostic setting when there is no account", async () => {
        const rec = await record(() => new Monitoring("nocosmos", baseArgs({ cosmosAccountId: undefined, vaults: [{ key: "app", resourceId: APP_VAULT }] })));
        assert.deepEqual(rec.ofType(T.diag).map((d) => d.inputs.resourceUri), [APP_VAULT]);
    });

    it("fails before creating anything when the settings are invalid", () => {
        assert.throws(() => new Monitoring("bad", baseArgs({ tier: "prod", alertEmails: [] })), /Monitoring: alertEmails/);
    });
});
