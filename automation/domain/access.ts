import { ForbiddenError, NotFoundError } from "./errors";
import type { Actor } from "./ports";

/**
 * Who may see and change what. Admins see every team; operators change their own
 * team's environments; readers only read. Another team's environment is reported as
 * not found, so names of other teams' environments do not leak through reads.
 */

export function isAdmin(actor: Actor): boolean {
    return actor.role === "admin";
}

/** Non-admins must carry a team; a token without one is misconfigured, not a wildcard. */
function teamOf(actor: Actor): string {
    if (!actor.team) throw new ForbiddenError(`The caller ${actor.subject} has role ${actor.role} but no team; only admins may act without a team.`);
    return actor.team;
}

export function canSee(actor: Actor, team: string): boolean {
    return isAdmin(actor) || teamOf(actor) === team;
}

export function assertCanMutate(actor: Actor): void {
    if (actor.role === "reader") throw new ForbiddenError("The reader role may not change environments or operations.");
    if (!isAdmin(actor)) teamOf(actor);
}

export function assertVisible(actor: Actor, team: string, what: string): void {
    if (!canSee(actor, team)) throw new NotFoundError(`${what} does not exist.`);
}

/** A non-admin may only name its own team in a spec. */
export function assertMayUseTeam(actor: Actor, team: string): void {
    if (!isAdmin(actor) && teamOf(actor) !== team) {
        throw new ForbiddenError(`team must be your own team (${teamOf(actor)}); only admins may manage other teams' environments.`);
    }
}

export function assertAdmin(actor: Actor, what: string): void {
    if (!isAdmin(actor)) throw new ForbiddenError(`Only admins may ${what}.`);
}

/** The team a non-admin's queries are confined to; undefined (any) for admins. */
export function visibleTeam(actor: Actor, requested?: string): string | undefined {
    if (isAdmin(actor)) return requested;
    const own = teamOf(actor);
    if (requested !== undefined && requested !== own) throw new ForbiddenError(`You may only list your own team's environments (${own}).`);
    return own;
}
