import * as pulumi from "@pulumi/pulumi";
import { Component } from "@pulumi/azure-native/applicationinsights/component";
import { RoleAssignment } from "@pulumi/azure-native/authorization/roleAssignment";
import { SystemTopic } from "@pulumi/azure-native/eventgrid/systemTopic";
import { SystemTopicEventSubscription } from "@pulumi/azure-native/eventgrid/systemTopicEventSubscription";
import { UserAssignedIdentity } from "@pulumi/azure-native/managedidentity/userAssignedIdentity";
import { BlobContainer } from "@pulumi/azure-native/storage/blobContainer";
import { StorageAccount } from "@pulumi/azure-native/storage/storageAccount";
import { AppServicePlan } from "@pulumi/azure-native/web/appServicePlan";
import { WebApp } from "@pulumi/azure-native/web/webApp";
import { WebAppFtpAllowed } from "@pulumi/azure-native/web/webAppFtpAllowed";
import { WebAppScmAllowed } from "@pulumi/azure-native/web/webAppScmAllowed";
// The blob module alone: the storage index also loads mixins that cost ~200 ms per program run.
import { Blob as ClassicBlob } from "@pulumi/azure/storage/blob";
import type { Provider } from "@pulumi/azure/provider";
import { createHash } from "node:crypto";
import { PLATFORM_ROLES, roleAssignmentName, roleDefinitionId } from "@keyvault-platform/conventions";
import { armResourceIdProblem, ncrontabProblem } from "../config/validators";
import { FunctionPackage, readFunctionPackage } from "./helpers/functionPackage";
import { AuthorizationMode, grantVaultAccess } from "./vaultAccess";

const COMPONENT = "RotationInfra";

/**
 * Storage Blob Data Contributor: the least role that can write blobs, for the deployer (code
 * upload) and the system topic (dead letters). Verified against Azure's built-in role list;
 * packages/conventions/roles.ts PLATFORM_ROLES is the place for it once its owner adds it there.
 */
export const STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

/** The blob name Flex Consumption's OneDeploy writes and the host loads from the deployment container. */
export const FLEX_PACKAGE_BLOB = "released-package.zip";

/** The event-grid-triggered function the rotation function package (packages/rotation-function) registers. */
export const DEFAULT_EVENT_GRID_FUNCTION = "secretNearExpiry";

/** Container names are fixed: the app's deployment URL and the dead-letter destination name them. */
export const CODE_CONTAINER = "function-code";
export const DEAD_LETTER_CONTAINER = "eventgrid-deadletter";

export const STORAGE_SKUS = ["Standard_LRS", "Standard_ZRS"] as const;
export const INSTANCE_MEMORY_SIZES = [512, 2048, 4096] as const;

export interface RotationInfraArgs {
    /** Required. Resource group for the storage account, plan, app, insights, identity and system topic. */
    resourceGroupName: pulumi.Input<string>;
    /** Required. Region of the function's resources. */
    location: pulumi.Input<string>;
    /** Required. Subscription that holds the role definitions (also the function's SUBSCRIPTION_ID). */
    subscriptionId: pulumi.Input<string>;
    /** Required. Entra tenant of the function's identity (used by access policies). */
    tenantId: pulumi.Input<string>;
    /** Required. Globally unique storage account name (3-24 lowercase letters and digits). */
    storageAccountName: pulumi.Input<string>;
    /** Required. Globally unique function app name. */
    functionAppName: pulumi.Input<string>;
    /** Required. The vault whose secrets are rotated. `resourceGroupName` and `location` default to this component's. */
    vault: {
        resourceId: pulumi.Input<string>;
        name: pulumi.Input<string>;
        uri: pulumi.Input<string>;
        resourceGroupName?: pulumi.Input<string>;
        location?: pulumi.Input<string>;
    };
    /** Required. How the vault authorizes data-plane calls (Secrets Officer as a role, or the equivalent access policy). */
    authorizationMode: AuthorizationMode;
    /** Required. ARM id of the Log Analytics workspace behind Application Insights. */
    workspaceResourceId: pulumi.Input<string>;
    /** Required. The explicit classic provider (createClassicAzureProvider): it uploads the code with Entra ID, because shared keys are off. */
    classicProvider: Provider;
    /** Required. Object id of the principal running `pulumi up`; it gets Storage Blob Data Contributor on the code container only. */
    deployerPrincipalId: pulumi.Input<string>;
    /** Optional. Kind of the deploying identity (azure-native would otherwise default it to User). Defaults to ServicePrincipal. */
    deployerPrincipalType?: "User" | "ServicePrincipal";
    /**
     * Optional. Subnet (delegated to Microsoft.App/environments) for the app's outbound VNet integration.
     * Required to reach a vault that only its private endpoint serves. Defaults to none.
     */
    virtualNetworkSubnetId?: string;
    /** Optional. ARM ids of Azure SQL servers the function rotates; each gets SQL Server Contributor. Defaults to none. */
    sqlServerIds?: string[];
    /** Optional. ARM ids of PostgreSQL flexible servers the function rotates (a database role, not ARM; see docs). Defaults to none. */
    postgresServerIds?: string[];
    /** Optional. The PostgreSQL role mapped to the function's identity. Defaults to the identity's name (what pgaadauth_create_principal uses). */
    postgresAdminUser?: string;
    /** Optional. Safety-net timer, NCRONTAB with seconds. Defaults to "0 0 3 * * *" (03:00 daily). */
    schedule?: string;
    /** Optional. The timer rotates secrets expiring within this many days (1-365). Defaults to the function's own default (30). */
    rotationWindowDays?: number;
    /** Optional. The built code package. Defaults to the build of packages/rotation-function (npm run build:function). */
    functionPackage?: FunctionPackage;
    /** Optional. Name of the Event Grid-triggered function. Defaults to secretNearExpiry. */
    eventGridFunctionName?: string;
    /** Optional. Storage redundancy. Defaults to Standard_LRS (ZRS is not offered in every region). */
    storageSku?: (typeof STORAGE_SKUS)[number];
    /** Optional. Flex Consumption instance memory in MB. Defaults to 2048. */
    instanceMemoryMB?: (typeof INSTANCE_MEMORY_SIZES)[number];
    /** Optional. Flex Consumption scale-out ceiling (40-1000). Defaults to 40, the plan's lowest: rotation is low volume. */
    maximumInstanceCount?: number;
    /** Optional. Event Grid delivery attempts before dead-lettering (1-30). Defaults to 10. */
    maxDeliveryAttempts?: number;
    /** Optional. Minutes Event Grid keeps retrying an event (1-1440). Defaults to 1440. */
    eventTimeToLiveMinutes?: number;
    /** Optional. Tags for every resource. Defaults to none. */
    tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The plain settings, after defaults, that shape the component. */
export interface RotationInfraSettings {
    sqlServerIds: string[];
    postgresServerIds: string[];
    postgresAdminUser?: string;
    schedule: string;
    rotationWindowDays?: number;
    eventGridFunctionName: string;
    storageSku: (typeof STORAGE_SKUS)[number];
    instanceMemoryMB: (typeof INSTANCE_MEMORY_SIZES)[number];
    maximumInstanceCount: number;
    maxDeliveryAttempts: number;
    eventTimeToLiveMinutes: number;
    authorizationMode: AuthorizationMode;
}

function fail(field: string, value: unknown, allowed: string): never {
    throw new pulumi.RunError(`${COMPONENT}: ${field} ${JSON.stringify(value)} is invalid; ${allowed}`);
}

function wholeNumber(field: string, value: number, min: number, max: number): void {
    if (!Number.isInteger(value) || value < min || value > max) fail(field, value, `must be a whole number from ${min} to ${max}`);
}

function checkIds(field: string, ids: string[], provider: RegExp, what: string): void {
    if (!Array.isArray(ids)) fail(field, ids, "must be a list of ARM resource ids");
    ids.forEach((id, i) => {
        const p = armResourceIdProblem(id);
        if (p) fail(`${field}[${i}]`, id, p);
        if (!provider.test(id)) fail(`${field}[${i}]`, id, `must be ${what}`);
    });
    const dup = ids.find((id, i) => ids.findIndex((o) => o.toLowerCase() === id.toLowerCase()) !== i);
    if (dup !== undefined) fail(field, ids, `lists ${dup} twice`);
}

/** Applies the secure defaults and validates everything that shapes the resources. */
export function resolveRotationInfraSettings(args: Pick<RotationInfraArgs, keyof RotationInfraSettings>): RotationInfraSettings {
    const s: RotationInfraSettings = {
        sqlServerIds: args.sqlServerIds ?? [],
        postgresServerIds: args.postgresServerIds ?? [],
        postgresAdminUser: args.postgresAdminUser,
        schedule: args.schedule ?? "0 0 3 * * *",
        rotationWindowDays: args.rotationWindowDays,
        eventGridFunctionName: args.eventGridFunctionName ?? DEFAULT_EVENT_GRID_FUNCTION,
        storageSku: args.storageSku ?? "Standard_LRS",
        instanceMemoryMB: args.instanceMemoryMB ?? 2048,
        maximumInstanceCount: args.maximumInstanceCount ?? 40,
        maxDeliveryAttempts: args.maxDeliveryAttempts ?? 10,
        eventTimeToLiveMinutes: args.eventTimeToLiveMinutes ?? 1440,
        authorizationMode: args.authorizationMode,
    };
    if (s.authorizationMode !== "rbac" && s.authorizationMode !== "accessPolicies") fail("authorizationMode", s.authorizationMode, "allowed: rbac, accessPolicies");
    checkIds("sqlServerIds", s.sqlServerIds, /\/providers\/Microsoft\.Sql\/servers\/[^/]+$/i, "an Azure SQL server id (.../providers/Microsoft.Sql/servers/<name>)");
    checkIds("postgresServerIds", s.postgresServerIds, /\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/[^/]+$/i, "a PostgreSQL flexible server id (.../providers/Microsoft.DBforPostgreSQL/flexibleServers/<name>)");
    if (s.sqlServerIds.length + s.postgresServerIds.length === 0) fail("sqlServerIds", s.sqlServerIds, "name at least one target in sqlServerIds or postgresServerIds; rotation without a target does nothing");
    if (s.postgresAdminUser !== undefined && !/^[A-Za-z_][A-Za-z0-9_.@-]{0,62}$/.test(s.postgresAdminUser)) {
        fail("postgresAdminUser", s.postgresAdminUser, "must be a PostgreSQL role name of up to 63 characters");
    }
    const cron = ncrontabProblem(s.schedule);
    if (cron) fail("schedule", s.schedule, cron);
    if (s.rotationWindowDays !== undefined) wholeNumber("rotationWindowDays", s.rotationWindowDays, 1, 365);
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,127}$/.test(s.eventGridFunctionName)) fail("eventGridFunctionName", s.eventGridFunctionName, "must be a function name: a letter, then up to 127 letters, digits, _ or -");
    if (!(STORAGE_SKUS as readonly string[]).includes(s.storageSku)) fail("storageSku", s.storageSku, `allowed: ${STORAGE_SKUS.join(", ")}`);
    if (!(INSTANCE_MEMORY_SIZES as readonly number[]).includes(s.instanceMemoryMB)) fail("instanceMemoryMB", s.instanceMemoryMB, `allowed: ${INSTANCE_MEMORY_SIZES.join(", ")}`);
    wholeNumber("maximumInstanceCount", s.maximumInstanceCount, 40, 1000);
    wholeNumber("maxDeliveryAttempts", s.maxDeliveryAttempts, 1, 30);
    wholeNumber("eventTimeToLiveMinutes", s.eventTimeToLiveMinutes, 1, 1440);
    return s;
}

/** A short, stable suffix for a child per target, so adding a target never renames another's grant. */
function idSuffix(id: string): string {
    return createHash("sha256").update(id.toLowerCase()).digest("hex").slice(0, 8);
}

/**
 * Secret rotation driven by the vault's own events: an Event Grid system topic on the vault
 * delivers Microsoft.KeyVault.SecretNearExpiry, one event per batch, to the rotation function,
 * with retries and a dead-letter container; a timer in the function is the safety net.
 *
 * Hosting is Flex Consumption: it is the plan that supports identity-only storage end to end
 * (host storage and the code package), so the storage account has shared keys disabled. The
 * function runs as a user-assigned identity so every role exists before the app starts.
 */
export class RotationInfra extends pulumi.ComponentResource {
    /** Name of the function app. */
    public readonly functionAppName: pulumi.Output<string>;
    /** ARM id of the function app. */
    public readonly functionAppId: pulumi.Output<string>;
    /** Object id of the function's user-assigned identity. */
    public readonly principalId: pulumi.Output<string>;
    /** Client id of the function's user-assigned identity. */
    public readonly clientId: pulumi.Output<string>;
    /** ARM id of the vault's Event Grid system topic. */
    public readonly systemTopicId: pulumi.Output<string>;
    /** ARM id of the SecretNearExpiry event subscription. */
    public readonly eventSubscriptionId: pulumi.Output<string>;

    constructor(name: string, args: RotationInfraArgs, opts?: pulumi.ComponentResourceOptions) {
        super("keyvault-platform:rotation:RotationInfra", name, {}, opts);
        const s = resolveRotationInfraSettings(args);
        if (!args.classicProvider) fail("classicProvider", args.classicProvider, "pass the classic provider from createClassicAzureProvider");
        const pkg = args.functionPackage ?? readFunctionPackage();
        const parent = { parent: this };
        const vaultResourceGroup = args.vault.resourceGroupName ?? args.resourceGroupName;

        const role = (child: string, scope: pulumi.Input<string>, principalId: pulumi.Input<string>, roleGuid: string, description: string, dependsOn?: pulumi.Input<pulumi.Resource>[], principalType: "User" | "ServicePrincipal" = "ServicePrincipal") =>
            new RoleAssignment(`${name}-${child}`, {
                scope,
                roleAssignmentName: pulumi.all([scope, principalId]).apply(([sc, p]) => roleAssignmentName(sc, p, roleGuid)),
                roleDefinitionId: pulumi.output(args.subscriptionId).apply((sub) => roleDefinitionId(sub, roleGuid)),
                principalId,
                principalType,
                description: `keyvault-platform rotation: ${description}`,
            }, { parent: this, dependsOn });

        const identity = new UserAssignedIdentity(`${name}-identity`, {
            resourceName: pulumi.interpolate`id-${args.functionAppName}`,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            tags: args.tags,
        }, parent);

        const account = new StorageAccount(`${name}-storage`, {
            accountName: args.storageAccountName,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            kind: "StorageV2",
            sku: { name: s.storageSku },
            minimumTlsVersion: "TLS1_2",
            enableHttpsTrafficOnly: true,
            allowBlobPublicAccess: false,
            // Flex Consumption reaches host storage and its code package with the identity, so keys can go.
            allowSharedKeyAccess: false,
            defaultToOAuthAuthentication: true,
            allowCrossTenantReplication: false,
            tags: args.tags,
        }, parent);

        const codeContainer = new BlobContainer(`${name}-code`, {
            accountName: account.name,
            resourceGroupName: args.resourceGroupName,
            containerName: CODE_CONTAINER,
            publicAccess: "None",
        }, parent);
        const deadLetterContainer = new BlobContainer(`${name}-deadletter`, {
            accountName: account.name,
            resourceGroupName: args.resourceGroupName,
            containerName: DEAD_LETTER_CONTAINER,
            publicAccess: "None",
        }, parent);

        // Identity-based host storage (AzureWebJobsStorage__*) needs blob, queue and table data roles.
        const storageGrants = [
            role("storage-blob", account.id, identity.principalId, PLATFORM_ROLES["storage-blob-data-owner"], "Storage Blob Data Owner for host storage and the code package"),
            role("storage-queue", account.id, identity.principalId, PLATFORM_ROLES["storage-queue-data-contributor"], "Storage Queue Data Contributor for host storage"),
            role("storage-table", account.id, identity.principalId, PLATFORM_ROLES["storage-table-data-contributor"], "Storage Table Data Contributor for host storage"),
        ];

        // The deployer uploads the package with Entra ID; scoped to the code container, nothing else.
        const deployerGrant = role("code-deployer", codeContainer.id, args.deployerPrincipalId, STORAGE_BLOB_DATA_CONTRIBUTOR, "deployer uploads the function package", undefined, args.deployerPrincipalType ?? "ServicePrincipal");
        const packageBlob = new ClassicBlob(`${name}-package`, {
            name: FLEX_PACKAGE_BLOB,
            storageContainerId: codeContainer.id,
            type: "Block",
            contentType: "application/zip",
            source: pkg.archive,
            metadata: { packagesha256: pkg.hash },
        }, { parent: this, provider: args.classicProvider, dependsOn: [deployerGrant] });

        const insights = new Component(`${name}-insights`, {
            resourceName: pulumi.interpolate`appi-${args.functionAppName}`,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            kind: "web",
            applicationType: "web",
            workspaceResourceId: args.workspaceResourceId,
            ingestionMode: "LogAnalytics",
            // Telemetry is sent with the identity's token, so the instrumentation key alone cannot write.
            disableLocalAuth: true,
            tags: args.tags,
        }, parent);
        const insightsGrant = role("insights-publisher", insights.id, identity.principalId, PLATFORM_ROLES["monitoring-metrics-publisher"], "Monitoring Metrics Publisher for Entra-authenticated telemetry");

        const vaultGrant = grantVaultAccess({
            name: `${name}-vault-access`,
            mode: s.authorizationMode,
            scope: args.vault.resourceId,
            vaultName: args.vault.name,
            resourceGroupName: vaultResourceGroup,
            tenantId: args.tenantId,
            principalId: identity.principalId,
            principalType: "ServicePrincipal",
            role: "secrets-officer",
            subscriptionId: args.subscriptionId,
        }, this);

        const targetGrants = s.sqlServerIds.map((id) =>
            role(`sql-${idSuffix(id)}`, id, identity.principalId, PLATFORM_ROLES["sql-server-contributor"], "SQL Server Contributor to reset the administrator password"));

        const plan = new AppServicePlan(`${name}-plan`, {
            name: pulumi.interpolate`plan-${args.functionAppName}`,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            kind: "functionapp",
            sku: { name: "FC1", tier: "FlexConsumption" },
            reserved: true,
            tags: args.tags,
        }, parent);

        const settings: Array<{ name: string; value: pulumi.Input<string> }> = [
            { name: "AzureWebJobsStorage__accountName", value: account.name },
            { name: "AzureWebJobsStorage__credential", value: "managedidentity" },
            { name: "AzureWebJobsStorage__clientId", value: identity.clientId },
            { name: "APPLICATIONINSIGHTS_CONNECTION_STRING", value: insights.connectionString },
            { name: "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", value: pulumi.interpolate`ClientId=${identity.clientId};Authorization=AAD` },
            { name: "AZURE_CLIENT_ID", value: identity.clientId },
            { name: "KEY_VAULT_URL", value: args.vault.uri },
            { name: "SUBSCRIPTION_ID", value: args.subscriptionId },
            { name: "ROTATION_SCHEDULE", value: s.schedule },
            // A new package must restart the app: Flex loads the package when an instance starts,
            // and the host syncs its triggers after start. A changed setting is that restart.
            { name: "ROTATION_PACKAGE_SHA256", value: pkg.hash },
        ];
        if (s.rotationWindowDays !== undefined) settings.push({ name: "ROTATION_WINDOW_DAYS", value: String(s.rotationWindowDays) });
        if (s.postgresServerIds.length > 0) settings.push({ name: "POSTGRES_ADMIN_USER", value: s.postgresAdminUser ?? identity.name });

        const app = new WebApp(`${name}-app`, {
            name: args.functionAppName,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            kind: "functionapp,linux",
            // Outbound through the VNet, so a private-endpoint-only vault stays reachable.
            ...(args.virtualNetworkSubnetId ? { virtualNetworkSubnetId: args.virtualNetworkSubnetId } : {}),
            serverFarmId: plan.id,
            httpsOnly: true,
            identity: { type: "UserAssigned", userAssignedIdentities: [identity.id] },
            keyVaultReferenceIdentity: identity.id,
            functionAppConfig: {
                deployment: {
                    storage: {
                        type: "blobContainer",
                        value: pulumi.interpolate`${account.primaryEndpoints.blob}${CODE_CONTAINER}`,
                        authentication: { type: "UserAssignedIdentity", userAssignedIdentityResourceId: identity.id },
                    },
                },
                runtime: { name: "node", version: "22" },
                scaleAndConcurrency: { instanceMemoryMB: s.instanceMemoryMB, maximumInstanceCount: s.maximumInstanceCount },
            },
            siteConfig: {
                appSettings: settings,
                vnetRouteAllEnabled: args.virtualNetworkSubnetId !== undefined,
                minTlsVersion: "1.2",
                scmMinTlsVersion: "1.2",
                ftpsState: "Disabled",
                http20Enabled: true,
            },
            tags: args.tags,
        }, { parent: this, dependsOn: [codeContainer, ...storageGrants, insightsGrant, vaultGrant, ...targetGrants, packageBlob] });

        // Deploy credentials stay off: code arrives only through the deployment container.
        new WebAppFtpAllowed(`${name}-ftp-off`, { name: app.name, resourceGroupName: args.resourceGroupName, allow: false }, parent);
        new WebAppScmAllowed(`${name}-scm-basic-auth-off`, { name: app.name, resourceGroupName: args.resourceGroupName, allow: false }, parent);

        const topic = new SystemTopic(`${name}-topic`, {
            systemTopicName: pulumi.interpolate`evgt-${args.vault.name}`,
            resourceGroupName: vaultResourceGroup,
            location: args.vault.location ?? args.location,
            source: args.vault.resourceId,
            topicType: "Microsoft.KeyVault.vaults",
            // Dead letters are written with the topic's own identity, so no storage key or SAS exists.
            identity: { type: "SystemAssigned" },
            tags: args.tags,
        }, parent);
        const topicPrincipalId = topic.identity.apply((i) => {
            if (!i?.principalId) throw new pulumi.RunError(`${COMPONENT}: the system topic came back without a system-assigned identity; dead-lettering needs it`);
            return i.principalId;
        });
        const deadLetterGrant = role("deadletter-writer", deadLetterContainer.id, topicPrincipalId, STORAGE_BLOB_DATA_CONTRIBUTOR, "Event Grid writes undeliverable events");

        const subscription = new SystemTopicEventSubscription(`${name}-near-expiry`, {
            eventSubscriptionName: "secret-near-expiry",
            systemTopicName: topic.name,
            resourceGroupName: vaultResourceGroup,
            destination: {
                endpointType: "AzureFunction",
                resourceId: pulumi.interpolate`${app.id}/functions/${s.eventGridFunctionName}`,
                // One secret per invocation: a failure retries and dead-letters only that secret.
                maxEventsPerBatch: 1,
                preferredBatchSizeInKilobytes: 64,
            },
            filter: { includedEventTypes: ["Microsoft.KeyVault.SecretNearExpiry"] },
            eventDeliverySchema: "EventGridSchema",
            retryPolicy: { maxDeliveryAttempts: s.maxDeliveryAttempts, eventTimeToLiveInMinutes: s.eventTimeToLiveMinutes },
            deadLetterWithResourceIdentity: {
                identity: { type: "SystemAssigned" },
                deadLetterDestination: { endpointType: "StorageBlob", resourceId: account.id, blobContainerName: DEAD_LETTER_CONTAINER },
            },
        }, { parent: this, dependsOn: [app, deadLetterGrant] });

        this.functionAppName = app.name;
        this.functionAppId = app.id;
        this.principalId = identity.principalId;
        this.clientId = identity.clientId;
        this.systemTopicId = topic.id;
        this.eventSubscriptionId = subscription.id;
        this.registerOutputs({
            functionAppName: this.functionAppName,
            functionAppId: this.functionAppId,
            principalId: this.principalId,
            clientId: this.clientId,
            systemTopicId: this.systemTopicId,
            eventSubscriptionId: this.eventSubscriptionId,
        });
    }
}
