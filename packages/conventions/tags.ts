/**
 * Who owns a resource, recorded the same way on everything the platform creates.
 *
 * Four tags, decided here once: the components apply them, the self-service server
 * sets their values through the stack config, and the policy pack reads the tier from
 * them. A `pulumi up` stack and a server-made environment carry the same keys.
 */

export const TIERS = ["dev", "staging", "prod"] as const;
/** The class of an environment (dev, staging, prod): it decides retention, purge protection and network rules. */
export type Tier = (typeof TIERS)[number];

/** Who applies the program: a person or pipeline running `pulumi up`, or the self-service server. */
export const MANAGERS = ["keyvault-platform", "keyvault-platform-server"] as const;
export type Manager = (typeof MANAGERS)[number];

export const TAG_KEYS = {
    /** The owning team. */
    team: "Team",
    /** The environment instance, which is also the Pulumi stack name: `payments-dev`, or `prod` for a stack file. */
    environment: "Environment",
    /** The tier: dev, staging or prod. */
    tier: "Tier",
    /** What applies the program (one of MANAGERS). */
    managedBy: "ManagedBy",
} as const;

const RESERVED = Object.values(TAG_KEYS);

export interface Ownership {
    team: string;
    /** The environment instance's name (the Pulumi stack name). */
    environmentName: string;
    tier: Tier;
    managedBy: Manager;
}

export function ownershipTags(o: Ownership): Record<string, string> {
    return {
        [TAG_KEYS.team]: o.team,
        [TAG_KEYS.environment]: o.environmentName,
        [TAG_KEYS.tier]: o.tier,
        [TAG_KEYS.managedBy]: o.managedBy,
    };
}

/**
 * Why a caller's extra tag cannot be used, or undefined. Azure compares tag names
 * case-insensitively, so `tier: x` would silently collide with `Tier`.
 */
export function reservedTagProblem(key: string): string | undefined {
    const reserved = RESERVED.find((r) => r.toLowerCase() === key.toLowerCase());
    return reserved ? `is set by the platform (${RESERVED.join(", ")}); choose another tag name` : undefined;
}
