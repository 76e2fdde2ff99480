import * as pulumi from "@pulumi/pulumi";
import { getClientConfigOutput } from "@pulumi/azure-native/authorization/getClientConfig";
import type { StackConfig } from "../config/schema";
import { ResourceGroup } from "./resourceGroup";
import { KeyVault } from "./keyVault";
import { AutoRenewingCertificate, createCertificateContacts } from "./certificate";
import { createClassicAzureProvider } from "./helpers/classicAzureProvider";
import { RotationInfra } from "./rotationInfra";
import { SecretsStoreCsi } from "./secretsStoreCsi";
import { grantVaultAccess } from "./vaultAccess";
import { dropApiVersionAliases } from "./helpers/apiVersionAliases";
import { CosmosCmk } from "./cosmosCmk";
import { Monitoring } from "./monitoring";
import { cosmosAccountName, functionAppName, nameWithSuffix, storageAccountName, vaultName } from "./helpers/naming";
import { ownershipTags } from "@keyvault-platform/conventions";

export interface KeyVaultEnvironmentArgs {
    /** Required. The validated stack config (config/schema.ts); the single source of every setting. */
    config: StackConfig;
    /** Required. The environment instance's name, which is the Pulumi stack name (`payments-dev`, or `prod` for a stack file). */
    environmentName: string;
}

/**
 * One environment: the application vault and everything around it. Both
 * `pulumi up` (via program.ts) and the self-service server compose exactly this.
 */
export class KeyVaultEnvironment extends pulumi.ComponentResource {
    public readonly resourceGroupName: pulumi.Output<string>;
    public readonly vaultName: pulumi.Output<string>;
    public readonly vaultUri: pulumi.Output<string>;
    public readonly vaultId: pulumi.Output<string>;
    public readonly cmkVaultName?: pulumi.Output<string>;
    public readonly cosmosEndpoint?: pulumi.Output<string>;
    public readonly cosmosAccountName?: pulumi.Output<string>;
    public readonly workspaceId: pulumi.Output<string>;
    public readonly actionGroupId: pulumi.Output<string>;
    public readonly rotationFunctionAppName?: pulumi.Output<string>;
    public readonly certificateIds?: pulumi.Output<string[]>;
    public readonly secretProviderClassName?: pulumi.Output<string>;

    constructor(name: string, args: KeyVaultEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Inherited by every resource below (see apiVersionAliases.ts for why it is safe).
        super("keyvault-platform:environment:KeyVaultEnvironment", name, {}, { ...opts, transformations: [...(opts?.transformations ?? []), dropApiVersionAliases] });
        const c = args.config;
        // Ownership is decided here once; every child below gets these tags and adds none of its own.
        const tags = { ...c.tags, ...ownershipTags({ team: c.team, environmentName: args.environmentName, tier: c.tier, managedBy: c.managedBy }) };
        const client = getClientConfigOutput({ parent: this });

        const rg = new ResourceGroup(`${name}-rg`, { prefix: c.namePrefix, tier: c.tier, location: c.location, tags }, { parent: this });
        const common = { resourceGroupName: rg.name, location: c.location, tenantId: client.tenantId, subscriptionId: client.subscriptionId, tier: c.tier, tags };

        const vault = new KeyVault(`${name}-kv`, {
            ...common,
            vaultName: nameWithSuffix(vaultName, c.namePrefix, c.tier, rg.suffix),
            sku: c.vaultSku,
            softDeleteRetentionDays: c.softDeleteRetentionDays,
            purgeProtection: c.purgeProtection,
            authorizationMode: c.authorizationMode,
            accessPolicies: c.accessPolicies,
            roleAssignments: c.roleAssignments,
            network: { allowedIpRanges: c.allowedIpRanges, allowedSubnetIds: c.allowedSubnetIds, bypass: c.networkBypass },
            privateEndpoint: c.privateEndpoint,
            enabledForDeployment: c.enabledForDeployment,
            enabledForTemplateDeployment: c.enabledForTemplateDeployment,
            enabledForDiskEncryption: c.enabledForDiskEncryption,
        }, { parent: this });

        const monitoredVaults = [{ key: "app", resourceId: vault.resourceId }];
        let cosmos: CosmosCmk | undefined;
        if (c.cosmos.enabled) {
            // A dedicated CMK vault (docs/decisions/cmk-vault-network.md): reachable by Cosmos DB as a
            // trusted service while the app vault stays private. It holds only the key, so it is RBAC,
            // purge-protected and firewalled with no rules at all, whatever the stack relaxes elsewhere.
            const cmkVault = new KeyVault(`${name}-cmkkv`, {
                ...common,
                vaultName: nameWithSuffix(vaultName, `${c.namePrefix}-cmk`, c.tier, rg.suffix),
                sku: c.vaultSku,
                softDeleteRetentionDays: 90,
                purgeProtection: true,
                authorizationMode: "rbac",
                network: { allowedIpRanges: [], allowedSubnetIds: [], bypass: "AzureServices" },
                publicNetworkAccess: "Enabled",
            }, { parent: this });
            monitoredVaults.push({ key: "cmk", resourceId: cmkVault.resourceId });
            cosmos = new CosmosCmk(`${name}-cosmos`, {
                ...common,
                accountName: nameWithSuffix(cosmosAccountName, c.namePrefix, c.tier, rg.suffix),
                cmkVault: { resourceId: cmkVault.resourceId, name: cmkVault.name },
                authorizationMode: "rbac",
                locations: c.cosmos.locations,
                consistencyLevel: c.cosmos.consistencyLevel,
                keySize: c.cosmos.keySize,
                // A premium CMK vault exists for HSM protection; a software key there would waste it.
                hsm: c.vaultSku === "premium",
                keyExpiryDays: c.cosmos.keyExpiryDays,
                keyRotationDays: c.cosmos.keyRotationDays,
                keyNotifyDaysBeforeExpiry: c.cosmos.keyNotifyDaysBeforeExpiry,
                publicNetworkAccess: c.cosmos.publicNetworkAccess,
            }, { parent: this });
            this.cmkVaultName = cmkVault.name;
            this.cosmosEndpoint = cosmos.endpoint;
            this.cosmosAccountName = cosmos.accountName;
        }

        const monitoring = new Monitoring(`${name}-mon`, {
            resourceGroupName: rg.name,
            location: c.location,
            tier: c.tier,
            namePrefix: c.namePrefix,
            workspaceId: c.monitoring.workspaceId,
            retentionDays: c.monitoring.retentionDays,
            alertEmails: c.monitoring.alertEmails,
            thresholds: c.monitoring.thresholds,
            vaults: monitoredVaults,
            cosmosAccountId: cosmos?.resourceId,
            tags,
        }, { parent: this });

        // @pulumi/azure (classic) serves what azure-native cannot: certificates and an Entra-signed blob upload.
        const classic = c.rotation.enabled || c.certificates.length > 0
            ? createClassicAzureProvider(`${name}-azure-classic`, { subscriptionId: client.subscriptionId, tenantId: client.tenantId }, { parent: this })
            : undefined;

        if (c.rotation.enabled && classic) {
            const rotation = new RotationInfra(`${name}-rotation`, {
                resourceGroupName: rg.name,
                location: c.location,
                subscriptionId: client.subscriptionId,
                tenantId: client.tenantId,
                storageAccountName: nameWithSuffix(storageAccountName, c.namePrefix, c.tier, rg.suffix),
                functionAppName: nameWithSuffix(functionAppName, c.namePrefix, c.tier, rg.suffix),
                vault: { resourceId: vault.resourceId, name: vault.name, uri: vault.uri },
                authorizationMode: c.authorizationMode,
                workspaceResourceId: monitoring.workspaceId,
                classicProvider: classic,
                deployerPrincipalId: client.objectId,
                deployerPrincipalType: c.deployerPrincipalType,
                schedule: c.rotation.schedule,
                sqlServerIds: c.rotation.sqlServerIds,
                postgresServerIds: c.rotation.postgresServerIds,
                virtualNetworkSubnetId: c.rotation.subnetId,
                tags,
            }, { parent: this });
            this.rotationFunctionAppName = rotation.functionAppName;
        }

        if (c.certificates.length > 0 && classic) {
            // Certificates are created on the data plane with the deployer's own identity.
            const deployerGrant = grantVaultAccess({
                name: `${name}-deployer-certificates-officer`,
                mode: c.authorizationMode,
                scope: vault.resourceId,
                vaultName: vault.name,
                resourceGroupName: rg.name,
                tenantId: client.tenantId,
                principalId: client.objectId,
                principalType: c.deployerPrincipalType,
                role: "certificates-officer",
                subscriptionId: client.subscriptionId,
            }, this);
            const contacts = createCertificateContacts(`${name}-certificate-contacts`, { keyVaultId: vault.resourceId, provider: classic, emails: c.certificateContactEmails }, this);
            const certs = c.certificates.map((cert) => new AutoRenewingCertificate(`${name}-cert-${cert.name}`, {
                keyVaultId: vault.resourceId,
                provider: classic,
                certificateName: cert.name,
                subject: cert.subject,
                dnsNames: cert.dnsNames,
                validityMonths: cert.validityMonths,
                dependsOn: [contacts, deployerGrant],
                tags,
            }, { parent: this }));
            this.certificateIds = pulumi.all(certs.map((x) => x.versionlessId));
        }

        if (c.secretsStoreCsi.enabled && c.secretsStoreCsi.oidcIssuerUrl) {
            const csi = new SecretsStoreCsi(`${name}-csi`, {
                resourceGroupName: rg.name,
                location: c.location,
                subscriptionId: client.subscriptionId,
                tenantId: client.tenantId,
                vault: { resourceId: vault.resourceId, name: vault.name },
                authorizationMode: c.authorizationMode,
                oidcIssuerUrl: c.secretsStoreCsi.oidcIssuerUrl,
                objects: c.secretsStoreCsi.objects,
                namespace: c.secretsStoreCsi.namespace,
                serviceAccountName: c.secretsStoreCsi.serviceAccountName,
                syncSecretName: c.secretsStoreCsi.syncSecretName,
                exampleDeployment: c.secretsStoreCsi.exampleDeployment,
                tags,
            }, { parent: this });
            this.secretProviderClassName = csi.secretProviderClassName;
        }

        this.resourceGroupName = rg.name;
        this.vaultName = vault.name;
        this.vaultUri = vault.uri;
        this.vaultId = vault.resourceId;
        this.workspaceId = monitoring.workspaceId;
        this.actionGroupId = monitoring.actionGroupId;
        this.registerOutputs(this.stackOutputs());
    }

    /** The outputs users need, as stack exports; absent features are simply omitted. */
    stackOutputs(): Record<string, pulumi.Output<unknown>> {
        const all: Record<string, pulumi.Output<unknown> | undefined> = {
            resourceGroupName: this.resourceGroupName,
            vaultName: this.vaultName,
            vaultUri: this.vaultUri,
            vaultId: this.vaultId,
            cmkVaultName: this.cmkVaultName,
            cosmosAccountName: this.cosmosAccountName,
            cosmosEndpoint: this.cosmosEndpoint,
            workspaceId: this.workspaceId,
            actionGroupId: this.actionGroupId,
            rotationFunctionAppName: this.rotationFunctionAppName,
            certificateIds: this.certificateIds,
            secretProviderClassName: this.secretProviderClassName,
        };
        return Object.fromEntries(Object.entries(all).filter((e): e is [string, pulumi.Output<unknown>] => e[1] !== undefined));
    }
}
