import type { EngineEvent as PulumiEvent, StepEventMetadata } from "@pulumi/pulumi/automation";
import type { EngineEvent } from "../domain/ports";
import type { PolicyViolation } from "./errors";
import type { Masker } from "./redact";

/** A resource whose refreshed state differed from the recorded state. */
export interface DriftedResource {
    urn: string;
    type: string;
    op: string;
    /** Names of the properties that changed; never their values. */
    diffs: string[];
}

/**
 * Only what a client may see of a step: identity, operation and the names of
 * changed properties. Outputs and old state stay out: they can hold values a
 * provider returned in plaintext.
 */
function step(m: StepEventMetadata): { urn: string; type: string; name: string; op: string; diffs?: string[] } {
    return { urn: m.urn, type: m.type, name: m.urn.slice(m.urn.lastIndexOf("::") + 2), op: m.op, ...(m.diffs?.length ? { diffs: [...m.diffs] } : {}) };
}

/** A string masked at every depth of a JSON value. */
function maskDeep(value: unknown, mask: Masker): unknown {
    if (typeof value === "string") return mask(value);
    if (Array.isArray(value)) return value.map((v) => maskDeep(v, mask));
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v, mask)]));
}

/**
 * Translates the Automation API's event stream into safe engine events, and
 * keeps what error mapping and drift reporting need afterwards. Raw stdout
 * events are not forwarded: they are CLI console text, kept for server logs.
 */
export class EventTranslator {
    readonly violations: PolicyViolation[] = [];
    readonly errorDiagnostics: string[] = [];
    readonly drifted: DriftedResource[] = [];

    /** `trackDrift` is set for refresh, the only kind whose changes are drift rather than intent. */
    constructor(private readonly mask: Masker, private readonly trackDrift = false) {}

    translate(e: PulumiEvent): EngineEvent | undefined {
        if (e.resourcePreEvent) {
            // The planned inputs are what the program sent (the engine has already replaced secrets
            // with "[secret]"), which is what a team reviews before it applies.
            const m = e.resourcePreEvent.metadata;
            return { type: "resource-pre", data: { ...step(m), planning: e.resourcePreEvent.planning === true, inputs: maskDeep(m.new?.inputs ?? {}, this.mask) } };
        }
        if (e.resOutputsEvent) {
            const s = step(e.resOutputsEvent.metadata);
            if (this.trackDrift) this.noteDrift(s);
            return { type: "resource-outputs", data: s };
        }
        if (e.resOpFailedEvent) {
            return { type: "resource-failed", data: { ...step(e.resOpFailedEvent.metadata), status: e.resOpFailedEvent.status } };
        }
        if (e.diagnosticEvent) {
            const d = e.diagnosticEvent;
            // Ephemeral diagnostics are progress spinners' text, replaced a moment later.
            if (d.ephemeral) return undefined;
            const message = this.mask(d.message).trim();
            if (d.severity === "error" && message) this.errorDiagnostics.push(message);
            return { type: "diagnostic", data: { severity: d.severity, message, ...(d.urn ? { urn: d.urn } : {}) } };
        }
        if (e.policyEvent) {
            const p = e.policyEvent;
            const data = {
                policy: p.policyName,
                pack: p.policyPackName,
                packVersion: p.policyPackVersion,
                message: this.mask(p.message).trim(),
                enforcementLevel: p.enforcementLevel,
                ...(p.resourceUrn ? { urn: p.resourceUrn } : {}),
            };
            if (p.enforcementLevel === "mandatory") {
                this.violations.push({ policy: data.policy, pack: data.pack, message: data.message, ...(p.resourceUrn ? { urn: p.resourceUrn } : {}) });
            }
            return { type: "policy", data };
        }
        if (e.summaryEvent) {
            const s = e.summaryEvent;
            return { type: "summary", data: { resourceChanges: { ...s.resourceChanges }, durationSeconds: s.durationSeconds, maybeCorrupt: s.maybeCorrupt, policyPacks: { ...s.policyPacks } } };
        }
        if (e.cancelEvent) return { type: "cancel", data: {} };
        return undefined;
    }

    /** A refresh step that changed or lost a resource is drift; `same` and plain creates are not. */
    private noteDrift(s: { urn: string; type: string; op: string; diffs?: string[] }): void {
        if (s.type === "pulumi:pulumi:Stack" || s.type.startsWith("pulumi:providers:")) return;
        const refreshChanged = s.op === "refresh" && (s.diffs?.length ?? 0) > 0;
        if (refreshChanged || s.op === "delete" || s.op === "update") {
            this.drifted.push({ urn: s.urn, type: s.type, op: s.op, diffs: s.diffs ?? [] });
        }
    }
}
