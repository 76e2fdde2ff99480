/**
 * The Key Vault key a Pulumi secrets provider may name: azurekeyvault://<vault>.vault.<cloud>/keys/<key>[/<version>].
 * Settings check KVP_SECRETS_PROVIDER against it, and the engine refuses anything else it is handed.
 */
export const KEY_VAULT_SECRETS_PROVIDER = /^azurekeyvault:\/\/[a-z0-9-]{3,24}\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net)\/keys\/[A-Za-z0-9-]{1,127}(\/[0-9a-f]{32})?$/i;
