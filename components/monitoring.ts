import * as pulumi from "@pulumi/pulumi";
import { ActionGroup } from "@pulumi/azure-native/monitor/actionGroup";
import { DiagnosticSetting } from "@pulumi/azure-native/monitor/diagnosticSetting";
import { MetricAlert } from "@pulumi/azure-native/monitor/metricAlert";
import { ScheduledQueryRule } from "@pulumi/azure-native/monitor/scheduledQueryRule";
import { Workspace } from "@pulumi/azure-native/operationalinsights/workspace";
import * as z from "../config/zod";
import { AlertThresholdsSchema, Tier, TIERS } from "../config/schema";
import { emailProblem, workspaceIdProblem } from "../config/validators";
import { failedAuthorizationsQuery, failedOperationsQuery, unusualAccessQuery } from "./helpers/alertQueries";

const COMPONENT = "Monitoring";

export type AlertThresholds = z.output<typeof AlertThresholdsSchema>;

/** A vault to watch; `key` names its child resources, so it must be short and stable. */
export interface MonitoredVault {
    /** Short stable name for the vault's diagnostic setting and alerts, e.g. `app` or `cmk`. */
    key: string;
    /** ARM id of the vault. */
    resourceId: pulumi.Input<string>;
}

export interface MonitoringArgs {
    /** Required. Resource group for the workspace, action group and alert rules. */
    resourceGroupName: pulumi.Input<string>;
    /** Required. Region of a created workspace and of the log alert rules. */
    location: pulumi.Input<string>;
    /** Required. The tier; part of every name, and prod must alert someone. */
    tier: Tier;
    /** Required. Short lowercase prefix for names (2-8 letters and digits), as in the stack config. */
    namePrefix: string;
    /** Optional. Suffix appended to generated names, e.g. a region code. Defaults to none. */
    nameSuffix?: string;
    /** Optional. Explicit workspace name. Defaults to log-<prefix>-<env>[-<suffix>]. */
    workspaceName?: string;
    /** Optional. Explicit action group name. Defaults to ag-<prefix>-<env>[-<suffix>]. */
    actionGroupName?: string;
    /** Optional. ARM id of an existing Log Analytics workspace to use instead of creating one. Defaults to creating one. */
    workspaceId?: string;
    /** Optional. Retention of a created workspace in days (30-730); ignored with workspaceId. Defaults to 365 (Azure Policy's audit-log parameter). */
    retentionDays?: number;
    /** Required. Addresses the action group e-mails; prod needs at least one. */
    alertEmails: string[];
    /** Optional. Alert thresholds; unset ones take the stack-config schema's defaults. */
    thresholds?: Partial<AlertThresholds>;
    /** Required. Every vault to send diagnostics from and to alert on (at least one). */
    vaults: MonitoredVault[];
    /** Optional. ARM id of the Cosmos DB account to send diagnostics from. Defaults to none. */
    cosmosAccountId?: pulumi.Input<string>;
    /** Optional. Tags for the workspace, action group and alert rules. Defaults to none. */
    tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export interface MonitoringSettings {
    thresholds: AlertThresholds;
    retentionDays: number;
    workspaceName: string;
    actionGroupName: string;
    actionGroupShortName: string;
    /** Prefix of alert rule names: <prefix>-<env>[-<suffix>]. */
    ruleNamePrefix: string;
}

function fail(field: string, value: unknown, allowed: string): never {
    throw new pulumi.RunError(`${COMPONENT}: ${field} ${JSON.stringify(value)} is invalid; ${allowed}`);
}

const ENV_ABBREVIATION: Record<Tier, string> = { dev: "dev", staging: "stg", prod: "prd" };

/** Applies defaults and validates every plain input that shapes the resources. */
export function resolveMonitoringSettings(args: Omit<MonitoringArgs, "resourceGroupName" | "location" | "cosmosAccountId" | "tags" | "vaults"> & { vaults: Array<{ key: string }> }): MonitoringSettings {
    if (!(TIERS as readonly string[]).includes(args.tier)) fail("tier", args.tier, `allowed: ${TIERS.join(", ")}`);
    if (!/^[a-z][a-z0-9]{1,7}$/.test(args.namePrefix)) fail("namePrefix", args.namePrefix, "must be 2-8 lowercase letters and digits, starting with a letter");
    if (args.nameSuffix !== undefined && !/^[a-z0-9]{1,8}$/.test(args.nameSuffix)) fail("nameSuffix", args.nameSuffix, "must be 1-8 lowercase letters and digits");
    if (args.workspaceId !== undefined) {
        const p = workspaceIdProblem(args.workspaceId);
        if (p) fail("workspaceId", args.workspaceId, p);
    }
    const retentionDays = args.retentionDays ?? 365;
    if (!Number.isInteger(retentionDays) || retentionDays < 30 || retentionDays > 730) fail("retentionDays", retentionDays, "must be a whole number of days from 30 to 730");

    const parsed = AlertThresholdsSchema.safeParse(args.thresholds ?? {});
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        if (issue.code === "unrecognized_keys") fail("thresholds", args.thresholds, `has unknown ${issue.keys.join(", ")}; allowed: ${Object.keys(AlertThresholdsSchema.shape).join(", ")}`);
        const field = issue.path.join(".");
        fail(`thresholds.${field}`, (args.thresholds as Record<string, unknown> | undefined)?.[field], issue.message);
    }

    const seenEmails = new Set<string>();
    args.alertEmails.forEach((email, i) => {
        const p = emailProblem(email);
        if (p) fail(`alertEmails[${i}]`, email, p);
        if (seenEmails.has(email.toLowerCase())) fail(`alertEmails[${i}]`, email, "is listed twice");
        seenEmails.add(email.toLowerCase());
    });
    if (args.tier === "prod" && args.alertEmails.length === 0) {
        fail("alertEmails", args.alertEmails, "needs at least one address in prod: an alert nobody receives protects nothing");
    }

    if (args.vaults.length === 0) fail("vaults", [], "list at least one vault to monitor");
    const seenKeys = new Set<string>();
    args.vaults.forEach((v, i) => {
        if (!/^[a-z][a-z0-9-]{0,23}$/.test(v.key)) fail(`vaults[${i}].key`, v.key, "must be 1-24 lowercase letters, digits and hyphens, starting with a letter");
        if (seenKeys.has(v.key)) fail(`vaults[${i}].key`, v.key, "is used twice; each vault needs its own key");
        seenKeys.add(v.key);
    });

    const base = [args.namePrefix, args.tier, ...(args.nameSuffix ? [args.nameSuffix] : [])].join("-");
    const workspaceName = args.workspaceName ?? `log-${base}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/.test(workspaceName)) fail("workspaceName", workspaceName, "must be 4-63 letters, digits and hyphens, starting and ending with a letter or digit");
    const actionGroupName = args.actionGroupName ?? `ag-${base}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,259}$/.test(actionGroupName)) fail("actionGroupName", actionGroupName, "must be 1-260 letters, digits, hyphens, dots and underscores");

    return {
        thresholds: parsed.data,
        retentionDays,
        workspaceName,
        actionGroupName,
        // E-mail and SMS show the short name; Azure caps it at 12 characters.
        actionGroupShortName: `${args.namePrefix}${ENV_ABBREVIATION[args.tier]}`,
        ruleNamePrefix: base,
    };
}

/** Log alert rule windows (ISO 8601): the thresholds in the stack config count events in these windows. */
export const LOG_ALERT_WINDOWS = {
    "failed-operations": { windowSize: "PT15M", evaluationFrequency: "PT5M" },
    "unusual-access": { windowSize: "PT5M", evaluationFrequency: "PT5M" },
    "failed-authorizations": { windowSize: "PT15M", evaluationFrequency: "PT5M" },
} as const;

const KEY_VAULT_METRIC_NAMESPACE = "Microsoft.KeyVault/vaults";

/**
 * Key Vault logs, metrics and alerts into one Log Analytics workspace: diagnostic
 * settings on every vault (and the Cosmos account), an e-mail action group, log alerts
 * built from two KQL queries (unusual access per caller IP, failed operations), and per-vault availability and saturation metric alerts.
 */
export class Monitoring extends pulumi.ComponentResource {
    /** ARM id of the workspace (created or given). */
    public readonly workspaceId: pulumi.Output<string>;
    /** The workspace's customer (workspace) id when this component created it; undefined for a given workspace. */
    public readonly workspaceCustomerId: pulumi.Output<string | undefined>;
    /** ARM id of the action group every alert notifies. */
    public readonly actionGroupId: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("keyvault-platform:monitoring:Monitoring", name, {}, opts);
        const s = resolveMonitoringSettings(args);

        let workspaceId: pulumi.Output<string>;
        let workspaceCustomerId: pulumi.Output<string | undefined>;
        if (args.workspaceId !== undefined) {
            workspaceId = pulumi.output(args.workspaceId);
            workspaceCustomerId = pulumi.output(undefined);
        } else {
            const workspace = new Workspace(`${name}-workspace`, {
                workspaceName: s.workspaceName,
                resourceGroupName: args.resourceGroupName,
                location: args.location,
                sku: { name: "PerGB2018" },
                retentionInDays: s.retentionDays,
                features: {
                    // Readers see only the logs of resources they may read.
                    enableLogAccessUsingOnlyResourcePermissions: true,
                    // Diagnostic settings do not use the shared keys; nothing else should.
                    disableLocalAuth: true,
                },
                tags: args.tags,
            }, { parent: this });
            workspaceId = workspace.id;
            workspaceCustomerId = workspace.customerId;
        }

        for (const vault of args.vaults) {
            new DiagnosticSetting(`${name}-diag-${vault.key}`, {
                name: "to-log-analytics",
                resourceUri: vault.resourceId,
                workspaceId,
                // allLogs includes the audit group (AuditEvent), as AVM does. No destination type:
                // the default AzureDiagnostics table is what the alert queries read.
                logs: [{ categoryGroup: "allLogs", enabled: true }],
                metrics: [{ category: "AllMetrics", enabled: true }],
            }, { parent: this });
        }
        if (args.cosmosAccountId !== undefined) {
            new DiagnosticSetting(`${name}-diag-cosmos`, {
                name: "to-log-analytics",
                resourceUri: args.cosmosAccountId,
                workspaceId,
                // Cosmos DB recommends its resource-specific CDB* tables over AzureDiagnostics.
                logAnalyticsDestinationType: "Dedicated",
                logs: [{ categoryGroup: "allLogs", enabled: true }],
                // Cosmos DB exports its platform metrics under the single category "Requests".
                metrics: [{ category: "Requests", enabled: true }],
            }, { parent: this });
        }

        const actionGroup = new ActionGroup(`${name}-actions`, {
            actionGroupName: s.actionGroupName,
            resourceGroupName: args.resourceGroupName,
            location: "global",
            groupShortName: s.actionGroupShortName,
            enabled: true,
            emailReceivers: args.alertEmails.map((emailAddress, i) => ({ name: `email-${i + 1}`, emailAddress, useCommonAlertSchema: true })),
            tags: args.tags,
        }, { parent: this });

        const logAlert = (role: keyof typeof LOG_ALERT_WINDOWS, severity: number, description: string, query: string, dimensions: string[]) =>
            new ScheduledQueryRule(`${name}-${role}`, {
                ruleName: `${s.ruleNamePrefix}-kv-${role}`,
                displayName: `Key Vault ${description} (${args.tier})`,
                description: `Key Vault ${description}.`,
                resourceGroupName: args.resourceGroupName,
                location: args.location,
                kind: "LogAlert",
                enabled: true,
                severity,
                scopes: [workspaceId],
                ...LOG_ALERT_WINDOWS[role],
                criteria: {
                    allOf: [{
                        query,
                        // The query applies the configured threshold itself; any row left is a breach.
                        timeAggregation: "Count",
                        // The provider's ConditionOperator enum carries another API's values; the scheduled
                        // query rules API spells operators out ("GreaterThan").
                        operator: "GreaterThan",
                        threshold: 0,
                        dimensions: dimensions.map((d) => ({ name: d, operator: "Include", values: ["*"] })),
                        failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
                    }],
                },
                autoMitigate: true,
                // A fresh workspace has no AzureDiagnostics table until the first vault log arrives,
                // and ARM would otherwise refuse a rule whose query it cannot resolve yet.
                skipQueryValidation: true,
                actions: { actionGroups: [actionGroup.id] },
                tags: args.tags,
            }, { parent: this });

        logAlert("failed-operations", 2, "failed operations above threshold per operation and caller", failedOperationsQuery(s.thresholds.failedOperations),
            ["OperationName", "CallerIPAddress", "Caller", "_ResourceId"]);
        logAlert("unusual-access", 1, "unusual request volume from one caller IP", unusualAccessQuery(s.thresholds.unusualAccessPerCallerIp),
            ["CallerIPAddress", "_ResourceId"]);
        logAlert("failed-authorizations", 1, "refused requests (401/403) above threshold", failedAuthorizationsQuery(s.thresholds.failedAuthorizations),
            ["CallerIPAddress", "_ResourceId"]);

        for (const vault of args.vaults) {
            const metricAlert = (role: string, severity: number, description: string, criterion: { metricName: string; operator: "LessThan" | "GreaterThan"; threshold: number }) =>
                new MetricAlert(`${name}-${role}-${vault.key}`, {
                    ruleName: `${s.ruleNamePrefix}-kv-${vault.key}-${role}`,
                    description,
                    resourceGroupName: args.resourceGroupName,
                    location: "global",
                    enabled: true,
                    severity,
                    scopes: [vault.resourceId],
                    windowSize: "PT5M",
                    evaluationFrequency: "PT1M",
                    criteria: {
                        odataType: "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                        allOf: [{
                            criterionType: "StaticThresholdCriterion",
                            name: criterion.metricName,
                            metricNamespace: KEY_VAULT_METRIC_NAMESPACE,
                            timeAggregation: "Average",
                            ...criterion,
                        }],
                    },
                    autoMitigate: true,
                    actions: [{ actionGroupId: actionGroup.id }],
                    tags: args.tags,
                }, { parent: this });
            metricAlert("availability", 1, `Key Vault ${vault.key}: availability below ${s.thresholds.availabilityPercent}%`,
                { metricName: "Availability", operator: "LessThan", threshold: s.thresholds.availabilityPercent });
            metricAlert("saturation", 2, `Key Vault ${vault.key}: saturation above ${s.thresholds.saturationPercent}%`,
                { metricName: "SaturationShoebox", operator: "GreaterThan", threshold: s.thresholds.saturationPercent });
        }

        this.workspaceId = workspaceId;
        this.workspaceCustomerId = workspaceCustomerId;
        this.actionGroupId = actionGroup.id;
        this.registerOutputs({ workspaceId: this.workspaceId, workspaceCustomerId: this.workspaceCustomerId, actionGroupId: this.actionGroupId });
    }
}
