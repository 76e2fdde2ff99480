import * as pulumi from "@pulumi/pulumi";
import { Provider } from "@pulumi/azure/provider";

/**
 * The one explicit `@pulumi/azure` (classic) provider the platform uses, for the two things
 * azure-native cannot do: Key Vault certificates (a data-plane object azure-native has no
 * resource for) and blob uploads to a storage account with shared keys disabled.
 *
 * It is explicit rather than the default provider so that its settings are code, not whatever
 * `azure:*` keys happen to be in a stack file:
 * - `storageUseAzuread`: data-plane storage calls use Entra ID, never account keys;
 * - Key Vault objects are never purged on destroy (purge protection would refuse it, and a
 *   purge defeats soft delete) and soft-deleted ones are recovered instead of colliding;
 * - `resourceProviderRegistrations: "none"`: it must not try to register every resource
 *   provider in the subscription, which needs rights the deployer should not have.
 */
export interface ClassicAzureProviderArgs {
    /** Required. Subscription the classic provider operates in (the same as azure-native's). */
    subscriptionId: pulumi.Input<string>;
    /** Optional. Entra tenant. Defaults to the ambient credential's tenant. */
    tenantId?: pulumi.Input<string>;
}

export function createClassicAzureProvider(name: string, args: ClassicAzureProviderArgs, opts?: pulumi.CustomResourceOptions): Provider {
    return new Provider(name, {
        subscriptionId: args.subscriptionId,
        tenantId: args.tenantId,
        storageUseAzuread: true,
        resourceProviderRegistrations: "none",
        features: {
            keyVault: {
                purgeSoftDeleteOnDestroy: false,
                purgeSoftDeletedCertificatesOnDestroy: false,
                purgeSoftDeletedKeysOnDestroy: false,
                purgeSoftDeletedSecretsOnDestroy: false,
                recoverSoftDeletedCertificates: true,
                recoverSoftDeletedKeys: true,
                recoverSoftDeletedSecrets: true,
                recoverSoftDeletedKeyVaults: true,
            },
        },
    }, opts);
}
