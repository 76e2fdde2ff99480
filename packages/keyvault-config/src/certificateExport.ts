import type { TokenCredential } from "@azure/identity";

/**
 * PFX export of a Key Vault certificate: the Node counterpart of .NET's ExportCertificateAsync pattern.
 * Key Vault keeps the certificate's private key, as a PKCS#12 blob, in the secret that has the
 * certificate's name. So the export reads the certificate, follows its secret id to that
 * exact version, and base64-decodes the value.
 *
 * A common version of that pattern passes the last segment of the secret id (the version) as the secret name, which
 * only worked by accident of lookup rules. Here both name and version are parsed from the id.
 */

/** The subset of CertificateClient used here. */
export interface CertificateReader {
    getCertificate(name: string): Promise<{ secretId?: string; properties: { enabled?: boolean } }>;
}

/** The subset of SecretClient used here. */
export interface SecretReader {
    getSecret(name: string, options?: { version?: string }): Promise<{ value?: string; properties: { contentType?: string } }>;
}

export interface ExportClients {
    certificates: CertificateReader;
    secrets: SecretReader;
}

export class CertificateExportError extends Error {
    constructor(message: string) {
        super(`exportCertificatePfx: ${message}`);
        this.name = "CertificateExportError";
    }
}

const PKCS12 = "application/x-pkcs12";

/** Splits https://<vault>/secrets/<name>/<version> into its parts; undefined when it is not a secret id. */
export function parseSecretId(id: string): { origin: string; name: string; version?: string } | undefined {
    let url: URL;
    try {
        url = new URL(id);
    } catch {
        return undefined;
    }
    const m = /^\/secrets\/([A-Za-z0-9-]{1,127})(?:\/([A-Za-z0-9]+))?\/?$/.exec(url.pathname);
    if (url.protocol !== "https:" || !m) return undefined;
    return { origin: url.origin, name: m[1], version: m[2] };
}

async function defaultClients(vaultUrl: string, credential?: TokenCredential): Promise<ExportClients> {
    // Loaded on demand: callers that inject clients (tests, the server) never pay for the SDKs.
    const [{ CertificateClient }, { SecretClient }, identity] = await Promise.all([
        import("@azure/keyvault-certificates"),
        import("@azure/keyvault-secrets"),
        credential ? Promise.resolve(undefined) : import("@azure/identity"),
    ]);
    const cred = credential ?? new identity!.DefaultAzureCredential();
    return { certificates: new CertificateClient(vaultUrl, cred), secrets: new SecretClient(vaultUrl, cred) };
}

/**
 * Returns the PFX (PKCS#12) bytes of the certificate's current version, private key included.
 * The caller needs Key Vault Certificate User (or certificates get + secrets get) on the vault,
 * and the policy must mark the key exportable. The bytes are secret: never log them.
 */
export async function exportCertificatePfx(vaultUrl: string, name: string, credential?: TokenCredential, clients?: ExportClients): Promise<Buffer> {
    let vault: URL;
    try {
        vault = new URL(vaultUrl);
    } catch {
        throw new CertificateExportError(`vaultUrl ${JSON.stringify(vaultUrl)} is invalid; use the vault's https URL, e.g. https://kv-app-prod.vault.azure.net/`);
    }
    if (vault.protocol !== "https:") throw new CertificateExportError(`vaultUrl ${JSON.stringify(vaultUrl)} is invalid; it must use https`);
    if (!/^[A-Za-z0-9-]{1,127}$/.test(name)) throw new CertificateExportError(`name ${JSON.stringify(name)} is invalid; use 1-127 letters, digits and hyphens`);

    const { certificates, secrets } = clients ?? (await defaultClients(vaultUrl, credential));
    const certificate = await certificates.getCertificate(name);
    if (certificate.properties.enabled === false) throw new CertificateExportError(`certificate ${name} is disabled; enable it before exporting`);
    if (!certificate.secretId) throw new CertificateExportError(`certificate ${name} has no secret yet; it may still be pending issuance`);
    const ref = parseSecretId(certificate.secretId);
    if (!ref) throw new CertificateExportError(`certificate ${name} points at ${JSON.stringify(certificate.secretId)}, which is not a Key Vault secret id`);
    if (ref.origin.toLowerCase() !== vault.origin.toLowerCase()) {
        throw new CertificateExportError(`certificate ${name}'s secret is in ${ref.origin}, not ${vault.origin}; refusing to follow it to another vault`);
    }

    const secret = await secrets.getSecret(ref.name, ref.version ? { version: ref.version } : undefined);
    const contentType = secret.properties.contentType;
    if (contentType && contentType !== PKCS12) {
        throw new CertificateExportError(`certificate ${name} is stored as ${contentType}, not ${PKCS12}; set the policy's contentType to ${PKCS12} to export a PFX`);
    }
    if (!secret.value) throw new CertificateExportError(`certificate ${name}'s secret has no value; the key may not be exportable`);
    const pfx = Buffer.from(secret.value, "base64");
    // A PKCS#12 file is a DER SEQUENCE: anything else means the value was not base64 PFX.
    if (pfx.length < 4 || pfx[0] !== 0x30) throw new CertificateExportError(`certificate ${name}'s secret is not base64-encoded PKCS#12 data`);
    return pfx;
}
