export { createKeyVaultConfig, KeyVaultConfig, KeyVaultConfigError } from "./config";
export type { ConfigChange, KeyVaultConfigOptions } from "./config";
export { configKeyFor, isLoadable, toTree } from "./keys";
export type { SecretClientPort, SecretLike, SecretPropertiesLike } from "./port";
export { CertificateExportError, exportCertificatePfx, parseSecretId } from "./certificateExport";
export type { CertificateReader, ExportClients, SecretReader } from "./certificateExport";
