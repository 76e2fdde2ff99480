import type { TargetKind } from "./spec";

export const OUTCOMES = ["rotated", "resumed", "rolled-back", "skipped", "failed"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The per-secret answer of every trigger. It never carries a secret value. */
export interface RotationResult {
    secret: string;
    target: TargetKind | "unknown";
    outcome: Outcome;
    /** The credential the vault's current version holds after this run. */
    credentialId?: string;
    /** The vault's current version after this run. */
    version?: string;
    reason: string;
    /** failed only: whether running again can help (false for invalid tags or config). */
    retryable?: boolean;
}
