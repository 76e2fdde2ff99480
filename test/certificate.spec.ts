import { strict as assert } from "node:assert";
import { record, SUBSCRIPTION_ID, unwrap } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import {
    AutoRenewingCertificate, AutoRenewingCertificateArgs, certificatePolicy, createCertificateContacts, resolveCertificateSettings,
} from "../components/certificate";
import { createClassicAzureProvider } from "../components/helpers/classicAzureProvider";
import { CertificateExportError, ExportClients, exportCertificatePfx, parseSecretId } from "../lib/certificateExport";

const T = {
    component: "keyvault-platform:certs:AutoRenewingCertificate",
    certificate: "azure:keyvault/certificate:Certificate",
    contacts: "azure:keyvault/certificateContacts:CertificateContacts",
    provider: "pulumi:providers:azure",
};
const VAULT_ID = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kv-kvp-prod`;

describe("AutoRenewingCertificate settings", () => {
    const base = { certificateName: "api-tls", subject: "CN=api.example.com" };

    it("defaults to the documented policy values", () => {
        const s = resolveCertificateSettings(base);
        assert.equal(s.keySize, 4096);
        assert.equal(s.validityMonths, 12);
        assert.equal(s.autoRenewDaysBeforeExpiry, 30);
        assert.equal(s.emailDaysBeforeExpiry, 60);
        assert.deepEqual(s.dnsNames, []);
    });

    const bad: Array<[string, Partial<AutoRenewingCertificateArgs>, RegExp]> = [
        ["a name with an underscore", { certificateName: "api_tls" }, /certificateName "api_tls" is invalid; must be 1-127 letters, digits and hyphens/],
        ["a subject without CN=", { subject: "api.example.com" }, /subject "api.example.com" is invalid; must be an X.500 subject starting with CN=/],
        ["a DNS name with a space", { dnsNames: ["api example.com"] }, /dnsNames\[0\] "api example.com" is invalid/],
        ["a duplicated DNS name", { dnsNames: ["a.example.com", "A.example.com"] }, /dnsNames .* lists a name twice/],
        ["zero months of validity", { validityMonths: 0 }, /validityMonths 0 is invalid; must be a whole number of months from 1 to 120/],
        ["fractional months of validity", { validityMonths: 1.5 }, /validityMonths 1.5 is invalid/],
        ["an RSA size Key Vault does not issue", { keySize: 1024 as 2048 }, /keySize 1024 is invalid; allowed RSA sizes: 2048, 3072, 4096/],
        ["a renewal lead time beyond Key Vault's limit", { validityMonths: 1 }, /autoRenewDaysBeforeExpiry 30 is invalid; must be a whole number of days from 1 to 27 .*raise validityMonths/],
        ["an e-mail lead time beyond Key Vault's limit", { validityMonths: 2 }, /emailDaysBeforeExpiry 60 is invalid; must be a whole number of days from 1 to 54/],
        ["a zero-day renewal", { autoRenewDaysBeforeExpiry: 0 }, /autoRenewDaysBeforeExpiry 0 is invalid/],
    ];
    for (const [what, over, message] of bad) {
        it(`refuses ${what} with a RunError naming the field`, () => {
            assert.throws(() => resolveCertificateSettings({ ...base, ...over }), (e: Error) => {
                assert.ok(pulumi.RunError.isInstance(e));
                assert.match(e.message, /^AutoRenewingCertificate: /);
                assert.match(e.message, message);
                return true;
            });
        });
    }

    it("builds the policy: self-issued RSA 4096, fresh key, exportable PKCS#12, both lifetime actions, TLS usages", () => {
        const p = certificatePolicy(resolveCertificateSettings({ ...base, dnsNames: ["api.example.com", "www.example.com"], validityMonths: 24 }));
        assert.deepEqual(p.issuerParameters, { name: "Self" });
        assert.deepEqual(p.keyProperties, { keyType: "RSA", keySize: 4096, reuseKey: false, exportable: true });
        assert.deepEqual(p.secretProperties, { contentType: "application/x-pkcs12" });
        assert.deepEqual(p.lifetimeActions, [
            { action: { actionType: "AutoRenew" }, trigger: { daysBeforeExpiry: 30 } },
            { action: { actionType: "EmailContacts" }, trigger: { daysBeforeExpiry: 60 } },
        ]);
        assert.deepEqual(p.x509CertificateProperties, {
            subject: "CN=api.example.com",
            validityInMonths: 24,
            keyUsages: ["digitalSignature", "keyEncipherment"],
            extendedKeyUsages: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
            subjectAlternativeNames: { dnsNames: ["api.example.com", "www.example.com"] },
        });
    });

    it("leaves out subject alternative names when there are none", () => {
        const p = certificatePolicy(resolveCertificateSettings(base));
        assert.equal((p.x509CertificateProperties as unknown as Record<string, unknown>).subjectAlternativeNames, undefined);
    });
});

describe("AutoRenewingCertificate", () => {
    async function run(over: Partial<AutoRenewingCertificateArgs> = {}, withContacts = true) {
        let cert!: AutoRenewingCertificate;
        const rec = await record(() => {
            const provider = createClassicAzureProvider("classic", { subscriptionId: SUBSCRIPTION_ID });
            const contacts = withContacts ? createCertificateContacts("kv-contacts", { keyVaultId: VAULT_ID, provider, emails: ["secops@example.com", "oncall@example.com"] }) : undefined;
            cert = new AutoRenewingCertificate("api-tls", {
                keyVaultId: VAULT_ID,
                provider,
                certificateName: "api-tls",
                subject: "CN=api.example.com",
                dnsNames: ["api.example.com"],
                validityMonths: 12,
                dependsOn: contacts ? [contacts] : [],
                ...over,
            });
        });
        return { rec, cert };
    }

    it("creates the certificate as a child named <name>-cert with both lifetime actions", async () => {
        const { rec } = await run();
        const component = rec.one(T.component);
        const c = rec.one(T.certificate);
        assert.equal(c.name, "api-tls-cert");
        assert.equal(c.parentUrn, component.urn);
        assert.equal(c.inputs.name, "api-tls");
        assert.equal(c.inputs.keyVaultId, VAULT_ID);
        const actions = c.inputs.certificatePolicy.lifetimeActions.map((a: any) => [a.action.actionType, a.trigger.daysBeforeExpiry]);
        assert.deepEqual(actions, [["AutoRenew", 30], ["EmailContacts", 60]]);
        assert.equal(c.inputs.certificatePolicy.keyProperties.reuseKey, false);
        assert.deepEqual(c.inputs.certificatePolicy.x509CertificateProperties.subjectAlternativeNames, { dnsNames: ["api.example.com"] });
    });

    it("waits for the vault's certificate contacts, which list every configured address", async () => {
        const { rec } = await run();
        const contacts = rec.one(T.contacts);
        assert.deepEqual(contacts.inputs.contacts, [{ email: "secops@example.com" }, { email: "oncall@example.com" }]);
        assert.equal(contacts.inputs.keyVaultId, VAULT_ID);
        assert.ok(rec.dependsOn(rec.one(T.certificate), contacts));
    });

    it("configures the classic provider to use Entra ID for storage and never to purge vault objects", async () => {
        const { rec } = await run();
        const p = rec.one(T.provider);
        // The provider marks some inputs secret; the engine payload wraps those as { <sig>, value }.
        const plain = (v: any) => (v && typeof v === "object" && "value" in v && Object.keys(v).length === 2 ? v.value : v);
        assert.equal(plain(p.inputs.subscriptionId), SUBSCRIPTION_ID);
        assert.equal(String(plain(p.inputs.storageUseAzuread)), "true");
        assert.equal(plain(p.inputs.resourceProviderRegistrations), "none");
        const raw = plain(p.inputs.features);
        const features = typeof raw === "string" ? JSON.parse(raw) : raw;
        const kv = Array.isArray(features.keyVault) ? features.keyVault[0] : features.keyVault;
        assert.equal(kv.purgeSoftDeletedCertificatesOnDestroy, false);
        assert.equal(kv.purgeSoftDeleteOnDestroy, false);
        assert.equal(kv.recoverSoftDeletedCertificates, true);
    });

    it("exposes the versionless secret id consumers should read", async () => {
        const { cert } = await run();
        assert.match(await unwrap(cert.versionlessSecretId), /\/secrets\/api-tls$/);
        assert.equal(await unwrap(cert.name), "api-tls");
    });

    it("refuses contacts with no address or a malformed one", () => {
        const provider = createClassicAzureProvider("classic-x", { subscriptionId: SUBSCRIPTION_ID });
        assert.throws(() => createCertificateContacts("c", { keyVaultId: VAULT_ID, provider, emails: [] }), /CertificateContacts: emails \[\] is invalid; list at least one address/);
        assert.throws(() => createCertificateContacts("c", { keyVaultId: VAULT_ID, provider, emails: ["not-an-email"] }), /CertificateContacts: emails\[0\] "not-an-email" is invalid/);
    });

    it("refuses bad settings before creating anything", async () => {
        const rec = await record(() => {
            assert.throws(() => new AutoRenewingCertificate("bad", {
                keyVaultId: VAULT_ID, provider: createClassicAzureProvider("classic-bad", { subscriptionId: SUBSCRIPTION_ID }), certificateName: "bad name", subject: "CN=x",
            }), /AutoRenewingCertificate: certificateName "bad name"/);
        });
        assert.equal(rec.ofType(T.certificate).length, 0);
    });
});

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
