import { strict as assert } from "node:assert";
import { record, SUBSCRIPTION_ID, unwrap } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import {
    AutoRenewingCertificate, AutoRenewingCertificateArgs, certificatePolicy, createCertificateContacts, resolveCertificateSettings,
} from "../components/certificate";
import { createClassicAzureProvider } from "../components/helpers/classicAzureProvider";

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
