import { strict as assert } from "node:assert";
import { CertificateExportError, ExportClients, exportCertificatePfx, parseSecretId } from "../src";

describe("exportCertificatePfx", () => {
    const VAULT = "https://kv-kvp-prod.vault.azure.net/";
    // A real PKCS#12 file starts with a DER SEQUENCE (0x30); the rest stands in for the content.
    const PFX = Buffer.from([0x30, 0x82, 0x0a, 0x1b, 0x02, 0x01, 0x03, 0x30, 0x82]);

    function clients(over: { secretId?: string; enabled?: boolean; contentType?: string; value?: string } = {}) {
        const calls: Array<{ name: string; version?: string }> = [];
        const c: ExportClients = {
            certificates: {
                getCertificate: async (name) => ({
                    secretId: "secretId" in over ? over.secretId : `https://kv-kvp-prod.vault.azure.net/secrets/${name}/0123456789abcdef0123456789abcdef`,
                    properties: { enabled: over.enabled ?? true },
                }),
            },
            secrets: {
                getSecret: async (name, options) => {
                    calls.push({ name, version: options?.version });
                    return { value: "value" in over ? over.value : PFX.toString("base64"), properties: { contentType: over.contentType ?? "application/x-pkcs12" } };
                },
            },
        };
        return { c, calls };
    }

    it("returns the PFX bytes of the exact secret version the certificate points at", async () => {
        const { c, calls } = clients();
        const bytes = await exportCertificatePfx(VAULT, "api-tls", undefined, c);
        assert.ok(Buffer.isBuffer(bytes));
        assert.deepEqual(bytes, PFX);
        assert.deepEqual(calls, [{ name: "api-tls", version: "0123456789abcdef0123456789abcdef" }], "the secret is read by name and version, not by the version alone");
    });

    const failures: Array<[string, Parameters<typeof clients>[0], RegExp]> = [
        ["the certificate is disabled", { enabled: false }, /certificate api-tls is disabled/],
        ["the certificate has no secret yet", { secretId: undefined }, /has no secret yet; it may still be pending issuance/],
        ["the secret id is not a secret id", { secretId: "https://kv-kvp-prod.vault.azure.net/keys/api-tls/1" }, /is not a Key Vault secret id/],
        ["the secret lives in another vault", { secretId: "https://evil.vault.azure.net/secrets/api-tls/abc" }, /refusing to follow it to another vault/],
        ["the certificate is stored as PEM", { contentType: "application/x-pem-file" }, /stored as application\/x-pem-file, not application\/x-pkcs12/],
        ["the secret has no value", { value: "" }, /has no value; the key may not be exportable/],
        ["the value is not PKCS#12", { value: Buffer.from("-----BEGIN CERTIFICATE-----").toString("base64") }, /is not base64-encoded PKCS#12 data/],
    ];
    for (const [what, over, message] of failures) {
        it(`fails clearly when ${what}`, async () => {
            const { c } = clients(over);
            await assert.rejects(exportCertificatePfx(VAULT, "api-tls", undefined, c), (e: Error) => {
                assert.ok(e instanceof CertificateExportError);
                assert.match(e.message, message);
                assert.doesNotMatch(e.message, new RegExp(PFX.toString("base64").slice(0, 8)), "errors never carry the secret value");
                return true;
            });
        });
    }

    it("refuses a bad vault URL or certificate name before calling the vault", async () => {
        const { c, calls } = clients();
        await assert.rejects(exportCertificatePfx("not a url", "api-tls", undefined, c), /vaultUrl "not a url" is invalid/);
        await assert.rejects(exportCertificatePfx("http://kv.vault.azure.net", "api-tls", undefined, c), /must use https/);
        await assert.rejects(exportCertificatePfx(VAULT, "api/tls", undefined, c), /name "api\/tls" is invalid/);
        assert.equal(calls.length, 0);
    });

    it("parses secret ids with and without a version", () => {
        assert.deepEqual(parseSecretId("https://kv.vault.azure.net/secrets/a-b/abc123"), { origin: "https://kv.vault.azure.net", name: "a-b", version: "abc123" });
        assert.deepEqual(parseSecretId("https://kv.vault.azure.net/secrets/a-b"), { origin: "https://kv.vault.azure.net", name: "a-b", version: undefined });
        assert.equal(parseSecretId("http://kv.vault.azure.net/secrets/a"), undefined);
        assert.equal(parseSecretId("garbage"), undefined);
    });
});
