import { CheckContext, Props, resourcePolicy, StackResource, StackViolation, stackPolicy, TYPES, vaultNameOf } from "./helpers";
import { FORBIDDEN_ROLE_IDS, KEY_VAULT_ROLES } from "@keyvault-platform/conventions";

/** Vaults (and the keys, secrets and certificates under them) and Cosmos DB accounts. */
const PROTECTED_SCOPE = /\/providers\/Microsoft\.(KeyVault\/vaults|DocumentDB\/databaseAccounts)\//i;

const GUID = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i;

/** Built-in role names the pack knows, for messages and for the classic provider's roleDefinitionName. */
const ROLE_NAMES: Readonly<Record<string, string>> = {
    ...FORBIDDEN_ROLE_IDS,
    ...Object.fromEntries(Object.values(KEY_VAULT_ROLES).map((r) => [r.id, r.displayName])),
};

/**
 * The role GUID at the end of a full role-definition id, the bare GUID, or, for the
 * classic provider's roleDefinitionName, the GUID of a built-in role the pack knows by name.
 */
export function roleGuidOf(roleDefinition: unknown): string | undefined {
    if (typeof roleDefinition !== "string") return undefined;
    const guid = GUID.exec(roleDefinition)?.[1]?.toLowerCase();
    if (guid) return guid;
    return Object.entries(ROLE_NAMES).find(([, name]) => name.toLowerCase() === roleDefinition.trim().toLowerCase())?.[0];
}

const roleNameOf = (guid: string) => ROLE_NAMES[guid] ?? guid;
const isForbidden = (guid: string, ids: string[]) => ids.some((id) => id.toLowerCase() === guid);

/**
 * Owner, Contributor and User Access Administrator (and Key Vault Contributor,
 * Role Based Access Control Administrator, Key Vault Data Access Administrator) can
 * each grant themselves data-plane access, so none is assigned on data-bearing scopes.
 */
export function checkNoPrivilegedRoleAtDataScope(props: Props, ctx: CheckContext): string[] {
    const guid = roleGuidOf(props.roleDefinitionId);
    const scope = typeof props.scope === "string" ? props.scope : "";
    if (!guid || !PROTECTED_SCOPE.test(`${scope}/`)) return [];
    if (!isForbidden(guid, ctx.config.forbiddenRoleIds)) return [];
    return [`role assignment grants ${roleNameOf(guid)} (${guid}) at ${scope}; privileged management roles are never assigned on a vault, key or Cosmos DB account`];
}

/**
 * Without principalType ARM must look the principal up, and an assignment meant for a
 * group can land on a same-id principal of another kind; the platform always states it.
 */
export function checkPrincipalType(props: Props): string[] {
    const t = props.principalType;
    return typeof t === "string" && t.trim().length > 0 ? [] : [`principalType is ${JSON.stringify(t)}; state User, Group or ServicePrincipal so the assignment cannot land on another kind of principal`];
}

/** The resource group of an ARM id, lower-cased, and whether the id is a subscription or management group root. */
function scopeParts(scope: string): { subscription?: string; resourceGroup?: string; isContainer: boolean } {
    const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1]?.toLowerCase();
    const rg = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i.exec(scope)?.[1]?.toLowerCase();
    const isContainer = /^\/providers\/Microsoft\.Management\/managementGroups\/[^/]+\/?$/i.test(scope)
        || /^\/subscriptions\/[^/]+\/?$/i.test(scope)
        || /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/?$/i.test(scope)
        || scope === "/";
    return { subscription: sub, resourceGroup: rg, isContainer };
}

function vaultLocation(vault: StackResource): { subscription?: string; resourceGroup?: string } {
    const id = typeof vault.props.id === "string" ? vault.props.id : "";
    const rg = vault.props.resourceGroupName;
    return {
        subscription: /^\/subscriptions\/([^/]+)/i.exec(id)?.[1]?.toLowerCase(),
        resourceGroup: (typeof rg === "string" ? rg : /\/resourceGroups\/([^/]+)/i.exec(id)?.[1])?.toLowerCase(),
    };
}

/**
 * An access-granting role on the resource group, subscription or management group that
 * holds a vault reaches the vault by inheritance. A vault whose subscription is not
 * known yet (preview) is assumed to be under a subscription-wide grant.
 */
export function checkNoAccessGrantingRoleAboveVault(resources: StackResource[], config: { forbiddenRoleIds: string[] }): StackViolation[] {
    const vaults = resources.filter((r) => r.type === TYPES.vault);
    if (vaults.length === 0) return [];
    return resources.filter((r) => r.type === TYPES.roleAssignment).flatMap((ra): StackViolation[] => {
        const guid = roleGuidOf(ra.props.roleDefinitionId);
        const scope = typeof ra.props.scope === "string" ? ra.props.scope : undefined;
        if (!guid || scope === undefined || !isForbidden(guid, config.forbiddenRoleIds)) return [];
        const { subscription, resourceGroup, isContainer } = scopeParts(scope);
        if (!isContainer) return [];
        const reached = vaults.filter((v) => {
            const at = vaultLocation(v);
            if (subscription && at.subscription && subscription !== at.subscription) return false;
            return resourceGroup === undefined || resourceGroup === at.resourceGroup;
        });
        if (reached.length === 0) return [];
        return [{
            urn: ra.urn,
            message: `role assignment ${ra.name} grants ${roleNameOf(guid)} (${guid}) at ${scope}, which holds vault(s) ${reached.map((v) => vaultNameOf(v) ?? v.name).join(", ")}; the role can grant itself or others data access to them`,
        }];
    });
}

export const roleAssignmentPolicies = [
    resourcePolicy({
        name: "no-privileged-role-at-data-scope",
        description: "No Owner, Contributor, User Access Administrator, Key Vault Contributor, RBAC Administrator or Key Vault Data Access Administrator role assignment at vault, key or Cosmos DB scope.",
        enforcementLevel: "mandatory",
        types: [TYPES.roleAssignment],
        mirrors: "privilegedRoles",
        remediation: "grant the narrowest Key Vault data role instead (stack config roleAssignments: secrets-user, crypto-service-encryption-user, ...)",
        configKeys: ["forbiddenRoleIds"],
        check: checkNoPrivilegedRoleAtDataScope,
    }),
    stackPolicy({
        name: "no-access-granting-role-above-vault",
        description: "No role that can grant data access (Owner, User Access Administrator, RBAC Administrator, Key Vault Data Access Administrator, ...) is assigned at the resource group, subscription or management group holding a vault.",
        enforcementLevel: "mandatory",
        mirrors: "privilegedRolesAbove",
        remediation: "assign the narrowest Key Vault data role at the vault instead; manage the resource group through a role without Microsoft.Authorization/roleAssignments/write",
        configKeys: ["forbiddenRoleIds"],
        check: checkNoAccessGrantingRoleAboveVault,
    }),
    resourcePolicy({
        name: "role-assignment-principal-type",
        description: "Role assignments state their principalType (User, Group or ServicePrincipal).",
        enforcementLevel: "mandatory",
        types: [TYPES.roleAssignment],
        mirrors: "principalType",
        remediation: "set principalType (stack config roleAssignments[].principalType)",
        check: checkPrincipalType,
    }),
];
