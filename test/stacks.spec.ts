import { strict as assert } from "node:assert";
import { createDelayMs, RecordedResource, Recording, SUBSCRIPTION_ID, TENANT_ID } from "./mocks";
import { parse as parseYaml } from "yaml";
import { runStack, stackYaml } from "./stackRun";
import { FORBIDDEN_ROLE_IDS, KEY_VAULT_ROLES, roleAssignmentName } from "@keyvault-platform/conventions";

const VAULT = "azure-native:keyvault:Vault";
const ROLE = "azure-native:authorization:RoleAssignment";
const DIAG = "azure-native:monitor:DiagnosticSetting";
const COSMOS = "azure-native:cosmosdb:DatabaseAccount";
const KEY = "azure-native:keyvault:Key";

type Run = Recording & { outputs: Record<string, unknown> };

const roleGuidOf = (r: RecordedResource) => String(r.inputs.roleDefinitionId).split("/").pop();
const appVault = (run: Run) => run.one(VAULT, "env-kv-");
const cmkVault = (run: Run) => run.one(VAULT, "env-cmkkv");

/** Assertions every stack must satisfy, whatever its tier. */
function commonInvariants(stack: string, getRun: () => Run) {
    it("parents every resource to a component of the program", () => {
        const run = getRun();
        const urns = new Set(run.resources.map((r) => r.urn));
        for (const r of run.resources) {
            if (r.type === "keyvault-platform:environment:KeyVaultEnvironment") continue;
            assert.ok(urns.has(r.parentUrn), `${r.type} ${r.name} has no parent inside the program (parent: '${r.parentUrn}')`);
        }
    });

    it("sends the engine no API-version aliases, and keeps azure-native's module-rename aliases", () => {
        const run = getRun();
        const pinned = run.resources.flatMap((r) => r.aliases.filter((a) => /^azure-native:\w+\/v\d{8}/.test(a)).map((a) => `${r.name}: ${a}`));
        assert.deepEqual(pinned, []);
        // insights is the module v2 served diagnostic settings from; a stack created then must still be adopted.
        const diagnostics = run.ofType(DIAG);
        assert.ok(diagnostics.length > 0, "every stack has diagnostic settings");
        for (const d of diagnostics) assert.deepEqual(d.aliases, ["azure-native:insights:DiagnosticSetting"], d.name);
    });

    it("soft-deletes, denies by default and authorizes with RBAC on every vault", () => {
        for (const v of getRun().ofType(VAULT)) {
            const p = v.inputs.properties;
            assert.equal(p.enableSoftDelete, true, v.name);
            assert.equal(p.enableRbacAuthorization, true, v.name);
            assert.equal(p.networkAcls.defaultAction, "Deny", v.name);
            assert.equal(p.tenantId, TENANT_ID);
            for (const flag of ["enabledForDeployment", "enabledForTemplateDeployment", "enabledForDiskEncryption"]) assert.equal(p[flag], false, `${v.name} ${flag}`);
        }
    });

    it("sends every vault's logs and metrics to the workspace", () => {
        const run = getRun();
        const workspaceId = run.outputs.workspaceId;
        for (const v of run.ofType(VAULT)) {
            const diag = run.ofType(DIAG).find((d) => d.inputs.resourceUri === v.id);
            assert.ok(diag, `no diagnostic setting for ${v.name}`);
            assert.equal(diag.inputs.workspaceId, workspaceId);
            assert.ok(diag.inputs.logs.some((l: any) => ["allLogs", "audit"].includes(l.categoryGroup) && l.enabled), "audit logs");
            assert.ok(diag.inputs.metrics.some((m: any) => m.category === "AllMetrics" && m.enabled), "AllMetrics");
        }
    });

    it("grants exactly the configured roles, with deterministic names and full role-definition ids", () => {
        const run = getRun();
        const vault = appVault(run);
        const grants = (stackYaml(stack as "dev").roleAssignments ?? []) as Array<{ principalId: string; principalType: string; role: keyof typeof KEY_VAULT_ROLES }>;
        // The vault component's own grants; platform identities (rotation, CSI, deployer) get theirs elsewhere.
        const onVault = run.ofType(ROLE).filter((r) => r.inputs.scope === vault.id && r.parentUrn === run.one("keyvault-platform:keyvault:KeyVault", "env-kv").urn);
        assert.equal(onVault.length, grants.length);
        for (const g of grants) {
            const roleGuid = KEY_VAULT_ROLES[g.role].id;
            const ra = onVault.find((r) => r.inputs.principalId === g.principalId && roleGuidOf(r) === roleGuid);
            assert.ok(ra, `no ${g.role} grant for ${g.principalId}`);
            assert.equal(ra.inputs.principalType, g.principalType);
            assert.equal(ra.inputs.roleDefinitionId, `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`);
            assert.equal(ra.inputs.roleAssignmentName, roleAssignmentName(vault.id, g.principalId, roleGuid));
        }
    });

    it("never grants Owner, Contributor, User Access Administrator or Key Vault Contributor", () => {
        for (const ra of getRun().ofType(ROLE)) assert.equal(FORBIDDEN_ROLE_IDS[roleGuidOf(ra)!], undefined, `${ra.name} grants a forbidden role`);
    });

    it("tags every taggable resource with its team, its environment (the stack), its tier and its manager", () => {
        let tagged = 0;
        for (const r of getRun().resources) {
            if (r.inputs.tags === undefined) continue;
            tagged++;
            assert.equal(r.inputs.tags.Team, "platform", `${r.type} ${r.name}`);
            assert.equal(r.inputs.tags.Environment, stack, `${r.type} ${r.name}`);
            assert.equal(r.inputs.tags.Tier, stack, `${r.type} ${r.name}`);
            assert.equal(r.inputs.tags.ManagedBy, "keyvault-platform", `${r.type} ${r.name}`);
        }
        assert.ok(tagged >= 5, `only ${tagged} resources carry tags`);
    });

    it("turns the two KQL queries into alerts wired to the action group", () => {
        const run = getRun();
        const rules = run.ofType("azure-native:monitor:ScheduledQueryRule");
        const queries = rules.map((r) => r.inputs.criteria.allOf[0].query as string);
        assert.ok(queries.some((q) => /bin\(TimeGenerated, 5m\)/.test(q) && /CallerIPAddress/.test(q)), "unusual-access query");
        assert.ok(queries.some((q) => /OperationName/.test(q) && /CallerIPAddress/.test(q) && /ResultType/.test(q)), "failed-operations query");
        for (const r of rules) assert.deepEqual(r.inputs.actions.actionGroups, [run.outputs.actionGroupId], r.name);
    });

    it("exports the vault, workspace and action group", () => {
        const o = getRun().outputs;
        assert.match(String(o.vaultUri), /^https:\/\/kv-[a-z0-9-]+\.vault\.azure\.net\/$/);
        assert.match(String(o.vaultName), /^kv-kvp-/);
        assert.match(String(o.workspaceId), /Microsoft\.OperationalInsights\/workspaces\//);
        assert.match(String(o.actionGroupId), /actionGroups\//);
    });
}

describe("the dev stack (Pulumi.dev.yaml)", function () {
    let run: Run;
    before(async () => { run = await runStack("dev"); });
    commonInvariants("dev", () => run);

    it("keeps 7 days of soft delete and leaves purge protection off, as the stack file says", () => {
        const p = appVault(run).inputs.properties;
        assert.equal(p.softDeleteRetentionInDays, 7);
        assert.notEqual(p.enablePurgeProtection, true);
    });

    it("admits only the developer range through the firewall, with no bypass", () => {
        const acls = appVault(run).inputs.properties.networkAcls;
        assert.deepEqual(acls.ipRules, [{ value: "203.0.113.0/24" }]);
        assert.equal(acls.bypass, "None");
        assert.equal(appVault(run).inputs.properties.publicNetworkAccess, "Enabled");
    });

    it("creates no Cosmos DB, CMK vault, private endpoint or rotation", () => {
        assert.equal(run.ofType(COSMOS).length, 0);
        assert.equal(run.ofType(VAULT).length, 1);
        assert.equal(run.ofType("azure-native:network:PrivateEndpoint").length, 0);
        assert.equal(run.ofType("azure-native:web:WebApp").length, 0);
    });
});

describe("the staging stack (Pulumi.staging.yaml)", function () {
    let run: Run;
    before(async () => { run = await runStack("staging"); });
    commonInvariants("staging", () => run);

    it("applies the secure defaults: 90 days and purge protection", () => {
        const p = appVault(run).inputs.properties;
        assert.equal(p.softDeleteRetentionInDays, 90);
        assert.equal(p.enablePurgeProtection, true);
    });

    it("admits the build agents' subnet through a virtual network rule", () => {
        const rules = appVault(run).inputs.properties.networkAcls.virtualNetworkRules;
        assert.equal(rules.length, 1);
        assert.match(rules[0].id, /\/subnets\/snet-agents$/);
    });

    it("uses a software RSA key in a standard CMK vault", () => {
        assert.equal(run.one(KEY).inputs.properties.kty, "RSA");
    });

    it("keeps Cosmos DB off the public network outside dev", () => {
        assert.equal(run.one(COSMOS).inputs.publicNetworkAccess, "Disabled");
    });
});

describe("the prod stack (Pulumi.prod.yaml)", function () {
    let run: Run;
    before(async () => { run = await runStack("prod"); });
    commonInvariants("prod", () => run);

    it("runs a premium vault with 90 days of soft delete and purge protection", () => {
        const p = appVault(run).inputs.properties;
        assert.equal(p.sku.name, "premium");
        assert.equal(p.softDeleteRetentionInDays, 90);
        assert.equal(p.enablePurgeProtection, true);
    });

    it("serves the app vault only through a private endpoint in the vault group", () => {
        const vault = appVault(run);
        assert.equal(vault.inputs.properties.publicNetworkAccess, "Disabled");
        const pe = run.one("azure-native:network:PrivateEndpoint");
        assert.equal(pe.inputs.privateLinkServiceConnections[0].privateLinkServiceId, vault.id);
        assert.deepEqual(pe.inputs.privateLinkServiceConnections[0].groupIds, ["vault"]);
        assert.match(pe.inputs.subnet.id, /snet-private-endpoints$/);
    });

    it("resolves the endpoint through a created privatelink.vaultcore.azure.net zone linked to the VNet", () => {
        const zone = run.one("azure-native:privatedns:PrivateZone");
        assert.equal(zone.inputs.privateZoneName ?? zone.state.name, "privatelink.vaultcore.azure.net");
        const group = run.one("azure-native:network:PrivateDnsZoneGroup");
        assert.equal(group.inputs.privateDnsZoneConfigs[0].privateDnsZoneId, zone.id);
        const link = run.one("azure-native:privatedns:VirtualNetworkLink");
        assert.match(link.inputs.virtualNetwork.id, /virtualNetworks\/vnet-prod$/);
        assert.equal(link.inputs.registrationEnabled, false);
    });

    describe("CMK-encrypted Cosmos DB", () => {
        it("keeps the key in a dedicated, purge-protected vault that only trusted services can reach", () => {
            const p = cmkVault(run).inputs.properties;
            assert.equal(p.enablePurgeProtection, true);
            assert.equal(p.networkAcls.bypass, "AzureServices");
            assert.equal(p.networkAcls.defaultAction, "Deny");
            assert.deepEqual(p.networkAcls.ipRules, []);
            assert.deepEqual(p.networkAcls.virtualNetworkRules, []);
        });

        it("uses an RSA 3072 wrap/unwrap key with an expiry and a Rotate + Notify policy", () => {
            const key = run.one(KEY);
            const p = key.inputs.properties;
            assert.equal(key.inputs.vaultName, run.outputs.cmkVaultName);
            assert.equal(p.kty, "RSA-HSM", "prod's premium CMK vault holds an HSM-backed key");
            assert.equal(p.keySize, 3072);
            assert.deepEqual([...p.keyOps].sort(), ["unwrapKey", "wrapKey"]);
            assert.ok(p.attributes.expires > Date.now() / 1000, "key expires in the future");
            const actions = p.rotationPolicy.lifetimeActions.map((a: any) => a.action.type.toLowerCase());
            assert.deepEqual(actions.sort(), ["notify", "rotate"]);
        });

        it("grants Crypto Service Encryption User on the key itself, not the vault", () => {
            const key = run.one(KEY);
            const grant = run.ofType(ROLE).find((r) => roleGuidOf(r) === KEY_VAULT_ROLES["crypto-service-encryption-user"].id);
            assert.ok(grant, "no Crypto Service Encryption User grant");
            assert.equal(grant.inputs.scope, key.id);
            assert.equal(grant.inputs.principalType, "ServicePrincipal");
        });

        it("points the account at the versionless key URI with its user-assigned identity", () => {
            const account = run.one(COSMOS);
            const identity = run.ofType("azure-native:managedidentity:UserAssignedIdentity").find((i) => i.parentUrn === run.one("keyvault-platform:data:CosmosCmk").urn)!;
            assert.match(account.inputs.keyVaultKeyUri, /^https:\/\/kv-kvp-cmk-prod-[a-z0-9]+\.vault\.azure\.net\/keys\/[a-z0-9-]+$/);
            assert.equal(account.inputs.identity.type, "UserAssigned");
            assert.ok(JSON.stringify(account.inputs.identity.userAssignedIdentities).includes(identity.id));
            assert.equal(account.inputs.defaultIdentity, `UserAssignedIdentity=${identity.id}`);
            assert.equal(account.inputs.disableLocalAuth, true);
            assert.equal(account.inputs.publicNetworkAccess, "Disabled");
        });

        it("lists both regions in failover order with the configured consistency", () => {
            const account = run.one(COSMOS);
            assert.deepEqual(account.inputs.locations.map((l: any) => [l.locationName, l.failoverPriority]), [["westeurope", 0], ["northeurope", 1]]);
            assert.equal(account.inputs.consistencyPolicy.defaultConsistencyLevel, "BoundedStaleness");
        });

        it("keeps the alias from the documentdb module the account was served from before", () => {
            assert.deepEqual(run.one(COSMOS).aliases, ["azure-native:documentdb:DatabaseAccount"]);
        });

        it("sends the Cosmos account's logs to the workspace too", () => {
            const account = run.one(COSMOS);
            assert.ok(run.ofType(DIAG).some((d) => d.inputs.resourceUri === account.id));
        });
    });

    it("e-mails both receivers and fires on more than 100 requests per caller IP in 5 minutes", () => {
        const group = run.one("azure-native:monitor:ActionGroup");
        assert.deepEqual(group.inputs.emailReceivers.map((r: any) => r.emailAddress).sort(), ["platform-oncall@example.com", "security@example.com"]);
        const unusual = run.ofType("azure-native:monitor:ScheduledQueryRule").map((r) => r.inputs.criteria.allOf[0].query as string).find((q) => /bin\(TimeGenerated, 5m\)/.test(q));
        assert.match(unusual!, /let threshold = 100;/);
        assert.match(unusual!, /AccessCount > threshold/);
    });

    describe("secret rotation", () => {
        const fnIdentity = () => run.ofType("azure-native:managedidentity:UserAssignedIdentity").find((i) => /^id-func-/.test(i.state.name))!;

        it("deploys a Linux function app with a user-assigned identity and no secrets in its settings", () => {
            const app = run.one("azure-native:web:WebApp");
            assert.match(app.inputs.kind, /^functionapp/);
            assert.equal(app.inputs.identity.type, "UserAssigned");
            assert.equal(app.inputs.httpsOnly, true);
            assert.match(app.inputs.virtualNetworkSubnetId, /\/subnets\/snet-functions$/, "VNet integration reaches the private vault");
            assert.equal(app.inputs.siteConfig.vnetRouteAllEnabled, true);
            const settings = Object.fromEntries(app.inputs.siteConfig.appSettings.map((x: any) => [x.name, x.value]));
            assert.equal(settings.KEY_VAULT_URL, run.outputs.vaultUri);
            assert.equal(settings.ROTATION_SCHEDULE, "0 0 3 * * *");
            for (const [k, v] of Object.entries(settings)) assert.doesNotMatch(`${k}=${v}`, /AccountKey=|SharedAccessSignature|password/i, k);
        });

        it("grants the function Key Vault Secrets Officer on the vault and SQL Server Contributor on the target", () => {
            const principal = fnIdentity().state.principalId;
            const mine = run.ofType(ROLE).filter((r) => r.inputs.principalId === principal);
            const vaultGrant = mine.find((r) => roleGuidOf(r) === KEY_VAULT_ROLES["secrets-officer"].id);
            assert.ok(vaultGrant, "Secrets Officer grant");
            assert.equal(vaultGrant.inputs.scope, appVault(run).id);
            const sqlGrant = mine.find((r) => roleGuidOf(r) === "6d8ee4ec-f05a-4a1d-8b00-a9b17e38b437");
            assert.ok(sqlGrant, "SQL Server Contributor grant");
            assert.match(sqlGrant.inputs.scope, /Microsoft\.Sql\/servers\/sql-payments-prod$/);
        });

        it("subscribes the function to SecretNearExpiry on the vault's own system topic, one event at a time, with dead-lettering", () => {
            const topic = run.one("azure-native:eventgrid:SystemTopic");
            assert.equal(topic.inputs.source, appVault(run).id);
            assert.equal(topic.inputs.topicType, "Microsoft.KeyVault.vaults");
            const sub = run.one("azure-native:eventgrid:SystemTopicEventSubscription");
            assert.equal(sub.inputs.systemTopicName, topic.state.name);
            assert.deepEqual(sub.inputs.filter.includedEventTypes, ["Microsoft.KeyVault.SecretNearExpiry"]);
            assert.equal(sub.inputs.destination.endpointType, "AzureFunction");
            assert.equal(sub.inputs.destination.maxEventsPerBatch, 1);
            assert.equal(sub.inputs.destination.resourceId, `${run.one("azure-native:web:WebApp").id}/functions/secretNearExpiry`);
            assert.ok(sub.inputs.retryPolicy.maxDeliveryAttempts > 1);
            assert.ok(sub.inputs.deadLetterWithResourceIdentity?.deadLetterDestination?.blobContainerName, "dead-letter destination");
        });

        it("gives the deploying identity its configured principal type, not azure-native's User default", () => {
            for (const r of run.ofType(ROLE).filter((x) => /deployer/.test(x.name))) assert.equal(r.inputs.principalType, "ServicePrincipal", r.name);
        });
    });

    it("issues the auto-renewing certificate: self-signed RSA 4096, AutoRenew at 30 days, EmailContacts at 60", () => {
        const cert = run.one("azure:keyvault/certificate:Certificate");
        const p = cert.inputs.certificatePolicy;
        assert.equal(cert.inputs.keyVaultId, appVault(run).id);
        assert.equal(p.issuerParameters.name, "Self");
        assert.deepEqual([p.keyProperties.keyType, p.keyProperties.keySize, p.keyProperties.reuseKey], ["RSA", 4096, false]);
        assert.equal(p.secretProperties.contentType, "application/x-pkcs12");
        const actions = Object.fromEntries(p.lifetimeActions.map((a: any) => [a.action.actionType, a.trigger.daysBeforeExpiry]));
        assert.deepEqual(actions, { AutoRenew: 30, EmailContacts: 60 });
        assert.deepEqual(p.x509CertificateProperties.keyUsages.sort(), ["digitalSignature", "keyEncipherment"]);
        assert.deepEqual(p.x509CertificateProperties.extendedKeyUsages.sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
        assert.equal(run.one("azure:keyvault/certificateContacts:CertificateContacts").inputs.contacts[0].email, "pki@example.com");
    });

    describe("Kubernetes Secrets Store CSI", () => {
        const csiIdentity = () => {
            const fic = run.one("azure-native:managedidentity:FederatedIdentityCredential");
            return run.ofType("azure-native:managedidentity:UserAssignedIdentity").find((i) => i.state.name === fic.inputs.resourceName)!;
        };

        it("federates the identity with the cluster's issuer for the app's service account", () => {
            const fic = run.one("azure-native:managedidentity:FederatedIdentityCredential");
            assert.equal(fic.inputs.issuer, stackYaml("prod").secretsStoreCsi && (stackYaml("prod").secretsStoreCsi as any).oidcIssuerUrl);
            assert.equal(fic.inputs.subject, "system:serviceaccount:payments:payments-api");
            assert.deepEqual(fic.inputs.audiences, ["api://AzureADTokenExchange"]);
            const grant = run.ofType(ROLE).find((r) => r.inputs.principalId === csiIdentity().state.principalId);
            assert.equal(roleGuidOf(grant!), KEY_VAULT_ROLES["secrets-user"].id);
            assert.equal(grant!.inputs.scope, appVault(run).id);
        });

        it("declares a SecretProviderClass for workload identity with tenantID spelled as the driver expects", () => {
            const spc = run.one("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass");
            const params = spc.inputs.spec.parameters;
            assert.equal(spc.inputs.spec.provider, "azure");
            assert.equal(params.clientID, csiIdentity().state.clientId);
            assert.equal(params.keyvaultName, run.outputs.vaultName);
            assert.equal(params.tenantID, TENANT_ID);
            assert.equal(params.tenantId, undefined);
            assert.equal(params.usePodIdentity, "false");
            const objects = (parseYaml(params.objects).array as string[]).map((o) => parseYaml(o));
            assert.deepEqual(objects.map((o: any) => o.objectName), ["database-connection-string", "api-key", "api-tls"]);
            const synced = spc.inputs.spec.secretObjects[0];
            assert.equal(synced.secretName, "app-secrets");
            assert.deepEqual(synced.data.map((d: any) => [d.objectName, d.key]), [["database-connection-string", "connection-string"], ["api-key", "api-key"]]);
        });

        it("annotates the service account and mounts the volume in an example deployment that reads a synced secret", () => {
            const sa = run.one("kubernetes:core/v1:ServiceAccount");
            assert.equal(sa.inputs.metadata.annotations["azure.workload.identity/client-id"], csiIdentity().state.clientId);
            const pod = run.one("kubernetes:apps/v1:Deployment").inputs.spec.template;
            assert.equal(pod.metadata.labels["azure.workload.identity/use"], "true");
            assert.equal(pod.spec.serviceAccountName, "payments-api");
            const volume = pod.spec.volumes.find((v: any) => v.csi);
            assert.equal(volume.csi.driver, "secrets-store.csi.k8s.io");
            assert.equal(volume.csi.volumeAttributes.secretProviderClass, run.outputs.secretProviderClassName);
            const env = pod.spec.containers[0].env.find((e: any) => e.valueFrom?.secretKeyRef);
            assert.deepEqual(env.valueFrom.secretKeyRef, { name: "app-secrets", key: "connection-string" });
        });
    });

    it("creates the Cosmos account only after the key grant exists", async () => {
        createDelayMs[ROLE] = 150;
        try {
            const slow = await runStack("prod");
            const grant = slow.ofType(ROLE).find((r) => roleGuidOf(r) === KEY_VAULT_ROLES["crypto-service-encryption-user"].id)!;
            const account = slow.one(COSMOS);
            assert.ok(slow.dependsOn(account, grant), "the account must list the grant as a dependency");
            assert.ok(account.startedAt >= grant.createdAt, `account registered at ${account.startedAt}, before the grant finished at ${grant.createdAt}`);
        } finally {
            delete createDelayMs[ROLE];
        }
    });

    it("produces the same role-assignment names on a second run", async () => {
        const again = await runStack("prod");
        const names = (r: Recording) => r.ofType(ROLE).map((x) => `${x.name}=${x.inputs.roleAssignmentName}`).sort();
        assert.deepEqual(names(again), names(run));
        assert.equal(new Set(names(run)).size, run.ofType(ROLE).length);
    });
});
