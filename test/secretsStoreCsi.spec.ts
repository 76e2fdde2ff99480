import { strict as assert } from "node:assert";
import { record, Recording, SUBSCRIPTION_ID, TENANT_ID, unwrap } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { KEY_VAULT_ROLES } from "@keyvault-platform/conventions";
import {
    csiObjectsParameter, csiSecretObjects, csiVaultRoles, resolveSecretsStoreCsiSettings, SecretsStoreCsi, SecretsStoreCsiArgs,
} from "../components/secretsStoreCsi";

const T = {
    component: "keyvault-platform:k8s:SecretsStoreCsi",
    identity: "azure-native:managedidentity:UserAssignedIdentity",
    federation: "azure-native:managedidentity:FederatedIdentityCredential",
    role: "azure-native:authorization:RoleAssignment",
    policy: "azure-native:keyvault:AccessPolicy",
    serviceAccount: "kubernetes:core/v1:ServiceAccount",
    spc: "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass",
    deployment: "kubernetes:apps/v1:Deployment",
};
const VAULT_ID = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-kvp-prod/providers/Microsoft.KeyVault/vaults/kv-kvp-prod`;
const ISSUER = "https://westeurope.oic.prod-aks.azure.com/99999999-8888-7777-6666-555555555555/abcdef/";
const VERSION = "0123456789abcdef0123456789abcdef";

const OBJECTS: SecretsStoreCsiArgs["objects"] = [
    { objectName: "database-connection-string", syncAs: "connection-string" },
    { objectName: "api-key", objectType: "secret", objectVersion: VERSION, objectAlias: "api.key", syncAs: "api-key" },
    { objectName: "tls-certificate", objectType: "cert", syncAs: "app-tls" },
    { objectName: "ca-bundle", objectType: "cert" },
];

function args(over: Partial<SecretsStoreCsiArgs> = {}): SecretsStoreCsiArgs {
    return {
        resourceGroupName: "rg-kvp-prod",
        location: "westeurope",
        subscriptionId: SUBSCRIPTION_ID,
        tenantId: TENANT_ID,
        vault: { resourceId: VAULT_ID, name: "kv-kvp-prod" },
        authorizationMode: "rbac",
        oidcIssuerUrl: ISSUER,
        namespace: "payments",
        serviceAccountName: "payments-api",
        objects: OBJECTS,
        ...over,
    };
}

async function run(over: Partial<SecretsStoreCsiArgs> = {}): Promise<{ rec: Recording; csi: SecretsStoreCsi }> {
    let csi!: SecretsStoreCsi;
    const rec = await record(() => {
        csi = new SecretsStoreCsi("csi", args(over));
    });
    return { rec, csi };
}

describe("SecretsStoreCsi settings", () => {
    const ok = { oidcIssuerUrl: ISSUER, objects: [{ objectName: "a" }], authorizationMode: "rbac" as const };

    it("defaults to the default namespace, the keyvault-reader account, secret objects and an example workload", () => {
        const s = resolveSecretsStoreCsiSettings(ok);
        assert.equal(s.namespace, "default");
        assert.equal(s.serviceAccountName, "keyvault-reader");
        assert.equal(s.syncSecretName, "app-secrets");
        assert.equal(s.exampleDeployment, true);
        assert.equal(s.objects[0].objectType, "secret");
    });

    const bad: Array<[string, Partial<SecretsStoreCsiArgs>, RegExp]> = [
        ["an http issuer", { oidcIssuerUrl: "http://issuer.example.com/" }, /oidcIssuerUrl "http:\/\/issuer.example.com\/" is invalid; must be the cluster's https OIDC issuer URL/],
        ["an issuer that is not a URL", { oidcIssuerUrl: "issuer" }, /oidcIssuerUrl "issuer" is invalid/],
        ["an upper-case namespace", { namespace: "Payments" }, /namespace "Payments" is invalid; must be a Kubernetes namespace name/],
        ["a service account with an underscore", { serviceAccountName: "kv_reader" }, /serviceAccountName "kv_reader" is invalid/],
        ["no objects", { objects: [] }, /objects \[\] is invalid; list at least one vault object/],
        ["an object name with a dot", { objects: [{ objectName: "db.password" }] }, /objects\[0\].objectName "db.password" is invalid/],
        ["an unknown object type", { objects: [{ objectName: "a", objectType: "blob" as "secret" }] }, /objects\[0\].objectType "blob" is invalid; allowed: secret, key, cert/],
        ["a short version id", { objects: [{ objectName: "a", objectVersion: "v1" }] }, /objects\[0\].objectVersion "v1" is invalid/],
        ["two objects mounted as the same file", { objects: [{ objectName: "a" }, { objectName: "b", objectAlias: "a" }] }, /objects\[1\] "a" is invalid; mounts a file another object already uses/],
        ["the same data key twice", { objects: [{ objectName: "a", syncAs: "k" }, { objectName: "b", syncAs: "k" }] }, /objects\[1\].syncAs "k" is invalid; is already a key in app-secrets/],
        ["a data key with a slash", { objects: [{ objectName: "a", syncAs: "a/b" }] }, /objects\[0\].syncAs "a\/b" is invalid; must be a Secret data key/],
        ["a TLS Secret named like the Opaque one", { objects: [{ objectName: "c", objectType: "cert", syncAs: "app-secrets" }] }, /objects\[0\].syncAs "app-secrets" is invalid; names a Secret another object or syncSecretName already uses/],
    ];
    for (const [what, over, message] of bad) {
        it(`refuses ${what} with a RunError naming the field`, () => {
            assert.throws(() => resolveSecretsStoreCsiSettings({ ...ok, ...over }), (e: Error) => {
                assert.ok(pulumi.RunError.isInstance(e));
                assert.match(e.message, /^SecretsStoreCsi: /);
                assert.match(e.message, message);
                return true;
            });
        });
    }

    it("renders objects as the provider's YAML array of YAML documents, which parses back to the same objects", () => {
        const s = resolveSecretsStoreCsiSettings({ ...ok, objects: OBJECTS });
        const doc = parse(csiObjectsParameter(s.objects));
        assert.deepEqual(Object.keys(doc), ["array"]);
        assert.ok(doc.array.every((e: unknown) => typeof e === "string"), "each array entry is itself a YAML document string");
        assert.deepEqual(doc.array.map((e: string) => parse(e)), [
            { objectName: "database-connection-string", objectType: "secret" },
            { objectName: "api-key", objectType: "secret", objectVersion: VERSION, objectAlias: "api.key" },
            { objectName: "tls-certificate", objectType: "secret" },
            { objectName: "ca-bundle", objectType: "cert" },
        ]);
    });

    it("survives object names YAML would otherwise misread", () => {
        const doc = parse(csiObjectsParameter([{ objectName: "true", objectType: "secret" }, { objectName: "0123", objectType: "secret" }]));
        assert.deepEqual(doc.array.map((e: string) => parse(e).objectName), ["true", "0123"]);
    });

    it("syncs secrets into one Opaque Secret under their aliases and each synced cert into its own TLS Secret", () => {
        const s = resolveSecretsStoreCsiSettings({ ...ok, objects: OBJECTS });
        assert.deepEqual(csiSecretObjects(s), [
            { secretName: "app-secrets", type: "Opaque", data: [{ objectName: "database-connection-string", key: "connection-string" }, { objectName: "api.key", key: "api-key" }] },
            { secretName: "app-tls", type: "kubernetes.io/tls", data: [{ objectName: "tls-certificate", key: "tls.key" }, { objectName: "tls-certificate", key: "tls.crt" }] },
        ]);
        assert.deepEqual(csiSecretObjects(resolveSecretsStoreCsiSettings(ok)), [], "nothing to sync, no secretObjects");
    });

    it("grants Secrets User always, and Certificate User or Crypto User only for the object types that need them", () => {
        const roles = (objects: SecretsStoreCsiArgs["objects"]) => csiVaultRoles(resolveSecretsStoreCsiSettings({ ...ok, objects }).objects);
        assert.deepEqual(roles([{ objectName: "a" }]), ["secrets-user"]);
        assert.deepEqual(roles([{ objectName: "c", objectType: "cert", syncAs: "tls" }]), ["secrets-user"]);
        assert.deepEqual(roles(OBJECTS), ["secrets-user", "certificate-user"]);
        assert.deepEqual(roles([{ objectName: "k", objectType: "key" }]), ["secrets-user", "crypto-user"]);
    });
});

describe("SecretsStoreCsi", () => {
    it("federates a user-assigned identity with the service account's exact subject and the token-exchange audience", async () => {
        const { rec } = await run();
        const identity = rec.one(T.identity);
        const fic = rec.one(T.federation);
        assert.equal(fic.inputs.resourceName, identity.state.name);
        assert.equal(fic.inputs.issuer, ISSUER);
        assert.equal(fic.inputs.subject, "system:serviceaccount:payments:payments-api");
        assert.deepEqual(fic.inputs.audiences, ["api://AzureADTokenExchange"]);
    });

    it("grants the identity Key Vault Secrets User on the vault", async () => {
        const { rec } = await run({ objects: [{ objectName: "a", syncAs: "a" }] });
        const [grant] = rec.ofType(T.role);
        assert.equal(rec.ofType(T.role).length, 1);
        assert.equal(grant.inputs.scope, VAULT_ID);
        assert.equal(grant.inputs.principalId, rec.one(T.identity).state.principalId);
        assert.ok(grant.inputs.roleDefinitionId.endsWith(`/roleDefinitions/${KEY_VAULT_ROLES["secrets-user"].id}`));
    });

    it("grants a read-only access policy instead on an access-policy vault", async () => {
        const { rec } = await run({ authorizationMode: "accessPolicies", objects: [{ objectName: "a" }] });
        assert.equal(rec.ofType(T.role).length, 0);
        assert.deepEqual(rec.one(T.policy).inputs.policy.permissions.secrets, ["get", "list"]);
    });

    it("annotates the service account with the identity's client id", async () => {
        const { rec, csi } = await run();
        const sa = rec.one(T.serviceAccount);
        const clientId = rec.one(T.identity).state.clientId;
        assert.equal(sa.inputs.metadata.name, "payments-api");
        assert.equal(sa.inputs.metadata.namespace, "payments");
        assert.equal(sa.inputs.metadata.annotations["azure.workload.identity/client-id"], clientId);
        assert.equal(sa.inputs.metadata.labels, undefined, "the use label belongs on pods, not the service account");
        assert.equal(await unwrap(csi.clientId), clientId);
    });

    it("writes a SecretProviderClass for workload identity with tenantID spelled as the driver expects", async () => {
        const { rec } = await run();
        const spc = rec.one(T.spc);
        assert.equal(spc.inputs.apiVersion, "secrets-store.csi.x-k8s.io/v1");
        assert.equal(spc.inputs.kind, "SecretProviderClass");
        assert.deepEqual(spc.inputs.metadata, { name: "azure-keyvault", namespace: "payments" });
        assert.equal(spc.inputs.spec.provider, "azure");
        const p = spc.inputs.spec.parameters;
        assert.deepEqual(Object.keys(p).sort(), ["clientID", "keyvaultName", "objects", "tenantID", "usePodIdentity"]);
        assert.equal(p.usePodIdentity, "false");
        assert.equal(p.clientID, rec.one(T.identity).state.clientId);
        assert.equal(p.keyvaultName, "kv-kvp-prod");
        assert.equal(p.tenantID, TENANT_ID);
        assert.equal(p.tenantId, undefined, "tenantId is the deprecated spelling");
        assert.equal(p.useVMManagedIdentity, undefined, "a VM managed identity is not workload identity");
        assert.deepEqual(parse(p.objects).array.map((e: string) => parse(e).objectName), OBJECTS.map((o) => o.objectName));
        assert.deepEqual(spc.inputs.spec.secretObjects.map((o: { secretName: string; type: string }) => [o.secretName, o.type]), [["app-secrets", "Opaque"], ["app-tls", "kubernetes.io/tls"]]);
    });

    it("deploys an example that runs as the service account with the workload identity label, mounts the CSI volume read-only and reads a synced secret", async () => {
        const { rec } = await run();
        const d = rec.one(T.deployment);
        const pod = d.inputs.spec.template;
        assert.equal(pod.metadata.labels["azure.workload.identity/use"], "true");
        assert.equal(pod.spec.serviceAccountName, "payments-api");
        assert.deepEqual(pod.spec.volumes, [{ name: "secrets-store", csi: { driver: "secrets-store.csi.k8s.io", readOnly: true, volumeAttributes: { secretProviderClass: "azure-keyvault" } } }]);
        const [container] = pod.spec.containers;
        assert.deepEqual(container.volumeMounts, [{ name: "secrets-store", mountPath: "/mnt/secrets-store", readOnly: true }]);
        assert.deepEqual(container.env, [{ name: "CONNECTION_STRING", valueFrom: { secretKeyRef: { name: "app-secrets", key: "connection-string" } } }]);
        assert.equal(container.securityContext.allowPrivilegeEscalation, false);
        assert.ok(rec.dependsOn(d, rec.one(T.spc)), "the class must exist before a pod mounts it");
        for (const grant of rec.ofType(T.role)) assert.ok(rec.dependsOn(d, grant), `the identity must be able to read the vault before the pod mounts (${grant.name})`);
    });

    it("leaves the example out when asked, and never adds an env var when nothing is synced", async () => {
        const none = await run({ exampleDeployment: false });
        assert.equal(none.rec.ofType(T.deployment).length, 0);
        const unsynced = await run({ objects: [{ objectName: "a" }] });
        assert.equal(unsynced.rec.one(T.deployment).inputs.spec.template.spec.containers[0].env, undefined);
        assert.equal(unsynced.rec.one(T.spc).inputs.spec.secretObjects, undefined);
    });

    it("parents every resource to the component under <name>-<role> names", async () => {
        const { rec } = await run();
        const component = rec.one(T.component);
        for (const r of rec.resources.filter((x) => x.type !== T.component)) {
            assert.equal(r.parentUrn, component.urn, `${r.type} must be a child of the component`);
            assert.match(r.name, /^csi-/);
        }
        assert.deepEqual(rec.resources.filter((r) => r.type !== T.component).map((r) => r.name).sort(),
            ["csi-example", "csi-federation", "csi-identity", "csi-sa", "csi-spc", "csi-vault-certificate-user", "csi-vault-secrets-user"]);
    });
});
