import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import type { OperationKind } from "../../domain/ports";
import { SECRET_MARKER } from "../redact";

/** What the engine sends its child: one run's stack, project and config. */
export interface ParentMessage {
    kind: OperationKind;
    projectName: string;
    stackName: string;
    /** `namespace:key` → value, as the Pulumi engine hands config to a program. */
    config: Record<string, string>;
    /** Keys whose values are secret. */
    secretKeys: string[];
    /** Per-policy config, as in a --policy-pack-config file. */
    policyConfig: Record<string, Record<string, unknown>>;
}

/** A resource as the program registered it, with secret inputs masked. */
export interface RegisteredStep {
    type: string;
    name: string;
    urn: string;
    inputs: Record<string, unknown>;
}

export type ChildMessage =
    | { type: "resource"; resource: RegisteredStep }
    | { type: "done"; outputs: Record<string, unknown>; violations: Array<{ policy: string; enforcementLevel: string; message: string; urn?: string }> }
    | { type: "failed"; message: string; stack?: string; configInvalid: boolean };

/** Replaces every value the program marked secret with the engine's own marker, at any depth. */
export function maskSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(maskSecrets);
    if (value === null || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    if (obj[specialSigKey] === specialSecretSig) return SECRET_MARKER;
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, maskSecrets(v)]));
}
