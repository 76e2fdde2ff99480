import * as pulumi from "@pulumi/pulumi";
import { FederatedIdentityCredential } from "@pulumi/azure-native/managedidentity/federatedIdentityCredential";
import { UserAssignedIdentity } from "@pulumi/azure-native/managedidentity/userAssignedIdentity";
import { CustomResource } from "@pulumi/kubernetes/apiextensions/customResource";
import { Deployment } from "@pulumi/kubernetes/apps/v1/deployment";
import { ServiceAccount } from "@pulumi/kubernetes/core/v1/serviceAccount";
import type { Provider as KubernetesProvider } from "@pulumi/kubernetes/provider";
import { stringify } from "yaml";
import type { KeyVaultRole } from "@keyvault-platform/conventions";
import { CSI_OBJECT_TYPES } from "../config/schema";
import { AuthorizationMode, grantVaultAccess } from "./vaultAccess";

const COMPONENT = "SecretsStoreCsi";

export type CsiObjectType = (typeof CSI_OBJECT_TYPES)[number];

/** The audience AKS workload identity exchanges service-account tokens for. */
export const WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange";
export const CSI_DRIVER = "secrets-store.csi.k8s.io";
export const SECRET_PROVIDER_CLASS_API = "secrets-store.csi.x-k8s.io/v1";

export interface CsiObject {
    /** Required. Name of the secret, key or certificate in the vault. */
    objectName: string;
    /** Optional. secret, key (public key) or cert (public certificate only). Defaults to secret. */
    objectType?: CsiObjectType;
    /** Optional. A fixed version. Defaults to the latest, which the driver's rotation keeps picking up. */
    objectVersion?: string;
    /** Optional. File name under the mount. Defaults to objectName. */
    objectAlias?: string;
    /**
     * Optional. Also copy the object into a Kubernetes Secret. For secrets and keys, the data key in the
     * shared Opaque Secret (`syncSecretName`). For certs, the name of a kubernetes.io/tls Secret; the object
     * is then fetched as a secret, because only that form carries the private key. Defaults to not synced.
     */
    syncAs?: string;
}

export interface SecretsStoreCsiArgs {
    /** Required. Resource group of the workload identity. */
    resourceGroupName: pulumi.Input<string>;
    /** Required. Region of the workload identity. */
    location: pulumi.Input<string>;
    /** Required. Subscription that holds the role definitions. */
    subscriptionId: pulumi.Input<string>;
    /** Required. Entra tenant of the vault (the SecretProviderClass's tenantID). */
    tenantId: pulumi.Input<string>;
    /** Required. The vault to read from. `resourceGroupName` defaults to this component's. */
    vault: { resourceId: pulumi.Input<string>; name: pulumi.Input<string>; resourceGroupName?: pulumi.Input<string> };
    /** Required. How the vault authorizes data-plane calls. */
    authorizationMode: AuthorizationMode;
    /** Required. The AKS cluster's OIDC issuer URL (az aks show --query oidcIssuerProfile.issuerUrl). */
    oidcIssuerUrl: string;
    /** Required. Vault objects to mount (at least one). */
    objects: CsiObject[];
    /** Optional. Name of the user-assigned identity. Defaults to id-<component name>. */
    identityName?: pulumi.Input<string>;
    /** Optional. Kubernetes namespace of the service account, class and example. Defaults to default. */
    namespace?: string;
    /** Optional. Service account the pods run as. Defaults to keyvault-reader. */
    serviceAccountName?: string;
    /** Optional. Name of the SecretProviderClass. Defaults to azure-keyvault. */
    secretProviderClassName?: string;
    /** Optional. Name of the Opaque Secret that `syncAs` secrets and keys are copied into. Defaults to app-secrets. */
    syncSecretName?: string;
    /** Optional. Deploy an example workload that mounts the volume and reads a synced secret. Defaults to true. */
    exampleDeployment?: boolean;
    /** Optional. Image of the example workload. Defaults to busybox:1.36.1. */
    exampleImage?: string;
    /** Optional. Kubernetes provider for the target cluster (its kubeconfig). Defaults to the ambient provider. */
    kubernetesProvider?: KubernetesProvider;
    /** Optional. Azure tags for the identity. Defaults to none. */
    tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The plain settings, after defaults, that shape the manifests. */
export interface SecretsStoreCsiSettings {
    oidcIssuerUrl: string;
    namespace: string;
    serviceAccountName: string;
    secretProviderClassName: string;
    syncSecretName: string;
    exampleDeployment: boolean;
    exampleImage: string;
    objects: Array<Required<Pick<CsiObject, "objectName" | "objectType">> & Omit<CsiObject, "objectName" | "objectType">>;
    authorizationMode: AuthorizationMode;
}

function fail(field: string, value: unknown, allowed: string): never {
    throw new pulumi.RunError(`${COMPONENT}: ${field} ${JSON.stringify(value)} is invalid; ${allowed}`);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const VAULT_OBJECT_NAME = /^[A-Za-z0-9-]{1,127}$/;
const SECRET_DATA_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/** Applies the defaults and validates everything the driver or the API server would reject later. */
export function resolveSecretsStoreCsiSettings(args: Pick<SecretsStoreCsiArgs, "oidcIssuerUrl" | "objects" | "namespace" | "serviceAccountName" | "secretProviderClassName" | "syncSecretName" | "exampleDeployment" | "exampleImage" | "authorizationMode">): SecretsStoreCsiSettings {
    const s: SecretsStoreCsiSettings = {
        oidcIssuerUrl: args.oidcIssuerUrl,
        namespace: args.namespace ?? "default",
        serviceAccountName: args.serviceAccountName ?? "keyvault-reader",
        secretProviderClassName: args.secretProviderClassName ?? "azure-keyvault",
        syncSecretName: args.syncSecretName ?? "app-secrets",
        exampleDeployment: args.exampleDeployment ?? true,
        exampleImage: args.exampleImage ?? "busybox:1.36.1",
        objects: (args.objects ?? []).map((o) => ({ ...o, objectType: o.objectType ?? "secret" })),
        authorizationMode: args.authorizationMode,
    };
    let issuer: URL | undefined;
    try {
        issuer = new URL(s.oidcIssuerUrl);
    } catch {
        issuer = undefined;
    }
    if (!issuer || issuer.protocol !== "https:") fail("oidcIssuerUrl", s.oidcIssuerUrl, "must be the cluster's https OIDC issuer URL (az aks show --query oidcIssuerProfile.issuerUrl)");
    if (!DNS_LABEL.test(s.namespace)) fail("namespace", s.namespace, "must be a Kubernetes namespace name (RFC 1123 label)");
    for (const field of ["serviceAccountName", "secretProviderClassName", "syncSecretName"] as const) {
        if (!DNS_SUBDOMAIN.test(s[field])) fail(field, s[field], "must be a Kubernetes object name (RFC 1123 subdomain)");
    }
    if (s.authorizationMode !== "rbac" && s.authorizationMode !== "accessPolicies") fail("authorizationMode", s.authorizationMode, "allowed: rbac, accessPolicies");
    if (s.objects.length === 0) fail("objects", args.objects, "list at least one vault object to mount");

    const files = new Set<string>();
    const dataKeys = new Set<string>();
    const tlsSecrets = new Set<string>();
    s.objects.forEach((o, i) => {
        const at = `objects[${i}]`;
        if (!VAULT_OBJECT_NAME.test(o.objectName)) fail(`${at}.objectName`, o.objectName, "must be a Key Vault object name (1-127 letters, digits and hyphens)");
        if (!(CSI_OBJECT_TYPES as readonly string[]).includes(o.objectType)) fail(`${at}.objectType`, o.objectType, `allowed: ${CSI_OBJECT_TYPES.join(", ")}`);
        if (o.objectVersion !== undefined && !/^[0-9a-f]{32}$/i.test(o.objectVersion)) fail(`${at}.objectVersion`, o.objectVersion, "must be a 32-character Key Vault version id, or omitted for the latest");
        if (o.objectAlias !== undefined && !/^[A-Za-z0-9][-._A-Za-z0-9]{0,252}$/.test(o.objectAlias)) fail(`${at}.objectAlias`, o.objectAlias, "must be a plain file name");
        const file = o.objectAlias ?? o.objectName;
        if (files.has(file)) fail(`${at}`, file, "mounts a file another object already uses; set objectAlias");
        files.add(file);
        if (o.syncAs === undefined) return;
        if (o.objectType === "cert") {
            if (!DNS_SUBDOMAIN.test(o.syncAs)) fail(`${at}.syncAs`, o.syncAs, "names the kubernetes.io/tls Secret for a cert, so it must be a Kubernetes object name");
            if (tlsSecrets.has(o.syncAs) || o.syncAs === s.syncSecretName) fail(`${at}.syncAs`, o.syncAs, "names a Secret another object or syncSecretName already uses");
            tlsSecrets.add(o.syncAs);
        } else {
            if (!SECRET_DATA_KEY.test(o.syncAs)) fail(`${at}.syncAs`, o.syncAs, "must be a Secret data key (letters, digits, '-', '_', '.')");
            if (dataKeys.has(o.syncAs)) fail(`${at}.syncAs`, o.syncAs, `is already a key in ${s.syncSecretName}`);
            dataKeys.add(o.syncAs);
        }
    });
    return s;
}

/**
 * The `objects` parameter: a YAML document whose `array` holds one YAML document per object,
 * the shape the Azure provider parses. Synced certs are fetched as `secret`, the only form
 * that includes the private key a TLS Secret needs.
 */
export function csiObjectsParameter(objects: SecretsStoreCsiSettings["objects"]): string {
    const entries = objects.map((o) => {
        const entry: Record<string, string> = { objectName: o.objectName, objectType: o.objectType === "cert" && o.syncAs ? "secret" : o.objectType };
        if (o.objectVersion) entry.objectVersion = o.objectVersion;
        if (o.objectAlias) entry.objectAlias = o.objectAlias;
        return stringify(entry);
    });
    return stringify({ array: entries });
}

/** The `secretObjects` that copy synced objects into Kubernetes Secrets. */
export function csiSecretObjects(s: Pick<SecretsStoreCsiSettings, "objects" | "syncSecretName">): Array<{ secretName: string; type: string; data: Array<{ objectName: string; key: string }> }> {
    const file = (o: CsiObject) => o.objectAlias ?? o.objectName;
    const opaque = s.objects.filter((o) => o.syncAs && o.objectType !== "cert").map((o) => ({ objectName: file(o), key: o.syncAs! }));
    const tls = s.objects.filter((o) => o.syncAs && o.objectType === "cert").map((o) => ({
        secretName: o.syncAs!,
        type: "kubernetes.io/tls",
        data: [{ objectName: file(o), key: "tls.key" }, { objectName: file(o), key: "tls.crt" }],
    }));
    return [...(opaque.length > 0 ? [{ secretName: s.syncSecretName, type: "Opaque", data: opaque }] : []), ...tls];
}

/** Vault roles the identity needs for the object types it mounts: secrets (and synced certs) need Secrets User. */
export function csiVaultRoles(objects: SecretsStoreCsiSettings["objects"]): KeyVaultRole[] {
    const roles = new Set<KeyVaultRole>(["secrets-user"]);
    if (objects.some((o) => o.objectType === "cert" && !o.syncAs)) roles.add("certificate-user");
    if (objects.some((o) => o.objectType === "key")) roles.add("crypto-user");
    return [...roles];
}

/** SYNCED-KEY style name for an environment variable, from a Secret data key. */
function envName(key: string): string {
    return key.replace(/[^A-Za-z0-9]+/g, "_").replace(/^([0-9])/, "_$1").toUpperCase();
}

/**
 * Key Vault objects mounted into pods by the Secrets Store CSI driver, authenticated with AKS
 * workload identity: a user-assigned identity federated with the cluster's service account,
 * Key Vault Secrets User on the vault, the annotated service account, the SecretProviderClass,
 * and an example Deployment.
 *
 * Mounted files follow rotation (the driver re-reads the vault on its rotation poll interval,
 * 2 minutes by default, when rotation is enabled in the add-on); environment variables from the
 * synced Secret are fixed at pod start and need a restart to see a new value.
 */
export class SecretsStoreCsi extends pulumi.ComponentResource {
    /** Client id of the workload identity. */
    public readonly clientId: pulumi.Output<string>;
    /** Object id of the workload identity. */
    public readonly principalId: pulumi.Output<string>;
    /** Name of the SecretProviderClass. */
    public readonly secretProviderClassName: pulumi.Output<string>;
    /** Name of the annotated service account. */
    public readonly serviceAccountName: pulumi.Output<string>;

    constructor(name: string, args: SecretsStoreCsiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("keyvault-platform:k8s:SecretsStoreCsi", name, {}, opts);
        const s = resolveSecretsStoreCsiSettings(args);
        const k8s = { parent: this, provider: args.kubernetesProvider };

        const identity = new UserAssignedIdentity(`${name}-identity`, {
            resourceName: args.identityName ?? `id-${name}`,
            resourceGroupName: args.resourceGroupName,
            location: args.location,
            tags: args.tags,
        }, { parent: this });

        const federation = new FederatedIdentityCredential(`${name}-federation`, {
            resourceName: identity.name,
            resourceGroupName: args.resourceGroupName,
            federatedIdentityCredentialResourceName: `${s.namespace}-${s.serviceAccountName}`.replace(/[^A-Za-z0-9-_]/g, "-").slice(0, 120),
            issuer: s.oidcIssuerUrl,
            subject: `system:serviceaccount:${s.namespace}:${s.serviceAccountName}`,
            audiences: [WORKLOAD_IDENTITY_AUDIENCE],
        }, { parent: this });

        const grants = csiVaultRoles(s.objects).map((role) => grantVaultAccess({
            name: `${name}-vault-${role}`,
            mode: s.authorizationMode,
            scope: args.vault.resourceId,
            vaultName: args.vault.name,
            resourceGroupName: args.vault.resourceGroupName ?? args.resourceGroupName,
            tenantId: args.tenantId,
            principalId: identity.principalId,
            principalType: "ServicePrincipal",
            role,
            subscriptionId: args.subscriptionId,
        }, this));

        const serviceAccount = new ServiceAccount(`${name}-sa`, {
            metadata: {
                name: s.serviceAccountName,
                namespace: s.namespace,
                annotations: { "azure.workload.identity/client-id": identity.clientId, "azure.workload.identity/tenant-id": args.tenantId },
            },
        }, { ...k8s, dependsOn: [federation] });

        const secretObjects = csiSecretObjects(s);
        const spc = new CustomResource(`${name}-spc`, {
            apiVersion: SECRET_PROVIDER_CLASS_API,
            kind: "SecretProviderClass",
            metadata: { name: s.secretProviderClassName, namespace: s.namespace },
            spec: {
                provider: "azure",
                parameters: {
                    usePodIdentity: "false",
                    clientID: identity.clientId,
                    keyvaultName: args.vault.name,
                    tenantID: args.tenantId,
                    objects: csiObjectsParameter(s.objects),
                },
                ...(secretObjects.length > 0 ? { secretObjects } : {}),
            },
        }, k8s);

        if (s.exampleDeployment) {
            const synced = s.objects.find((o) => o.syncAs && o.objectType !== "cert");
            const labels = { app: `${s.secretProviderClassName}-example` };
            new Deployment(`${name}-example`, {
                metadata: { name: `${s.secretProviderClassName}-example`, namespace: s.namespace, labels },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: labels },
                    template: {
                        // The workload identity webhook injects the federated token only into labelled pods.
                        metadata: { labels: { ...labels, "azure.workload.identity/use": "true" } },
                        spec: {
                            serviceAccountName: serviceAccount.metadata.name,
                            automountServiceAccountToken: true,
                            securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                            containers: [{
                                name: "app",
                                image: s.exampleImage,
                                command: ["sh", "-c", "while true; do ls -l /mnt/secrets-store; sleep 300; done"],
                                ...(synced ? { env: [{ name: envName(synced.syncAs!), valueFrom: { secretKeyRef: { name: s.syncSecretName, key: synced.syncAs! } } }] } : {}),
                                volumeMounts: [{ name: "secrets-store", mountPath: "/mnt/secrets-store", readOnly: true }],
                                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                                resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "50m", memory: "32Mi" } },
                            }],
                            volumes: [{
                                name: "secrets-store",
                                csi: { driver: CSI_DRIVER, readOnly: true, volumeAttributes: { secretProviderClass: s.secretProviderClassName } },
                            }],
                        },
                    },
                },
            }, { ...k8s, dependsOn: [spc, ...grants] });
        }

        this.clientId = identity.clientId;
        this.principalId = identity.principalId;
        this.secretProviderClassName = pulumi.output(s.secretProviderClassName);
        this.serviceAccountName = serviceAccount.metadata.name;
        this.registerOutputs({
            clientId: this.clientId,
            principalId: this.principalId,
            secretProviderClassName: this.secretProviderClassName,
            serviceAccountName: this.serviceAccountName,
        });
    }
}
