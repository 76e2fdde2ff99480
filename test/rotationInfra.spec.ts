import { strict as assert } from "node:assert";
import { record, Recording, RecordedResource, SUBSCRIPTION_ID, TENANT_ID, unwrap } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KEY_VAULT_ROLES, PLATFORM_ROLES, roleAssignmentName } from "@keyvault-platform/conventions";
import { createClassicAzureProvider } from "../components/helpers/classicAzureProvider";
import { buildFunctionPackage } from "@keyvault-platform/rotation-function/build";
import { registeredFunctions } from "@keyvault-platform/rotation-function/registered";
import { BUNDLE_FILE } from "@keyvault-platform/rotation-function/stamp";
import { type FunctionPackage, readFunctionPackage } from "../components/helpers/functionPackage";
import {
    DEFAULT_EVENT_GRID_FUNCTION, FLEX_PACKAGE_BLOB, resolveRotationInfraSettings, RotationInfra, RotationInfraArgs, STORAGE_BLOB_DATA_CONTRIBUTOR,
} from "../components/rotationInfra";

const T = {
    component: "keyvault-platform:rotation:RotationInfra",
    role: "azure-native:authorization:RoleAssignment",
    policy: "azure-native:keyvault:AccessPolicy",
    identity: "azure-native:managedidentity:UserAssignedIdentity",
    account: "azure-native:storage:StorageAccount",
    container: "azure-native:storage:BlobContainer",
    blob: "azure:storage/blob:Blob",
    insights: "azure-native:applicationinsights:Component",
    plan: "azure-native:web:AppServicePlan",
    app: "azure-native:web:WebApp",
    topic: "azure-native:eventgrid:SystemTopic",
    subscription: "azure-native:eventgrid:SystemTopicEventSubscription",
};
const RG = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups`;
const VAULT_ID = `${RG}/rg-kvp-prod/providers/Microsoft.KeyVault/vaults/kv-kvp-prod`;
const SQL_A = `${RG}/rg-data/providers/Microsoft.Sql/servers/sql-a`;
const SQL_B = `${RG}/rg-data/providers/Microsoft.Sql/servers/sql-b`;
const PG = `${RG}/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-a`;
const WORKSPACE = `${RG}/rg-mon/providers/Microsoft.OperationalInsights/workspaces/log-kvp-prod`;
const DEPLOYER = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

describe("RotationInfra settings", () => {
    const ok = { authorizationMode: "rbac" as const, sqlServerIds: [SQL_A] };

    it("defaults to a daily safety-net timer, one instance class, ten deliveries over a day, and the registered function", () => {
        const s = resolveRotationInfraSettings(ok);
        assert.equal(s.schedule, "0 0 3 * * *");
        assert.equal(s.eventGridFunctionName, DEFAULT_EVENT_GRID_FUNCTION);
        assert.equal(s.storageSku, "Standard_LRS");
        assert.equal(s.instanceMemoryMB, 2048);
        assert.equal(s.maximumInstanceCount, 40);
        assert.equal(s.maxDeliveryAttempts, 10);
        assert.equal(s.eventTimeToLiveMinutes, 1440);
    });

    const bad: Array<[string, Partial<RotationInfraArgs>, RegExp]> = [
        ["no target at all", { sqlServerIds: [] }, /sqlServerIds \[\] is invalid; name at least one target/],
        ["a SQL id that is not a SQL server", { sqlServerIds: [PG] }, /sqlServerIds\[0\] .* must be an Azure SQL server id/],
        ["a PostgreSQL id that is a single server", { postgresServerIds: [`${RG}/rg/providers/Microsoft.DBforPostgreSQL/servers/old`] }, /postgresServerIds\[0\] .* must be a PostgreSQL flexible server id/],
        ["a target that is not an ARM id", { sqlServerIds: ["sql-a"] }, /sqlServerIds\[0\] "sql-a" is invalid; must be an ARM resource id/],
        ["the same server twice", { sqlServerIds: [SQL_A, SQL_A.toUpperCase().replace("/SUBSCRIPTIONS", "/subscriptions")] }, /sqlServerIds .* lists .* twice/],
        ["a five-field cron schedule", { schedule: "0 3 * * *" }, /schedule "0 3 \* \* \*" is invalid; must be a six-field NCRONTAB/],
        ["a function name with a space", { eventGridFunctionName: "near expiry" }, /eventGridFunctionName "near expiry" is invalid/],
        ["geo-redundant storage", { storageSku: "Standard_GRS" as "Standard_LRS" }, /storageSku "Standard_GRS" is invalid; allowed: Standard_LRS, Standard_ZRS/],
        ["an unsupported instance size", { instanceMemoryMB: 1024 as 2048 }, /instanceMemoryMB 1024 is invalid; allowed: 512, 2048, 4096/],
        ["a scale ceiling below Flex's minimum", { maximumInstanceCount: 5 }, /maximumInstanceCount 5 is invalid; must be a whole number from 40 to 1000/],
        ["more deliveries than Event Grid allows", { maxDeliveryAttempts: 31 }, /maxDeliveryAttempts 31 is invalid; must be a whole number from 1 to 30/],
        ["a time to live beyond a day", { eventTimeToLiveMinutes: 1441 }, /eventTimeToLiveMinutes 1441 is invalid/],
        ["a rotation window of zero days", { rotationWindowDays: 0 }, /rotationWindowDays 0 is invalid/],
        ["a PostgreSQL role name with a space", { postgresServerIds: [PG], postgresAdminUser: "bad name" }, /postgresAdminUser "bad name" is invalid/],
        ["an unknown authorization mode", { authorizationMode: "keys" as "rbac" }, /authorizationMode "keys" is invalid; allowed: rbac, accessPolicies/],
    ];
    for (const [what, over, message] of bad) {
        it(`refuses ${what} with a RunError naming the field`, () => {
            assert.throws(() => resolveRotationInfraSettings({ ...ok, ...over }), (e: Error) => {
                assert.ok(pulumi.RunError.isInstance(e));
                assert.match(e.message, /^RotationInfra: /);
                assert.match(e.message, message);
                return true;
            });
        });
    }
});

describe("RotationInfra", () => {
    let outDir: string;
    let pkg: FunctionPackage;

    before(() => {
        outDir = mkdtempSync(join(tmpdir(), "rotation-pkg-"));
        const projectDir = join(__dirname, "..", "packages", "rotation-function", "test", "fixtures", "minimal-app");
        buildFunctionPackage({ projectDir, outDir });
        pkg = readFunctionPackage({ projectDir, outDir });
    });
    after(() => rmSync(outDir, { recursive: true, force: true }));

    function args(over: Partial<RotationInfraArgs> = {}): RotationInfraArgs {
        return {
            resourceGroupName: "rg-kvp-prod",
            location: "westeurope",
            subscriptionId: SUBSCRIPTION_ID,
            tenantId: TENANT_ID,
            storageAccountName: "stkvprotprod01",
            functionAppName: "func-kvp-rot-prod",
            vault: { resourceId: VAULT_ID, name: "kv-kvp-prod", uri: "https://kv-kvp-prod.vault.azure.net/", location: "northeurope" },
            authorizationMode: "rbac",
            workspaceResourceId: WORKSPACE,
            classicProvider: createClassicAzureProvider("classic", { subscriptionId: SUBSCRIPTION_ID }),
            deployerPrincipalId: DEPLOYER,
            sqlServerIds: [SQL_A, SQL_B],
            functionPackage: pkg,
            ...over,
        };
    }

    async function run(over: Partial<RotationInfraArgs> = {}): Promise<{ rec: Recording; infra: RotationInfra }> {
        let infra!: RotationInfra;
        const rec = await record(() => {
            infra = new RotationInfra("rot", args(over));
        });
        return { rec, infra };
    }

    const setting = (app: RecordedResource, name: string): string | undefined =>
        app.inputs.siteConfig.appSettings.find((s: { name: string }) => s.name === name)?.value;
    const rolesOf = (rec: Recording, roleGuid: string) => rec.ofType(T.role).filter((r) => r.inputs.roleDefinitionId.endsWith(`/roleDefinitions/${roleGuid}`));

    it("parents every resource to the component under stable <name>-<role> names", async () => {
        const { rec } = await run();
        const component = rec.one(T.component);
        const children = rec.resources.filter((r) => r.type !== T.component && r.type !== "pulumi:providers:azure");
        assert.ok(children.length >= 20);
        for (const r of children) {
            assert.equal(r.parentUrn, component.urn, `${r.type} ${r.name} must be a child of the component`);
            assert.match(r.name, /^rot-/);
        }
        assert.equal(rec.one(T.app).name, "rot-app");
        assert.equal(rec.one(T.topic).name, "rot-topic");
        assert.equal(rec.one(T.subscription).name, "rot-near-expiry");
    });

    it("creates a StorageV2 account with TLS 1.2, HTTPS only, and no public blobs or shared keys", async () => {
        const { rec } = await run();
        const a = rec.one(T.account).inputs;
        assert.equal(a.kind, "StorageV2");
        assert.deepEqual(a.sku, { name: "Standard_LRS" });
        assert.equal(a.minimumTlsVersion, "TLS1_2");
        assert.equal(a.enableHttpsTrafficOnly, true);
        assert.equal(a.allowBlobPublicAccess, false);
        assert.equal(a.allowSharedKeyAccess, false);
        assert.equal(a.defaultToOAuthAuthentication, true);
        const containers = rec.ofType(T.container).map((c) => [c.inputs.containerName, c.inputs.publicAccess]).sort();
        assert.deepEqual(containers, [["eventgrid-deadletter", "None"], ["function-code", "None"]]);
    });

    it("runs a Flex Consumption Node 22 app under its user-assigned identity, deployed from the code container with that identity", async () => {
        const { rec } = await run();
        const plan = rec.one(T.plan).inputs;
        assert.deepEqual(plan.sku, { name: "FC1", tier: "FlexConsumption" });
        assert.equal(plan.reserved, true);
        const app = rec.one(T.app);
        const identity = rec.one(T.identity);
        assert.equal(app.inputs.kind, "functionapp,linux");
        assert.equal(app.inputs.httpsOnly, true);
        assert.equal(app.inputs.serverFarmId, rec.one(T.plan).id);
        assert.deepEqual(app.inputs.identity, { type: "UserAssigned", userAssignedIdentities: [identity.id] });
        const storage = app.inputs.functionAppConfig.deployment.storage;
        assert.equal(storage.type, "blobContainer");
        assert.equal(storage.value, "https://stkvprotprod01.blob.core.windows.net/function-code");
        assert.deepEqual(storage.authentication, { type: "UserAssignedIdentity", userAssignedIdentityResourceId: identity.id });
        assert.deepEqual(app.inputs.functionAppConfig.runtime, { name: "node", version: "22" });
        assert.equal(app.inputs.siteConfig.minTlsVersion, "1.2");
        assert.equal(app.inputs.siteConfig.ftpsState, "Disabled");
        assert.equal(rec.one("azure-native:web:WebAppFtpAllowed").inputs.allow, false);
        assert.equal(rec.one("azure-native:web:WebAppScmAllowed").inputs.allow, false);
    });

    it("configures identity-based host storage and the settings the function reads, with no secret in any setting", async () => {
        const { rec } = await run({ schedule: "0 30 2 * * *", rotationWindowDays: 20 });
        const app = rec.one(T.app);
        const identity = rec.one(T.identity);
        const clientId = identity.state.clientId;
        assert.equal(setting(app, "AzureWebJobsStorage__accountName"), "stkvprotprod01");
        assert.equal(setting(app, "AzureWebJobsStorage__credential"), "managedidentity");
        assert.equal(setting(app, "AzureWebJobsStorage__clientId"), clientId);
        assert.equal(setting(app, "AZURE_CLIENT_ID"), clientId);
        assert.equal(setting(app, "KEY_VAULT_URL"), "https://kv-kvp-prod.vault.azure.net/");
        assert.equal(setting(app, "SUBSCRIPTION_ID"), SUBSCRIPTION_ID);
        assert.equal(setting(app, "ROTATION_SCHEDULE"), "0 30 2 * * *");
        assert.equal(setting(app, "ROTATION_WINDOW_DAYS"), "20");
        assert.equal(setting(app, "ROTATION_PACKAGE_SHA256"), pkg.hash, "a new package changes a setting, which restarts the app onto it");
        assert.equal(setting(app, "APPLICATIONINSIGHTS_CONNECTION_STRING"), rec.one(T.insights).state.connectionString);
        assert.equal(setting(app, "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"), `ClientId=${clientId};Authorization=AAD`);
        assert.equal(setting(app, "POSTGRES_ADMIN_USER"), undefined, "only postgres targets need it");
        const names = app.inputs.siteConfig.appSettings.map((s: { name: string }) => s.name);
        assert.equal(new Set(names).size, names.length, "no setting appears twice");
        for (const forbidden of ["AzureWebJobsStorage", "WEBSITE_RUN_FROM_PACKAGE", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"]) {
            assert.ok(!names.includes(forbidden), `${forbidden} must not be set on a Flex Consumption app with identity-based storage`);
        }
        assert.doesNotMatch(JSON.stringify(app.inputs.siteConfig.appSettings), /AccountKey=|SharedAccessSignature|sig=|Password=/i);
    });

    it("sends telemetry to a workspace-based Application Insights that only accepts Entra-authenticated data", async () => {
        const { rec } = await run();
        const ai = rec.one(T.insights);
        assert.equal(ai.inputs.kind, "web");
        assert.equal(ai.inputs.applicationType, "web");
        assert.equal(ai.inputs.workspaceResourceId, WORKSPACE);
        assert.equal(ai.inputs.disableLocalAuth, true);
        const [publisher] = rolesOf(rec, PLATFORM_ROLES["monitoring-metrics-publisher"]);
        assert.equal(publisher.inputs.scope, ai.id);
        assert.equal(publisher.inputs.principalId, rec.one(T.identity).state.principalId);
    });

    it("grants the function Secrets Officer on the vault, the host storage data roles, and SQL Server Contributor on each SQL server, all with deterministic names", async () => {
        const { rec } = await run();
        const principal = rec.one(T.identity).state.principalId;
        const account = rec.one(T.account);
        const expect: Array<[string, string]> = [
            [KEY_VAULT_ROLES["secrets-officer"].id, VAULT_ID],
            [PLATFORM_ROLES["storage-blob-data-owner"], account.id],
            [PLATFORM_ROLES["storage-queue-data-contributor"], account.id],
            [PLATFORM_ROLES["storage-table-data-contributor"], account.id],
            [PLATFORM_ROLES["sql-server-contributor"], SQL_A],
            [PLATFORM_ROLES["sql-server-contributor"], SQL_B],
        ];
        for (const [roleGuid, scope] of expect) {
            const match = rolesOf(rec, roleGuid).filter((r) => r.inputs.scope === scope && r.inputs.principalId === principal);
            assert.equal(match.length, 1, `one ${roleGuid} grant on ${scope}`);
            assert.equal(match[0].inputs.roleAssignmentName, roleAssignmentName(scope, principal, roleGuid));
            assert.equal(match[0].inputs.roleDefinitionId, `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`);
            assert.equal(match[0].inputs.principalType, "ServicePrincipal");
        }
    });

    it("grants a Secrets Officer-equivalent access policy instead on an access-policy vault", async () => {
        const { rec } = await run({ authorizationMode: "accessPolicies" });
        assert.equal(rolesOf(rec, KEY_VAULT_ROLES["secrets-officer"].id).length, 0);
        const policy = rec.one(T.policy);
        assert.equal(policy.inputs.vaultName, "kv-kvp-prod");
        assert.equal(policy.inputs.policy.objectId, rec.one(T.identity).state.principalId);
        assert.deepEqual([...policy.inputs.policy.permissions.secrets].sort(), ["backup", "delete", "get", "list", "recover", "restore", "set"]);
        assert.ok(!policy.inputs.policy.permissions.secrets.includes("purge"));
    });

    it("starts the app only after every grant and the code package exist", async () => {
        const { rec } = await run();
        const app = rec.one(T.app);
        const functionGrants = rec.ofType(T.role).filter((r) => r.inputs.principalId === rec.one(T.identity).state.principalId);
        assert.equal(functionGrants.length, 7);
        for (const g of functionGrants) assert.ok(rec.dependsOn(app, g), `the app must wait for ${g.name}`);
        assert.ok(rec.dependsOn(app, rec.one(T.blob)));
    });

    it("uploads the package as the Flex deployment blob with Entra ID, after the deployer is granted the code container only", async () => {
        const { rec } = await run();
        const blob = rec.one(T.blob);
        const code = rec.ofType(T.container).find((c) => c.inputs.containerName === "function-code")!;
        assert.equal(blob.name, "rot-package");
        assert.equal(blob.inputs.name, FLEX_PACKAGE_BLOB);
        assert.equal(blob.inputs.type, "Block");
        assert.equal(blob.inputs.storageContainerId, code.id);
        assert.equal(blob.inputs.metadata.packagesha256, pkg.hash);
        const [deployer] = rolesOf(rec, STORAGE_BLOB_DATA_CONTRIBUTOR).filter((r) => r.inputs.principalId === DEPLOYER);
        assert.equal(deployer.inputs.scope, code.id);
        assert.equal(deployer.inputs.roleAssignmentName, roleAssignmentName(code.id, DEPLOYER, STORAGE_BLOB_DATA_CONTRIBUTOR));
        assert.ok(rec.dependsOn(blob, deployer));
    });

    it("puts an Event Grid system topic on the vault, in the vault's region, with its own identity", async () => {
        const { rec } = await run();
        const topic = rec.one(T.topic);
        assert.equal(topic.inputs.source, VAULT_ID);
        assert.equal(topic.inputs.topicType, "Microsoft.KeyVault.vaults");
        assert.equal(topic.inputs.location, "northeurope");
        assert.deepEqual(topic.inputs.identity, { type: "SystemAssigned" });
    });

    it("subscribes the registered function to SecretNearExpiry, one event per batch, with retries and an identity-based dead-letter container", async () => {
        const { rec, infra } = await run({ maxDeliveryAttempts: 5, eventTimeToLiveMinutes: 720 });
        const sub = rec.one(T.subscription);
        const app = rec.one(T.app);
        const topic = rec.one(T.topic);
        const account = rec.one(T.account);
        assert.equal(sub.inputs.systemTopicName, topic.state.name);
        assert.deepEqual(sub.inputs.filter.includedEventTypes, ["Microsoft.KeyVault.SecretNearExpiry"]);
        assert.equal(sub.inputs.filter.subjectBeginsWith, undefined, "every secret in the vault is a candidate; the function reads its tags");
        assert.equal(sub.inputs.destination.endpointType, "AzureFunction");
        assert.equal(sub.inputs.destination.resourceId, `${app.id}/functions/${DEFAULT_EVENT_GRID_FUNCTION}`);
        assert.equal(sub.inputs.destination.maxEventsPerBatch, 1);
        assert.deepEqual(sub.inputs.retryPolicy, { maxDeliveryAttempts: 5, eventTimeToLiveInMinutes: 720 });
        assert.deepEqual(sub.inputs.deadLetterWithResourceIdentity, {
            identity: { type: "SystemAssigned" },
            deadLetterDestination: { endpointType: "StorageBlob", resourceId: account.id, blobContainerName: "eventgrid-deadletter" },
        });
        assert.equal(sub.inputs.deadLetterDestination, undefined, "never the key-based dead-letter form");

        const deadLetter = rec.ofType(T.container).find((c) => c.inputs.containerName === "eventgrid-deadletter")!;
        const [writer] = rolesOf(rec, STORAGE_BLOB_DATA_CONTRIBUTOR).filter((r) => r.inputs.principalId === topic.state.identity.principalId);
        assert.equal(writer.inputs.scope, deadLetter.id);
        assert.ok(rec.dependsOn(sub, writer), "the topic must be able to write dead letters before it can deliver");
        assert.ok(rec.dependsOn(sub, app));

        assert.equal(await unwrap(infra.eventSubscriptionId), sub.id);
        assert.equal(await unwrap(infra.systemTopicId), topic.id);
        assert.equal(await unwrap(infra.functionAppId), app.id);
        assert.equal(await unwrap(infra.functionAppName), "func-kvp-rot-prod");
        assert.equal(await unwrap(infra.principalId), rec.one(T.identity).state.principalId);
    });

    it("tells the function its PostgreSQL role, defaulting to the identity's name, when there are PostgreSQL targets", async () => {
        const withDefault = await run({ sqlServerIds: [], postgresServerIds: [PG] });
        assert.equal(setting(withDefault.rec.one(T.app), "POSTGRES_ADMIN_USER"), withDefault.rec.one(T.identity).state.name);
        assert.equal(rolesOf(withDefault.rec, PLATFORM_ROLES["sql-server-contributor"]).length, 0, "PostgreSQL access is a database role, not an ARM grant");
        const explicit = await run({ postgresServerIds: [PG], postgresAdminUser: "rotation_admin" });
        assert.equal(setting(explicit.rec.one(T.app), "POSTGRES_ADMIN_USER"), "rotation_admin");
    });

    it("refuses invalid settings before creating anything", async () => {
        const rec = await record(() => {
            assert.throws(() => new RotationInfra("bad", args({ schedule: "nightly" })), /RotationInfra: schedule "nightly" is invalid/);
        });
        assert.equal(rec.ofType(T.app).length, 0);
    });
});

describe("the real rotation function package", () => {
    it("registers the Event Grid function RotationInfra subscribes by default", function () {
        // What npm run build:function (before the tests) built, and the program deploys.
        const pkg = readFunctionPackage();
        const functions = registeredFunctions(join(pkg.dir, BUNDLE_FILE));
        assert.deepEqual(functions.find((f) => f.name === DEFAULT_EVENT_GRID_FUNCTION), { name: DEFAULT_EVENT_GRID_FUNCTION, trigger: "eventGridTrigger" });
        assert.ok(functions.some((f) => f.trigger === "timerTrigger"), "the safety-net timer reads ROTATION_SCHEDULE, which RotationInfra sets");
    });
});
