import { CheckContext, Props, resourcePolicy, TYPES } from "./helpers";
import { FORBIDDEN_ROLE_IDS } from "../config/roles";

/** Vaults (and the keys, secrets and certificates under them) and Cosmos DB accounts. */
const PROTECTED_SCOPE = /\/providers\/Microsoft\.(KeyVault\/vaults|DocumentDB\/databaseAccounts)\//i;

/** The role GUID at the end of a full role-definition id (or the bare GUID). */
export function roleGuidOf(roleDefinitionId: unknown): string | undefined {
    if (typeof roleDefinitionId !== "string") return undefined;
    return /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i.exec(roleDefinitionId)?.[1]?.toLowerCase();
}

/**
 * Owner, Contributor and User Access Administrator (and Key Vault Contributor) can
 * each grant themselves data-plane access, so none is assigned on data-bearing scopes.
 */
export function checkNoPrivilegedRoleAtDataScope(props: Props, ctx: CheckContext): string[] {
    const guid = roleGuidOf(props.roleDefinitionId);
    const scope = typeof props.scope === "string" ? props.scope : "";
    if (!guid || !PROTECTED_SCOPE.test(`${scope}/`)) return [];
    if (!ctx.config.forbiddenRoleIds.some((id) => id.toLowerCase() === guid)) return [];
    const roleName = FORBIDDEN_ROLE_IDS[guid] ?? guid;
    return [`role assignment grants ${roleName} (${guid}) at ${scope}; privileged management roles are never assigned on a vault, key or Cosmos DB account`];
}

export const roleAssignmentPolicies = [
    resourcePolicy({
        name: "no-privileged-role-at-data-scope",
        description: "No Owner, Contributor, User Access Administrator or Key Vault Contributor role assignment at vault, key or Cosmos DB scope.",
        enforcementLevel: "mandatory",
        types: [TYPES.roleAssignment],
        mirrors: "privilegedRoles",
        remediation: "grant the narrowest Key Vault data role instead (stack config roleAssignments: secrets-user, crypto-service-encryption-user, ...)",
        configKeys: ["forbiddenRoleIds"],
        check: checkNoPrivilegedRoleAtDataScope,
    }),
];
