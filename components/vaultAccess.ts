import * as pulumi from "@pulumi/pulumi";
import { RoleAssignment } from "@pulumi/azure-native/authorization/roleAssignment";
import { AccessPolicy } from "@pulumi/azure-native/keyvault/accessPolicy";
import { FORBIDDEN_ROLE_IDS, KEY_VAULT_ROLES, KeyVaultRole, PrincipalType, ROLE_ACCESS_POLICY_EQUIVALENT, roleAssignmentName, roleDefinitionId } from "@keyvault-platform/conventions";

export type AuthorizationMode = "rbac" | "accessPolicies";

export interface VaultAccessGrant {
    /** Required. Logical name of the grant resource. */
    name: string;
    /** Required. How the vault authorizes data-plane calls. */
    mode: AuthorizationMode;
    /** Required. ARM id the role applies to: the vault, or a single key/secret within it. */
    scope: pulumi.Input<string>;
    /** Required. Vault name (access policies are vault-wide). */
    vaultName: pulumi.Input<string>;
    /** Required. Resource group of the vault. */
    resourceGroupName: pulumi.Input<string>;
    /** Required. Tenant of the principal (access policies only). */
    tenantId: pulumi.Input<string>;
    /** Required. Entra object id of the principal. */
    principalId: pulumi.Input<string>;
    /** Required. Kind of principal; ARM uses it to skip a directory lookup during RBAC propagation. */
    principalType: PrincipalType;
    /** Required. Built-in Key Vault role by friendly name. */
    role: KeyVaultRole;
    /** Required. Subscription that holds the role definitions. */
    subscriptionId: pulumi.Input<string>;
}

/**
 * Grants a principal a Key Vault role in whichever way the vault authorizes:
 * an RBAC role assignment with a deterministic name, or the equivalent
 * access-policy entry (never `all` or `purge`) on an access-policy vault.
 *
 * Access policies cannot be scoped below the vault, so a key-scoped grant
 * widens to the vault in that mode; RBAC mode is the only least-privilege one.
 * A vault holds one policy per object id, and each AccessPolicy resource replaces
 * it whole: give a principal at most one access-policy grant per vault.
 */
export function grantVaultAccess(grant: VaultAccessGrant, parent: pulumi.Resource, dependsOn?: pulumi.Input<pulumi.Resource>[]): pulumi.CustomResource {
    // Callers outside TypeScript's reach (parsed JSON, casts) must still get a clear error, not a TypeError.
    const role = Object.hasOwn(KEY_VAULT_ROLES, grant.role) ? KEY_VAULT_ROLES[grant.role] : undefined;
    if (!role) {
        throw new pulumi.RunError(`grantVaultAccess '${grant.name}': role '${grant.role}' is not a grantable Key Vault role; allowed: ${Object.keys(KEY_VAULT_ROLES).join(", ")}`);
    }
    if (FORBIDDEN_ROLE_IDS[role.id]) {
        throw new pulumi.RunError(`grantVaultAccess '${grant.name}': role '${grant.role}' is ${FORBIDDEN_ROLE_IDS[role.id]}, which is never granted at vault or key scope`);
    }
    if (grant.mode !== "rbac" && grant.mode !== "accessPolicies") {
        // Without this, a misspelt mode would silently fall through to an access policy.
        throw new pulumi.RunError(`grantVaultAccess '${grant.name}': mode '${grant.mode}' must be one of "rbac", "accessPolicies"`);
    }
    const roleGuid = role.id;
    if (grant.mode === "rbac") {
        return new RoleAssignment(grant.name, {
            scope: grant.scope,
            roleAssignmentName: pulumi.all([grant.scope, grant.principalId]).apply(([scope, principal]) => roleAssignmentName(scope, principal, roleGuid)),
            roleDefinitionId: pulumi.output(grant.subscriptionId).apply((sub) => roleDefinitionId(sub, roleGuid)),
            principalId: grant.principalId,
            principalType: grant.principalType,
            description: `keyvault-platform: ${role.displayName}`,
        }, { parent, dependsOn });
    }
    const perms = ROLE_ACCESS_POLICY_EQUIVALENT[grant.role];
    return new AccessPolicy(grant.name, {
        vaultName: grant.vaultName,
        resourceGroupName: grant.resourceGroupName,
        policy: {
            tenantId: grant.tenantId,
            objectId: grant.principalId,
            permissions: { keys: perms.keys, secrets: perms.secrets, certificates: perms.certificates },
        },
    }, { parent, dependsOn });
}
