/**
 * Roles that can write role assignments on a vault, and so grant themselves or
 * anyone else data-plane access (Microsoft.Authorization/roleAssignments/write).
 * Key Vault Administrator is not here: it holds every data action but cannot
 * assign roles, and the platform offers it as a grantable role (config/roles.ts).
 */
export const ACCESS_GRANTING_ROLE_IDS: Readonly<Record<string, string>> = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": "Key Vault Data Access Administrator",
};
