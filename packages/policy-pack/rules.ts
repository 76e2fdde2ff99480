/**
 * The external rules each policy mirrors. Every id below was checked against its
 * source: PSRule for Azure's rule files and docs (Azure/PSRule.Rules.Azure),
 * Checkov's check classes (bridgecrewio/checkov, `id = "CKV_AZURE_…"`), and the
 * built-in Azure Policy definitions (Azure/azure-policy, the definition `name`).
 * Where no such rule exists the citation says which guidance the policy follows.
 */
export const MIRRORS = {
    softDelete: "PSRule Azure.KeyVault.SoftDelete; Checkov CKV_AZURE_111 and CKV_AZURE_42; Azure Policy 1e66c121-a66a-4b1f-9b83-0fd99bf0fc2d (Key vaults should have soft delete enabled)",
    purgeProtection: "PSRule Azure.KeyVault.PurgeProtect; Checkov CKV_AZURE_110; Azure Policy 0b60c0b2-2dc2-4e1c-b5c9-abbed971de53 (Key Vault objects should be recoverable)",
    rbac: "PSRule Azure.KeyVault.RBAC; Azure Policy 12d4fa5e-1f9f-4c21-97a9-b99b3c6611b5 (Azure Key Vault should use RBAC permission model)",
    firewall: "PSRule Azure.KeyVault.Firewall; Checkov CKV_AZURE_109; Azure Policy 55615ac9-af46-4a59-874e-391cc3dfb490 (Azure Key Vault should have firewall enabled)",
    publicNetworkAccess: "Checkov CKV_AZURE_189; Azure Policy 405c5871-3e91-4644-8a63-58e19d68ff5b (Azure Key Vault should disable public network access)",
    enabledForFlags: "PSRule Azure.KeyVault.Firewall (each enabledFor* flag opens a trusted-service path through the firewall); no PSRule, Checkov or Azure Policy rule checks the flags themselves",
    accessPolicy: "PSRule Azure.KeyVault.AccessPolicy (never grant All or Purge)",
    keyExpiry: "Checkov CKV_AZURE_40; Azure Policy 152b15f7-8e1f-4c1f-ab71-8c010ba5dbc0 (Key Vault keys should have an expiration date)",
    keyRotation: "PSRule Azure.KeyVault.AutoRotationPolicy; Azure Policy d8cf8476-a2ec-4916-896e-992351803c44 (Keys should have a rotation policy ensuring that their rotation is scheduled within the specified number of days after creation)",
    rsaKeySize: "Azure Policy 82067dbb-e53b-4e06-b631-546d197452d9 (Keys using RSA cryptography should have a specified minimum key size)",
    hsmKeys: "Checkov CKV_AZURE_112; Azure Policy 587c79fe-dd04-4a5e-9d0b-f89598c7261b (Keys should be backed by a hardware security module (HSM))",
    secretExpiry: "Checkov CKV_AZURE_41; Azure Policy 98728c90-32c7-4049-8429-847dc0f4fe37 (Key Vault secrets should have an expiration date)",
    secretContentType: "Checkov CKV_AZURE_114; Azure Policy 75262d3e-ba4a-4f43-85f8-9f72c090e5e3 (Secrets should have content type set)",
    diagnostics: "PSRule Azure.KeyVault.Logs; Azure Policy cf820ca0-f99e-4f3e-84fb-66e913812d21 (Resource logs in Key Vault should be enabled)",
    certificateLifetime: "Azure Policy 12ef42cb-9903-4e39-9c26-422d29570417 (certificate lifetime action triggers)",
    cosmosCmk: "Checkov CKV_AZURE_100; Azure Policy 1f905d99-2ab7-462c-a6b0-f709acca6c8f (Azure Cosmos DB accounts should use customer-managed keys to encrypt data at rest)",
    cosmosVersionlessKey: "Azure Policy 1f905d99-2ab7-462c-a6b0-f709acca6c8f with Cosmos DB's CMK guidance: a versionless key URI lets Key Vault rotation take effect without a redeploy",
    cosmosLocalAuth: "PSRule Azure.Cosmos.DisableLocalAuth; Checkov CKV_AZURE_140; Azure Policy 5450f5bd-9c72-4390-a9c4-a7aba4edfdd2 (Cosmos DB database accounts should have local authentication methods disabled)",
    cosmosPublicAccess: "PSRule Azure.Cosmos.PublicAccess; Checkov CKV_AZURE_101; Azure Policy 797b37f7-06b8-444c-b1ad-fc62867f335a (Azure Cosmos DB should disable public network access)",
    cosmosMinTls: "PSRule Azure.Cosmos.MinTLS",
    privilegedRoles: "Sonar RSPEC-6381 (Owner, Contributor and User Access Administrator assignments); Key Vault's RBAC guidance: roles with Microsoft.KeyVault/vaults/write or role-assignment rights can grant themselves data-plane access",
    allowedLocations: "PSRule Azure.Resource.AllowedRegions; Azure Policy e56962a6-4747-49cd-b67b-bf8b01975c4c (Allowed locations)",
    storageMinTls: "PSRule Azure.Storage.MinTLS; Checkov CKV_AZURE_44; Azure Policy fe83a0eb-a853-422d-aac2-1bffd182c5d0 (Storage accounts should have the specified minimum TLS version)",
    appServiceMinTls: "PSRule Azure.AppService.MinTLS; Checkov CKV_AZURE_15",
    eventGridDeadLetter: "Event Grid delivery guidance (dead-letter undeliverable events); no PSRule, Checkov or Azure Policy rule covers subscriptions",
    privateEndpointGroupId: "Key Vault private link: the only sub-resource (group id) of Microsoft.KeyVault/vaults is 'vault'; no PSRule, Checkov or Azure Policy rule checks it",
    privilegedRolesAbove: "PSRule Azure.RBAC.LimitOwner (limit Owner assignments at subscription scope); Key Vault's RBAC guidance: a role with Microsoft.Authorization/roleAssignments/write at a resource group or subscription can grant itself data access to every vault below it",
    principalType: "Azure RBAC guidance (set principalType on every role assignment); no PSRule, Checkov or Azure Policy rule checks it",
    firewallAllowAll: "PSRule Azure.KeyVault.Firewall; Checkov CKV_AZURE_109 (an allow-all rule defeats default deny); Azure Policy 55615ac9-af46-4a59-874e-391cc3dfb490 (Azure Key Vault should have firewall enabled)",
    privateLink: "Azure Policy a6abeaec-4d90-4a02-805f-6b26c4d3fbe9 (Azure Key Vaults should use private link) and 405c5871-3e91-4644-8a63-58e19d68ff5b (Azure Key Vault should disable public network access); Checkov CKV_AZURE_189",
    cmkKeyType: "Azure Policy 75c4f823-d65c-4f29-a733-01d0077fdbcb (Keys should be the specified cryptographic type RSA or EC); Cosmos DB, Storage and SQL accept only RSA/RSA-HSM keys as CMKs, and an exportable key can leave the HSM",
    secretMaxValidity: "Azure Policy 342e8053-e12e-4c44-be01-c3c2f318400f (Secrets should have the specified maximum validity period)",
    keyMaxRotation: "Azure Policy d8cf8476-a2ec-4916-896e-992351803c44 (Keys should have a rotation policy ensuring that their rotation is scheduled within the specified number of days after creation) and 49a22571-d204-4c91-a7b6-09b1a586fbc9 (Keys should have the specified maximum validity period)",
    certificateValidity: "Azure Policy 0a075868-4c26-42ef-914c-5bc007359560 (Certificates should have the specified maximum validity period)",
    certificateKey: "Azure Policy 1151cede-290b-4ba0-8b38-0ad145ac888f (Certificates should use allowed key types) and cee51871-e572-4576-855c-047c820360f0 (Certificates using RSA cryptography should have the specified minimum key size)",
} as const;

export type MirroredRule = keyof typeof MIRRORS;
