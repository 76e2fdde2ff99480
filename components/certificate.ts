import * as pulumi from "@pulumi/pulumi";
import { Certificate } from "@pulumi/azure/keyvault/certificate";
import { CertificateContacts } from "@pulumi/azure/keyvault/certificateContacts";
import type { Provider } from "@pulumi/azure/provider";
import type * as azureInputs from "@pulumi/azure/types/input";
import { emailProblem } from "../config/validators";

const COMPONENT = "AutoRenewingCertificate";

export const CERTIFICATE_KEY_SIZES = [2048, 3072, 4096] as const;
export type CertificateKeySize = (typeof CERTIFICATE_KEY_SIZES)[number];

/** Server and client authentication: the certificate serves TLS both ways. */
export const TLS_EXTENDED_KEY_USAGES = ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"] as const;

/**
 * Key Vault accepts a `daysBeforeExpiry` trigger only up to validityInMonths x 27
 * (the shortest month, less a day), so the bound is checked before any API call.
 */
const DAYS_PER_MONTH_FOR_TRIGGERS = 27;

export interface AutoRenewingCertificateArgs {
    /** Required. ARM id of the vault that issues and holds the certificate. */
    keyVaultId: pulumi.Input<string>;
    /** Required. The explicit classic provider (see createClassicAzureProvider); certificates are Key Vault data-plane objects. */
    provider: Provider;
    /** Required. Certificate name in the vault: 1-127 letters, digits and hyphens. */
    certificateName: string;
    /** Required. X.500 subject, e.g. CN=api.example.com. */
    subject: string;
    /** Optional. DNS subject alternative names. Defaults to none. */
    dnsNames?: string[];
    /** Optional. Validity of each issued version, in months (1-120). Defaults to 12. */
    validityMonths?: number;
    /** Optional. RSA key size. Defaults to 4096. */
    keySize?: CertificateKeySize;
    /** Optional. Days before expiry at which Key Vault renews the certificate. Defaults to 30. */
    autoRenewDaysBeforeExpiry?: number;
    /** Optional. Days before expiry at which Key Vault emails the vault's certificate contacts. Defaults to 60. */
    emailDaysBeforeExpiry?: number;
    /**
     * Optional. Resources the certificate must wait for: the deployer's data-plane grant on the
     * vault (Key Vault Certificates Officer) and the vault's certificate contacts. Defaults to none.
     */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** Optional. Tags on the certificate. Defaults to none. */
    tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The plain settings, after defaults, that shape the certificate policy. */
export interface CertificateSettings {
    certificateName: string;
    subject: string;
    dnsNames: string[];
    validityMonths: number;
    keySize: CertificateKeySize;
    autoRenewDaysBeforeExpiry: number;
    emailDaysBeforeExpiry: number;
}

function fail(field: string, value: unknown, allowed: string): never {
    throw new pulumi.RunError(`${COMPONENT}: ${field} ${JSON.stringify(value)} is invalid; ${allowed}`);
}

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Applies the defaults and validates everything Key Vault would reject later. */
export function resolveCertificateSettings(args: Pick<AutoRenewingCertificateArgs, keyof CertificateSettings>): CertificateSettings {
    const s: CertificateSettings = {
        certificateName: args.certificateName,
        subject: args.subject,
        dnsNames: args.dnsNames ?? [],
        validityMonths: args.validityMonths ?? 12,
        keySize: args.keySize ?? 4096,
        autoRenewDaysBeforeExpiry: args.autoRenewDaysBeforeExpiry ?? 30,
        emailDaysBeforeExpiry: args.emailDaysBeforeExpiry ?? 60,
    };
    if (typeof s.certificateName !== "string" || !/^[A-Za-z0-9-]{1,127}$/.test(s.certificateName)) {
        fail("certificateName", s.certificateName, "must be 1-127 letters, digits and hyphens (a Key Vault object name)");
    }
    if (typeof s.subject !== "string" || !/^CN=[^,=]+/.test(s.subject)) fail("subject", s.subject, "must be an X.500 subject starting with CN=, e.g. CN=api.example.com");
    s.dnsNames.forEach((d, i) => {
        if (!DNS_NAME.test(d)) fail(`dnsNames[${i}]`, d, "must be a DNS name such as api.example.com or *.example.com");
    });
    if (new Set(s.dnsNames.map((d) => d.toLowerCase())).size !== s.dnsNames.length) fail("dnsNames", s.dnsNames, "lists a name twice");
    if (!Number.isInteger(s.validityMonths) || s.validityMonths < 1 || s.validityMonths > 120) fail("validityMonths", s.validityMonths, "must be a whole number of months from 1 to 120");
    if (!(CERTIFICATE_KEY_SIZES as readonly number[]).includes(s.keySize)) fail("keySize", s.keySize, `allowed RSA sizes: ${CERTIFICATE_KEY_SIZES.join(", ")}`);
    const maxDays = s.validityMonths * DAYS_PER_MONTH_FOR_TRIGGERS;
    for (const field of ["autoRenewDaysBeforeExpiry", "emailDaysBeforeExpiry"] as const) {
        const v = s[field];
        if (!Number.isInteger(v) || v < 1 || v > maxDays) {
            fail(field, v, `must be a whole number of days from 1 to ${maxDays} (validityMonths ${s.validityMonths} x ${DAYS_PER_MONTH_FOR_TRIGGERS}, Key Vault's limit); raise validityMonths for longer lead times`);
        }
    }
    return s;
}

/**
 * The policy: self-issued, RSA, a fresh key on every renewal, exportable PKCS#12,
 * AutoRenew and EmailContacts lifetime actions, and TLS server and client key usages.
 */
export function certificatePolicy(s: CertificateSettings): azureInputs.keyvault.CertificateCertificatePolicy {
    return {
        issuerParameters: { name: "Self" },
        keyProperties: { keyType: "RSA", keySize: s.keySize, reuseKey: false, exportable: true },
        secretProperties: { contentType: "application/x-pkcs12" },
        lifetimeActions: [
            { action: { actionType: "AutoRenew" }, trigger: { daysBeforeExpiry: s.autoRenewDaysBeforeExpiry } },
            { action: { actionType: "EmailContacts" }, trigger: { daysBeforeExpiry: s.emailDaysBeforeExpiry } },
        ],
        x509CertificateProperties: {
            subject: s.subject,
            validityInMonths: s.validityMonths,
            keyUsages: ["digitalSignature", "keyEncipherment"],
            extendedKeyUsages: [...TLS_EXTENDED_KEY_USAGES],
            ...(s.dnsNames.length > 0 ? { subjectAlternativeNames: { dnsNames: s.dnsNames } } : {}),
        },
    };
}

/**
 * A self-issued certificate that Key Vault renews by itself (AutoRenew 30 days before expiry)
 * and warns about (EmailContacts 60 days before expiry).
 *
 * azure-native has no certificate resource, so this uses `@pulumi/azure`'s Certificate
 * through an explicit classic provider (docs/certificates.md explains the choice). Renewals happen
 * inside Key Vault and only change computed outputs (version, thumbprint), so they never show as drift.
 */
export class AutoRenewingCertificate extends pulumi.ComponentResource {
    /** Certificate name in the vault. */
    public readonly name: pulumi.Output<string>;
    /** Versionless certificate id (https://<vault>.vault.azure.net/certificates/<name>). */
    public readonly versionlessId: pulumi.Output<string>;
    /** Versionless id of the secret that holds the PFX; consumers reading it always get the current version. */
    public readonly versionlessSecretId: pulumi.Output<string>;
    /** SHA-1 thumbprint of the current version. */
    public readonly thumbprint: pulumi.Output<string>;

    constructor(name: string, args: AutoRenewingCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("keyvault-platform:certs:AutoRenewingCertificate", name, {}, opts);
        const s = resolveCertificateSettings(args);
        if (!args.provider) fail("provider", args.provider, "pass the classic provider from createClassicAzureProvider");

        const certificate = new Certificate(`${name}-cert`, {
            name: s.certificateName,
            keyVaultId: args.keyVaultId,
            certificatePolicy: certificatePolicy(s),
            tags: args.tags,
        }, {
            parent: this,
            provider: args.provider,
            dependsOn: args.dependsOn,
            // A replaced certificate keeps its name, so the old one must go first or creation collides.
            deleteBeforeReplace: true,
        });

        this.name = certificate.name;
        this.versionlessId = certificate.versionlessId;
        this.versionlessSecretId = certificate.versionlessSecretId;
        this.thumbprint = certificate.thumbprint;
        this.registerOutputs({
            name: this.name,
            versionlessId: this.versionlessId,
            versionlessSecretId: this.versionlessSecretId,
            thumbprint: this.thumbprint,
        });
    }
}

export interface CertificateContactsArgs {
    /** Required. ARM id of the vault. */
    keyVaultId: pulumi.Input<string>;
    /** Required. The explicit classic provider. */
    provider: Provider;
    /** Required. Addresses that EmailContacts lifetime actions notify; at least one. */
    emails: string[];
}

/**
 * The vault's certificate contacts, which every EmailContacts lifetime action in the vault
 * notifies. They are vault-wide and authoritative (this replaces any set by hand), so a stack
 * creates them once, not per certificate, and certificates depend on them.
 */
export function createCertificateContacts(name: string, args: CertificateContactsArgs, parent?: pulumi.Resource): CertificateContacts {
    if (!Array.isArray(args.emails) || args.emails.length === 0) {
        throw new pulumi.RunError(`CertificateContacts: emails ${JSON.stringify(args.emails)} is invalid; list at least one address, or EmailContacts actions reach nobody`);
    }
    args.emails.forEach((e, i) => {
        const p = emailProblem(e);
        if (p) throw new pulumi.RunError(`CertificateContacts: emails[${i}] ${JSON.stringify(e)} is invalid; ${p}`);
    });
    return new CertificateContacts(name, {
        keyVaultId: args.keyVaultId,
        contacts: args.emails.map((email) => ({ email })),
    }, { parent, provider: args.provider });
}
