/**
 * Runs the pack's policies the way the Pulumi engine does, without the CLI:
 * builds the ResourceValidationArgs / StackValidationArgs that @pulumi/policy
 * would pass, collects reportViolation calls, and honours notApplicable. The
 * server's offline engine checks every preview with it, and the tests use it.
 */
import type { PolicyResource, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import type { PackPolicy, Props } from "./helpers";
import { ALL_POLICIES } from "./policies";

export type { Props } from "./helpers";

/** A resource as a program run registered it: its inputs, and the state the provider returned. */
export interface RegisteredResource {
    type: string;
    name: string;
    urn: string;
    inputs: Props;
    state: Props;
    parentUrn: string;
    dependencies: string[];
    ignoreChanges: string[];
    protect: boolean;
}

export interface Violation {
    policy: string;
    enforcementLevel: string;
    message: string;
    urn?: string;
}

/** Per-policy config, keyed by policy name, as in a --policy-pack-config file. */
export type PackConfigFile = Record<string, Record<string, unknown>>;

class NotApplicable extends Error {}

export function urnOf(type: string, name: string, stack = "test"): string {
    return `urn:pulumi:${stack}::keyvault-platform::${type}::${name}`;
}

const EMPTY_OPTS = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

export interface ResourceInput {
    type: string;
    name: string;
    urn?: string;
    props: Props;
    parentUrn?: string;
    ignoreChanges?: string[];
    protect?: boolean;
}

/** The args @pulumi/policy hands validateResource for one resource's inputs. */
export function resourceArgs(r: ResourceInput, config: Record<string, unknown> = {}): ResourceValidationArgs {
    return {
        type: r.type,
        props: r.props,
        urn: r.urn ?? urnOf(r.type, r.name),
        name: r.name,
        opts: { ...EMPTY_OPTS, protect: r.protect ?? false, ignoreChanges: r.ignoreChanges ?? [], ...(r.parentUrn ? { parent: r.parentUrn } : {}) },
        stackTags: new Map(),
        isType: (cls) => (cls as unknown as { __pulumiType?: string }).__pulumiType === r.type,
        asType: (cls) => ((cls as unknown as { __pulumiType?: string }).__pulumiType === r.type ? r.props as never : undefined),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => { throw new NotApplicable(reason); },
    };
}

export interface StackInput extends ResourceInput {
    /** URNs this resource depends on. */
    dependencies?: string[];
}

/** The PolicyResource graph @pulumi/policy builds for validateStack, with dependencies linked. */
export function stackResources(inputs: StackInput[]): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    const resources = inputs.map((r): PolicyResource => {
        const args = resourceArgs(r);
        const res: PolicyResource = {
            type: r.type, props: r.props, urn: args.urn, name: r.name, opts: args.opts, dependencies: [], propertyDependencies: {},
            isType: args.isType, asType: () => undefined,
        };
        byUrn.set(res.urn, res);
        return res;
    });
    inputs.forEach((r, i) => {
        resources[i].dependencies = (r.dependencies ?? []).map((u) => byUrn.get(u)).filter((d): d is PolicyResource => d !== undefined);
        if (r.parentUrn) resources[i].parent = byUrn.get(r.parentUrn);
    });
    return resources;
}

function collect(policy: PackPolicy, into: Violation[]) {
    return (message: string, urn?: string) => into.push({ policy: policy.name, enforcementLevel: policy.enforcementLevel ?? "advisory", message, urn });
}

export function runResourcePolicy(policy: PackPolicy, r: ResourceInput, config: Record<string, unknown> = {}): Violation[] {
    const out: Violation[] = [];
    if (!("validateResource" in policy)) return out;
    try {
        policy.validateResource(resourceArgs(r, config), collect(policy, out));
    } catch (e) {
        if (!(e instanceof NotApplicable)) throw e;
    }
    return out;
}

export function runStackPolicy(policy: PackPolicy, resources: PolicyResource[], config: Record<string, unknown> = {}): Violation[] {
    const out: Violation[] = [];
    if (!("validateStack" in policy)) return out;
    const args: StackValidationArgs = {
        resources,
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => { throw new NotApplicable(reason); },
    };
    try {
        policy.validateStack(args, collect(policy, out));
    } catch (e) {
        if (!(e instanceof NotApplicable)) throw e;
    }
    return out;
}

export function policyNamed(name: string): PackPolicy {
    const p = ALL_POLICIES.find((x) => x.name === name);
    if (!p) throw new Error(`no policy named ${name}; known: ${ALL_POLICIES.map((x) => x.name).join(", ")}`);
    return p;
}

/**
 * The whole pack over a stack, as `pulumi preview --policy-pack` would run it:
 * every resource policy on each resource's inputs, then every stack policy once
 * on the outputs (the mocks' recorded state).
 */
export function evaluatePack(resources: StackInput[], outputs: StackInput[] = resources, config: PackConfigFile = {}): Violation[] {
    const violations: Violation[] = [];
    for (const policy of ALL_POLICIES) {
        const cfg = config[policy.name] ?? {};
        if ("validateStack" in policy) {
            violations.push(...runStackPolicy(policy, stackResources(outputs), cfg));
        } else {
            for (const r of resources) violations.push(...runResourcePolicy(policy, r, cfg));
        }
    }
    return violations;
}

/** Recorded resources as policy inputs (inputs) and as stack resources (state, the mocks' outputs). */
export function fromRecorded(recorded: RegisteredResource[]): { inputs: StackInput[]; outputs: StackInput[] } {
    const base = (r: RegisteredResource, props: Props): StackInput => ({
        type: r.type, name: r.name, urn: r.urn, props, parentUrn: r.parentUrn || undefined, dependencies: r.dependencies, ignoreChanges: r.ignoreChanges, protect: r.protect,
    });
    return { inputs: recorded.map((r) => base(r, r.inputs)), outputs: recorded.map((r) => base(r, r.state)) };
}

export const mandatory = (vs: Violation[]) => vs.filter((v) => v.enforcementLevel === "mandatory");
export const describeViolations = (vs: Violation[]) => vs.map((v) => `  [${v.enforcementLevel}] ${v.policy}: ${v.message}${v.urn ? ` (${v.urn})` : ""}`).join("\n");

/** A deep copy of resource properties with one dotted path set (or deleted when value is undefined): how a check is probed with one setting broken. */
export function withPath(props: Props, path: string, value: unknown): Props {
    const copy = structuredClone(props);
    const keys = path.split(".");
    let cur: Props = copy;
    for (const k of keys.slice(0, -1)) cur = (cur[k] ??= {});
    const last = keys[keys.length - 1];
    if (value === undefined) delete cur[last];
    else cur[last] = value;
    return copy;
}
