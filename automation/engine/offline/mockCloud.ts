/* eslint-disable @typescript-eslint/no-explicit-any -- recorded inputs and state are arbitrary provider JSON, which specs navigate freely */
/**
 * A cloud made of Pulumi mocks: every resource the program registers is recorded and
 * answered with the computed fields Azure would fill in, so the real program runs to the
 * end and its outputs look like a deployment's. The offline engine runs previews on it,
 * and the tests run every component and stack on it (test/mocks.ts installs it).
 *
 * Beyond inputs, it records what the engine itself would receive for each resource
 * (parent, dependencies, ignoreChanges), by wrapping the mock monitor's RegisterResource.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { deserializeProperties } from "@pulumi/pulumi/runtime/rpc";
import * as sdkSettings from "@pulumi/pulumi/runtime/settings";
import { createHash } from "node:crypto";

export const SUBSCRIPTION_ID = "11111111-2222-3333-4444-555555555555";
export const TENANT_ID = "99999999-8888-7777-6666-555555555555";
export const CLIENT_OBJECT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

export interface RecordedResource {
    type: string;
    /** Logical (Pulumi) name. */
    name: string;
    urn: string;
    /** Physical id the mock returned. */
    id: string;
    inputs: Record<string, any>;
    state: Record<string, any>;
    parentUrn: string;
    /** URNs the engine was told this resource depends on (dependsOn plus input dependencies). */
    dependencies: string[];
    ignoreChanges: string[];
    /** Aliases the engine was sent: a URN, or the alias spec's type (`name=<n>` when it renames). */
    aliases: string[];
    protect: boolean;
    /** Monotonic registration counter: the order in which the engine received resources. */
    order: number;
    /** Time at which the engine received the registration (all dependencies resolved). */
    startedAt: number;
    /** Time at which the mock finished creating the resource. */
    createdAt: number;
}

let recorded: RecordedResource[] = [];
let recording = true;

/** Benchmarks turn recording off so they time the program, not the harness's bookkeeping. */
export function setRecording(on: boolean): void {
    recording = on;
}
let inFlight = 0;
let counter = 0;

/** Per-type artificial creation latency, for tests that must prove ordering. */
export const createDelayMs: Record<string, number> = {};

/** Deterministic GUID from a seed, so mock principal ids are stable across runs. */
export function fakeGuid(seed: string): string {
    const h = createHash("sha1").update(seed).digest("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const ARM_TYPES: Record<string, string> = {
    "azure-native:resources:ResourceGroup": "",
    "azure-native:keyvault:Vault": "Microsoft.KeyVault/vaults",
    "azure-native:keyvault:AccessPolicy": "Microsoft.KeyVault/vaults/accessPolicies",
    "azure-native:network:PrivateEndpoint": "Microsoft.Network/privateEndpoints",
    "azure-native:network:PrivateDnsZoneGroup": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    "azure-native:privatedns:PrivateZone": "Microsoft.Network/privateDnsZones",
    "azure-native:privatedns:VirtualNetworkLink": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    "azure-native:managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities",
    "azure-native:managedidentity:FederatedIdentityCredential": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    "azure-native:documentdb:DatabaseAccount": "Microsoft.DocumentDB/databaseAccounts",
    "azure-native:cosmosdb:DatabaseAccount": "Microsoft.DocumentDB/databaseAccounts",
    "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
    "azure-native:monitor:ActionGroup": "Microsoft.Insights/actionGroups",
    "azure-native:monitor:ScheduledQueryRule": "Microsoft.Insights/scheduledQueryRules",
    "azure-native:monitor:MetricAlert": "Microsoft.Insights/metricAlerts",
    "azure-native:storage:StorageAccount": "Microsoft.Storage/storageAccounts",
    "azure-native:storage:BlobContainer": "Microsoft.Storage/storageAccounts/blobServices/containers",
    "azure-native:web:AppServicePlan": "Microsoft.Web/serverfarms",
    "azure-native:web:WebApp": "Microsoft.Web/sites",
    "azure-native:applicationinsights:Component": "Microsoft.Insights/components",
    "azure-native:eventgrid:SystemTopic": "Microsoft.EventGrid/systemTopics",
    "azure-native:eventgrid:SystemTopicEventSubscription": "Microsoft.EventGrid/systemTopics/eventSubscriptions",
};

/** Picks the physical name azure-native would use: the explicit name input, else the logical name. */
function physicalName(args: pulumi.runtime.MockResourceArgs): string {
    const i = args.inputs;
    if (args.type === "azure-native:resources:ResourceGroup") return i.resourceGroupName ?? args.name;
    return i.vaultName ?? i.keyName ?? i.secretName ?? i.resourceName ?? i.accountName ?? i.workspaceName ?? i.actionGroupName ?? i.ruleName ?? i.privateEndpointName
        ?? i.privateZoneName ?? i.virtualNetworkLinkName ?? i.name ?? i.systemTopicName ?? i.eventSubscriptionName ?? i.roleAssignmentName
        ?? i.diagnosticSettingName ?? i.containerName ?? i.federatedIdentityCredentialResourceName ?? args.name;
}

function armId(args: pulumi.runtime.MockResourceArgs, name: string): string {
    const i = args.inputs;
    if (args.type === "azure-native:resources:ResourceGroup") return `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${name}`;
    if (args.type === "azure-native:authorization:RoleAssignment") return `${i.scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
    if (args.type === "azure-native:monitor:DiagnosticSetting") return `${i.resourceUri}/providers/Microsoft.Insights/diagnosticSettings/${name}`;
    if (args.type === "azure-native:keyvault:Key") return `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${i.resourceGroupName}/providers/Microsoft.KeyVault/vaults/${i.vaultName}/keys/${i.keyName ?? name}`;
    if (args.type === "azure-native:keyvault:Secret") return `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${i.resourceGroupName}/providers/Microsoft.KeyVault/vaults/${i.vaultName}/secrets/${i.secretName ?? name}`;
    const armType = ARM_TYPES[args.type];
    if (armType && i.resourceGroupName) return `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${i.resourceGroupName}/providers/${armType}/${name}`;
    return `${args.type.replace(/:/g, "/")}/${name}`;
}

/** Realistic computed outputs per type: what Azure fills in after create. */
function computed(args: pulumi.runtime.MockResourceArgs, name: string, id: string): Record<string, any> {
    const i = args.inputs;
    switch (args.type) {
        case "azure-native:keyvault:Vault":
            return { properties: { ...i.properties, vaultUri: `https://${name}.vault.azure.net/` } };
        case "azure-native:keyvault:Key": {
            const base = `https://${i.vaultName}.vault.azure.net/keys/${i.keyName ?? name}`;
            return { keyUri: base, keyUriWithVersion: `${base}/0123456789abcdef0123456789abcdef`, properties: { ...i.properties, keyUri: base, keyUriWithVersion: `${base}/0123456789abcdef0123456789abcdef` } };
        }
        case "azure-native:keyvault:Secret": {
            const base = `https://${i.vaultName}.vault.azure.net/secrets/${i.secretName ?? name}`;
            return { properties: { ...i.properties, secretUri: base, secretUriWithVersion: `${base}/0123456789abcdef0123456789abcdef` } };
        }
        case "azure-native:managedidentity:UserAssignedIdentity":
            return { principalId: fakeGuid(`principal:${id}`), clientId: fakeGuid(`client:${id}`), tenantId: TENANT_ID };
        case "azure-native:documentdb:DatabaseAccount":
        case "azure-native:cosmosdb:DatabaseAccount":
            return { documentEndpoint: `https://${name}.documents.azure.com:443/` };
        case "azure-native:operationalinsights:Workspace":
            return { customerId: fakeGuid(`workspace:${id}`) };
        case "azure-native:web:WebApp":
            return { defaultHostName: `${name}.azurewebsites.net`, identity: i.identity ? { ...i.identity, principalId: fakeGuid(`app:${id}`), tenantId: TENANT_ID } : undefined };
        case "azure-native:storage:StorageAccount":
            return { primaryEndpoints: { blob: `https://${name}.blob.core.windows.net/`, queue: `https://${name}.queue.core.windows.net/`, table: `https://${name}.table.core.windows.net/` } };
        case "azure-native:applicationinsights:Component":
            return { connectionString: `InstrumentationKey=${fakeGuid(id)};IngestionEndpoint=https://westeurope-1.in.applicationinsights.azure.com/`, instrumentationKey: fakeGuid(id) };
        case "azure-native:eventgrid:SystemTopic":
            return { identity: i.identity ? { ...i.identity, principalId: fakeGuid(`topic:${id}`), tenantId: TENANT_ID } : undefined };
        case "random:index/randomString:RandomString": {
            const len = i.length ?? 8;
            return { result: createHash("sha256").update(args.name).digest("hex").replace(/[0-9]/g, (d) => "abcdefghij"[Number(d)]).slice(0, len) };
        }
        case "random:index/randomPassword:RandomPassword":
            return { result: "mock-password-Aa1!" };
        case "azure:keyvault/certificate:Certificate":
            return { versionlessId: `${i.keyVaultId}/certificates/${i.name}`, secretId: `https://vault.vault.azure.net/secrets/${i.name}/0123`, versionlessSecretId: `https://vault.vault.azure.net/secrets/${i.name}` };
        default:
            return {};
    }
}

/** Sets the mocks for a project and stack; call it before any module that creates resources is loaded. */
export function installMockCloud(project: string, stack: string, preview: boolean): Promise<void> {
    return pulumi.runtime.setMocks(
        {
            newResource: async (args) => {
                const delay = createDelayMs[args.type];
                if (delay) await new Promise((r) => setTimeout(r, delay));
                const name = physicalName(args);
                const id = armId(args, name);
                return { id, state: { ...args.inputs, name, ...computed(args, name, id) } };
            },
            call: (args) => {
                switch (args.token) {
                    case "azure-native:authorization:getClientConfig":
                        return { clientId: fakeGuid("client"), objectId: CLIENT_OBJECT_ID, subscriptionId: SUBSCRIPTION_ID, tenantId: TENANT_ID };
                    default:
                        return args.inputs;
                }
            },
        },
        project,
        stack,
        preview,
    );
}

/** Called with each resource as the engine records it, for progress reporting. */
let onRecorded: ((r: RecordedResource) => void) | undefined;
export function setRecordedListener(listener: ((r: RecordedResource) => void) | undefined): void {
    onRecorded = listener;
}

/**
 * Recordings hold plain data only: assets and archives (whose fields are Promises) become
 * `{ asset: "<Class>" }`, so tests can compare, serialize and structuredClone them.
 */
function plain(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(plain);
    if (value === null || typeof value !== "object") return value;
    if (value instanceof Promise) return undefined;
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return { asset: (value as object).constructor.name };
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

function describeAlias(alias: any): string {
    if (alias.getUrn()) return alias.getUrn();
    const spec = alias.getSpec();
    return [spec.getType(), spec.getName() ? `name=${spec.getName()}` : ""].filter(Boolean).join(" ");
}

// Wrap the engine boundary once; the mock monitor is a fresh instance per setMocks, so patch the prototype.
const originalRegister = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = async function (this: MockMonitor, req: any, callback: (err: any, res: any) => void) {
    inFlight++;
    const order = ++counter;
    const startedAt = Date.now();
    return originalRegister.call(this, req, (err: any, res: any) => {
        if (!err && res && recording) {
            const urn: string = res.getUrn();
            const entry: RecordedResource = {
                type: req.getType(),
                name: req.getName(),
                urn,
                id: res.getId(),
                inputs: plain(deserializeProperties(req.getObject())) as Record<string, any>,
                state: plain(deserializeProperties(res.getObject())) as Record<string, any>,
                parentUrn: req.getParent(),
                dependencies: req.getDependenciesList(),
                ignoreChanges: req.getIgnorechangesList(),
                aliases: req.getAliasesList().map(describeAlias),
                protect: req.getProtect?.() ?? false,
                order,
                startedAt,
                createdAt: Date.now(),
            };
            recorded.push(entry);
            onRecorded?.(entry);
        }
        inFlight--;
        callback(err, res);
    });
};

/** Forgets everything recorded so far; call before each program run. */
export function resetRecorded(): void {
    recorded = [];
}

/**
 * Waits, as the language host does at the end of a program, until the SDK's RPC queue has
 * drained (every registration, including ones started by applies along the way), then until
 * the last recording callbacks have run.
 */
// Marked @internal in the SDK's typings, but it is the very drain the language host awaits.
const waitForRPCs = (sdkSettings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;

export async function settle(): Promise<RecordedResource[]> {
    for (;;) {
        await waitForRPCs();
        await new Promise((r) => setImmediate(r));
        if (inFlight === 0) return [...recorded];
    }
}

/** How many registrations the engine has received so far, recorded or not. */
export function registrations(): number {
    return counter;
}

/** Everything recorded so far (custom and component resources). */
export function allRecorded(): RecordedResource[] {
    return [...recorded];
}

/** Resolves an Output to a plain value; failures reject instead of timing out. */
export function unwrap<T>(output: pulumi.Output<T> | pulumi.Input<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        try {
            pulumi.output(output).apply((v) => {
                resolve(v as T);
                return v;
            });
        } catch (e) {
            reject(e);
        }
    });
}

/** Helpers over a run's recorded resources. */
export class Recording {
    constructor(public readonly resources: RecordedResource[]) {}

    ofType(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }

    one(type: string, nameContains?: string): RecordedResource {
        const matches = this.ofType(type).filter((r) => !nameContains || r.name.includes(nameContains));
        if (matches.length !== 1) {
            throw new Error(`expected exactly one ${type}${nameContains ? ` named *${nameContains}*` : ""}, found ${matches.length}: ${matches.map((m) => m.name).join(", ")}`);
        }
        return matches[0];
    }

    byUrn(urn: string): RecordedResource | undefined {
        return this.resources.find((r) => r.urn === urn);
    }

    /** True when `a` lists `b` among its engine dependencies. */
    dependsOn(a: RecordedResource, b: RecordedResource): boolean {
        return a.dependencies.includes(b.urn);
    }
}

/** Runs a program body under the mocks and returns what it registered. */
export async function record(body: () => unknown): Promise<Recording> {
    resetRecorded();
    const result = body();
    if (result && typeof (result as Promise<unknown>).then === "function") await result;
    return new Recording(await settle());
}
