import { v5 as uuidv5 } from "uuid";

/**
 * The built-in Key Vault roles callers may grant, by friendly name.
 * Owner, Contributor, User Access Administrator and "Key Vault Contributor" are
 * deliberately absent: each can grant itself data-plane access, which defeats RBAC.
 */
export const KEY_VAULT_ROLES = {
    "administrator": { id: "00482a5a-887f-4fb3-b363-3b7fe8e74483", displayName: "Key Vault Administrator" },
    "secrets-officer": { id: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", displayName: "Key Vault Secrets Officer" },
    "secrets-user": { id: "4633458b-17de-408a-b874-0445c86b69e6", displayName: "Key Vault Secrets User" },
    "crypto-officer": { id: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", displayName: "Key Vault Crypto Officer" },
    "crypto-user": { id: "12338af0-0e69-4776-bea7-57ae8d297424", displayName: "Key Vault Crypto User" },
    "crypto-service-encryption-user": { id: "e147488a-f6f5-4113-8e2d-b22465e65bf6", displayName: "Key Vault Crypto Service Encryption User" },
    "certificates-officer": { id: "a4417e6f-fecd-4de8-b567-7b0420556985", displayName: "Key Vault Certificates Officer" },
    "certificate-user": { id: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", displayName: "Key Vault Certificate User" },
    "reader": { id: "21090545-7ca7-4776-b22c-e363652d74d2", displayName: "Key Vault Reader" },
} as const;

export type KeyVaultRole = keyof typeof KEY_VAULT_ROLES;
export const KEY_VAULT_ROLE_NAMES = Object.keys(KEY_VAULT_ROLES) as [KeyVaultRole, ...KeyVaultRole[]];

/** Built-in roles outside Key Vault that the platform itself assigns (never user-grantable). */
export const PLATFORM_ROLES = {
    "sql-server-contributor": "6d8ee4ec-f05a-4a1d-8b00-a9b17e38b437",
    "storage-blob-data-owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storage-queue-data-contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storage-table-data-contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "monitoring-metrics-publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
} as const;

/**
 * Roles that can write role assignments (Microsoft.Authorization/roleAssignments/write), and so
 * grant themselves or anyone else data-plane access, at a vault or at any scope above it. Key Vault
 * Administrator is not here: it holds every data action but cannot assign roles, and the platform
 * offers it as a grantable role.
 */
const ACCESS_GRANTING_ROLE_IDS: Readonly<Record<string, string>> = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": "Key Vault Data Access Administrator",
};

/** Role definition ids that must never be granted at vault, key or Cosmos scope. */
export const FORBIDDEN_ROLE_IDS: Readonly<Record<string, string>> = {
    ...ACCESS_GRANTING_ROLE_IDS,
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "f25e0fa2-a7c8-4377-a976-54943a77a395": "Key Vault Contributor",
};

export const PRINCIPAL_TYPES = ["User", "Group", "ServicePrincipal"] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

/** The full ARM role-definition id, as role assignments require. */
export function roleDefinitionId(subscriptionId: string, roleGuid: string): string {
    return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`;
}

// A fixed namespace so that the same (scope, principal, role) always yields the same name.
const ROLE_ASSIGNMENT_NAMESPACE = "5b3c0c8e-6a3f-4d0b-9c55-2f7e6f1d9a41";

/**
 * Deterministic role-assignment name (a UUIDv5), like Bicep's guid(scope, principal, role).
 * Scope is case-folded because ARM ids are case-insensitive, so a re-cased id must not
 * create a second, duplicate assignment.
 */
export function roleAssignmentName(scope: string, principalId: string, roleGuid: string): string {
    return uuidv5(`${scope.toLowerCase()}|${principalId.toLowerCase()}|${roleGuid.toLowerCase()}`, ROLE_ASSIGNMENT_NAMESPACE);
}

/**
 * Access-policy permissions equivalent to each role, for vaults in accessPolicies mode.
 * Never includes purge: recovery must stay possible.
 */
export const ROLE_ACCESS_POLICY_EQUIVALENT: Record<KeyVaultRole, { keys: string[]; secrets: string[]; certificates: string[] }> = {
    "administrator": {
        keys: ["get", "list", "create", "update", "import", "delete", "recover", "backup", "restore", "rotate", "getrotationpolicy", "setrotationpolicy"],
        secrets: ["get", "list", "set", "delete", "recover", "backup", "restore"],
        certificates: ["get", "list", "create", "update", "import", "delete", "recover", "backup", "restore", "managecontacts", "manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers"],
    },
    "secrets-officer": { keys: [], secrets: ["get", "list", "set", "delete", "recover", "backup", "restore"], certificates: [] },
    "secrets-user": { keys: [], secrets: ["get", "list"], certificates: [] },
    "crypto-officer": {
        keys: ["get", "list", "create", "update", "import", "delete", "recover", "backup", "restore", "rotate", "getrotationpolicy", "setrotationpolicy"],
        secrets: [],
        certificates: [],
    },
    "crypto-user": { keys: ["get", "list", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify"], secrets: [], certificates: [] },
    "crypto-service-encryption-user": { keys: ["get", "wrapKey", "unwrapKey"], secrets: [], certificates: [] },
    "certificates-officer": {
        keys: [],
        secrets: [],
        certificates: ["get", "list", "create", "update", "import", "delete", "recover", "backup", "restore", "managecontacts", "manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers"],
    },
    "certificate-user": { keys: [], secrets: ["get"], certificates: ["get", "list"] },
    "reader": { keys: ["list"], secrets: ["list"], certificates: ["list"] },
};
