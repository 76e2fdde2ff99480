import type {
    EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
} from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { CONFIG_SCHEMA, PackConfig, resolveConfig } from "./config";
import { canonicalProps, canonicalStack, canonicalType } from "./resources";
import { MIRRORS, MirroredRule } from "./rules";

/**
 * Canonical resource type tokens the pack inspects (azure-native v3, plus the classic
 * certificate, which azure-native lacks). API-versioned and classic tokens are mapped
 * onto these, with their properties, by resources.ts before any check runs.
 */
export const TYPES = {
    vault: "azure-native:keyvault:Vault",
    key: "azure-native:keyvault:Key",
    secret: "azure-native:keyvault:Secret",
    accessPolicy: "azure-native:keyvault:AccessPolicy",
    /** v3 registers Cosmos DB under cosmosdb; documentdb is the older module name, still aliased. */
    cosmosAccounts: ["azure-native:cosmosdb:DatabaseAccount", "azure-native:documentdb:DatabaseAccount"],
    roleAssignment: "azure-native:authorization:RoleAssignment",
    diagnosticSetting: "azure-native:monitor:DiagnosticSetting",
    privateEndpoint: "azure-native:network:PrivateEndpoint",
    storageAccount: "azure-native:storage:StorageAccount",
    webApp: "azure-native:web:WebApp",
    eventSubscriptions: ["azure-native:eventgrid:SystemTopicEventSubscription", "azure-native:eventgrid:EventSubscription"],
    certificate: "azure:keyvault/certificate:Certificate",
} as const;

/** Resource inputs (or, for stack checks, outputs) as the engine hands them over: untyped JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- checks probe optional paths of arbitrary provider payloads
export type Props = Record<string, any>;

/** What a resource check sees besides the props: where the resource lives and the resolved config. */
export interface CheckContext {
    /** The resource's type token (a policy may cover several). */
    type: string;
    urn: string;
    name: string;
    config: PackConfig;
}

/** The slice of @pulumi/policy's PolicyResource that stack checks rely on. */
export interface StackResource {
    type: string;
    name: string;
    urn: string;
    props: Props;
    dependencies: StackResource[];
    propertyDependencies?: Record<string, StackResource[]>;
}

export interface StackViolation {
    /** The resource at fault; absent when the stack as a whole is at fault. */
    urn?: string;
    message: string;
}

/** A pure check: one message per problem found, none when the resource complies. */
export type ResourceCheck = (props: Props, ctx: CheckContext) => string[];
export type StackCheck = (resources: StackResource[], config: PackConfig) => StackViolation[];

interface CommonSpec {
    /** Stable policy id, e.g. `kv-soft-delete-enabled`. */
    name: string;
    description: string;
    enforcementLevel: EnforcementLevel;
    /** The external rule this policy mirrors, cited in every violation. */
    mirrors: MirroredRule;
    /** What to change, in the program's terms. */
    remediation: string;
    /** Config keys the check reads; they form the policy's configSchema. */
    configKeys?: (keyof PackConfig)[];
}

export interface ResourcePolicySpec extends CommonSpec {
    /** Type tokens the policy applies to; `*` applies it to every resource. */
    types: readonly string[];
    check: ResourceCheck;
}

export interface StackPolicySpec extends CommonSpec {
    check: StackCheck;
}

export type PackResourcePolicy = ResourceValidationPolicy & { validateResource: (args: ResourceValidationArgs, report: ReportViolation) => void; types: readonly string[]; check: ResourceCheck; mirrors: string };
export type PackStackPolicy = StackValidationPolicy & { check: StackCheck; mirrors: string };
export type PackPolicy = PackResourcePolicy | PackStackPolicy;

function configSchemaOf(keys: (keyof PackConfig)[] | undefined): { properties: Record<string, PolicyConfigJSONSchema> } | undefined {
    if (!keys?.length) return undefined;
    return { properties: Object.fromEntries(keys.map((k) => [k, CONFIG_SCHEMA[k]])) };
}

/** The text appended to every violation: how to fix it and which rule it mirrors. */
export function remediationText(spec: Pick<CommonSpec, "remediation" | "mirrors">): string {
    return `Remediation: ${spec.remediation} (mirrors ${MIRRORS[spec.mirrors]})`;
}

/** What a resource policy and a stack policy both carry. */
function policyFields<S extends ResourcePolicySpec | StackPolicySpec>(spec: S) {
    return {
        name: spec.name,
        description: spec.description,
        enforcementLevel: spec.enforcementLevel,
        remediationSteps: remediationText(spec),
        configSchema: configSchemaOf(spec.configKeys),
        check: spec.check as S["check"],
        mirrors: MIRRORS[spec.mirrors],
    };
}

export function resourcePolicy(spec: ResourcePolicySpec): PackResourcePolicy {
    const steps = remediationText(spec);
    return {
        ...policyFields(spec),
        types: spec.types,
        validateResource: (args, reportViolation) => {
            const type = canonicalType(args.type);
            if (!spec.types.includes("*") && !spec.types.includes(type)) return;
            const config = resolveConfig(spec.name, args.getConfig<Record<string, unknown>>());
            for (const problem of spec.check(canonicalProps(args.type, args.props), { type, urn: args.urn, name: args.name, config })) {
                reportViolation(`${problem}. ${steps}`);
            }
        },
    };
}

export function stackPolicy(spec: StackPolicySpec): PackStackPolicy {
    const steps = remediationText(spec);
    return {
        ...policyFields(spec),
        validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
            const config = resolveConfig(spec.name, args.getConfig<Record<string, unknown>>());
            for (const v of spec.check(canonicalStack(args.resources), config)) reportViolation(`${v.message}. ${steps}`, v.urn);
        },
    };
}

/** Case-insensitive equality for ARM enum strings (`Deny`/`deny`, `Rotate`/`rotate`). */
export function sameText(a: unknown, b: string): boolean {
    return typeof a === "string" && a.toLowerCase() === b.toLowerCase();
}

export function asArray<T = unknown>(v: unknown): T[] {
    return Array.isArray(v) ? (v as T[]) : [];
}

/** The stack segment of a URN: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOfUrn(urn: string): string | undefined {
    return /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

/** The value of a tag, matching the key case-insensitively as ARM does. */
export function tagValue(props: Props, key: string): string | undefined {
    const tags = props.tags;
    if (!tags || typeof tags !== "object") return undefined;
    const hit = Object.keys(tags).find((k) => k.toLowerCase() === key.toLowerCase());
    const v = hit === undefined ? undefined : tags[hit];
    return typeof v === "string" ? v : undefined;
}

const inList = (value: string | undefined, names: string[]) => value !== undefined && names.some((n) => n.toLowerCase() === value.toLowerCase());

/**
 * Production if either the resource's tier tag or the stack name says so: a vault
 * tagged dev inside a prod stack is still a prod vault for recovery purposes.
 */
export function isProdTier(props: Props, urn: string, config: PackConfig): boolean {
    return inList(tagValue(props, config.tierTagKey), config.prodTierNames) || inList(stackOfUrn(urn), config.prodTierNames);
}

/** Development only when nothing says prod and the tier tag (else the stack name) names a dev tier. */
export function isDevTier(props: Props, urn: string, config: PackConfig): boolean {
    if (isProdTier(props, urn, config)) return false;
    const tag = tagValue(props, config.tierTagKey);
    return tag !== undefined ? inList(tag, config.devTierNames) : inList(stackOfUrn(urn), config.devTierNames);
}

/** The name segment after `/providers/<namespace>/<type>/` in an ARM id, if the id is of that type. */
export function armNameOf(id: unknown, namespaceAndType: string): string | undefined {
    if (typeof id !== "string") return undefined;
    const re = new RegExp(`/providers/${namespaceAndType.replace("/", "\\/")}/([^/]+)`, "i");
    return re.exec(id)?.[1];
}

/** A vault's name: the explicit input, else the name output (state). */
export function vaultNameOf(vault: Pick<StackResource, "props">): string | undefined {
    const n = vault.props.vaultName ?? vault.props.name;
    return typeof n === "string" ? n : undefined;
}

/**
 * The vault a key or secret lives in: by its vaultName input, by the host of its
 * data-plane URI (outputs carry keyUri/secretUri but not vaultName), or by the
 * engine's dependency on a vault in the same stack.
 */
export function vaultOf(child: StackResource, vaults: StackResource[]): StackResource | undefined {
    const byName = (name: unknown) => typeof name === "string" ? vaults.find((v) => vaultNameOf(v)?.toLowerCase() === name.toLowerCase()) : undefined;
    const uri = child.props.keyUri ?? child.props.properties?.keyUri ?? child.props.secretUri ?? child.props.properties?.secretUri ?? child.props.versionlessId;
    const host = typeof uri === "string" ? /^https:\/\/([^.]+)\.vault\./i.exec(uri)?.[1] : undefined;
    return byName(child.props.vaultName)
        ?? byName(host)
        ?? byName(armNameOf(child.props.keyVaultId, "Microsoft.KeyVault/vaults"))
        ?? child.propertyDependencies?.vaultName?.find((d) => d.type === TYPES.vault)
        ?? child.dependencies.find((d) => d.type === TYPES.vault);
}
