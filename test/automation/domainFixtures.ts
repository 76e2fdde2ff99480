import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Actor, Operation } from "../../automation/domain/ports";
import type { ClaimRequest, Store } from "../../automation/domain/store";
import { loadPlatformProfile, type PlatformProfile } from "../../automation/domain/platformProfile";
import { parseDesiredEnvironment, type DesiredEnvironment } from "../../automation/domain/spec";
import type { Clock } from "../../automation/domain/runtime";

/** Shared fixtures for the domain, store and worker tests. */

/** Claims one operation and records nothing else with it, as a test stands in for a worker. */
export async function claimOne(store: Pick<Store, "claim">, request: Omit<ClaimRequest, "limit">): Promise<Operation | undefined> {
    const [claimed] = await store.claim({ ...request, limit: 1 }, async (_tx, op) => op);
    return claimed;
}

export const ADMIN: Actor = { subject: "admin-1", role: "admin" };
export const PAYMENTS_OPERATOR: Actor = { subject: "alice", role: "operator", team: "payments" };
export const PAYMENTS_READER: Actor = { subject: "rita", role: "reader", team: "payments" };
export const SEARCH_OPERATOR: Actor = { subject: "bob", role: "operator", team: "search" };

export const GUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

/** A full, valid spec; tests copy and break one field at a time. */
export function validSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        tier: "dev",
        location: "westeurope",
        team: "payments",
        network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
        access: [{ principalId: GUID, principalType: "Group", role: "secrets-user" }],
        cosmos: { enabled: false },
        alerts: { emails: ["ops@example.com"] },
        ttlHours: 72,
        ...overrides,
    };
}

/** The platform profile shipped as platform.example.yaml: the one the README's quickstart uses. */
export const EXAMPLE_PROFILE: PlatformProfile = loadPlatformProfile(join(__dirname, "..", "..", "platform.example.yaml"));

/** A PUT body as the HTTP edge hands it to the service: parsed once, against a platform profile. */
export function desired(name: string, body: unknown, profile: PlatformProfile = EXAMPLE_PROFILE): DesiredEnvironment {
    return parseDesiredEnvironment(name, body, profile);
}

/** A clock tests move by hand; starts at a fixed instant. */
export class ManualClock implements Clock {
    private t: number;
    constructor(start = Date.parse("2030-01-01T00:00:00.000Z")) {
        this.t = start;
    }
    now(): Date {
        return new Date(this.t);
    }
    advance(ms: number): void {
        this.t += ms;
    }
    iso(offsetMs = 0): string {
        return new Date(this.t + offsetMs).toISOString();
    }
}

/** Sequential ids, readable in failures. */
export function sequentialIds(prefix = "id"): { newId(): string } {
    let n = 0;
    return { newId: () => `${prefix}-${String(++n).padStart(4, "0")}` };
}

export function tempDir(label: string): { path: string; remove(): void } {
    const path = mkdtempSync(join(tmpdir(), `kvp-${label}-`));
    return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs` with `what`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 5));
    }
}
