/**
 * Domain errors. The HTTP layer maps each class to a status in exactly one place;
 * nothing in the domain knows about HTTP. Every message is safe to show a client:
 * no raw CLI output, no stack traces, no secret values.
 */

import type { FieldProblem } from "../../config/problems";

export abstract class DomainError extends Error {
    /** Stable machine-readable code, e.g. `validation_failed`. */
    abstract readonly code: string;

    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        // The subclass's own name (NotFoundError, ...), which is what logs and stacks show.
        this.name = new.target.name;
    }
}

/** The request is malformed: each problem names a field. */
export class ValidationError extends DomainError {
    readonly code = "validation_failed";
    constructor(public readonly problems: FieldProblem[], message = "The request is invalid.") {
        super(message);
    }
}

/**
 * The request is valid, but the platform profile lacks what serving it needs (prod's
 * private endpoint, say). The platform team must fix the profile; the request is never
 * served with weaker settings instead.
 */
export class PlatformNotConfiguredError extends DomainError {
    readonly code = "platform_not_configured";
    constructor(public readonly tier: string, public readonly problems: FieldProblem[]) {
        super(`The platform profile does not configure what a ${tier} environment needs; ask the platform team to set ${problems.map((p) => p.path).join(", ")} in the platform profile (KVP_PLATFORM_FILE).`);
    }
}

/** The thing does not exist, or the actor may not know that it exists. */
export class NotFoundError extends DomainError {
    readonly code = "not_found";
}

/** The actor is known but its role or team does not allow this. */
export class ForbiddenError extends DomainError {
    readonly code = "forbidden";
}

/** The request is valid but clashes with the current state (e.g. the environment is being destroyed). */
export class ConflictError extends DomainError {
    readonly code = "conflict";
}

/** A precondition the client set does not hold, e.g. an Idempotency-Key reused with a different body. */
export class PreconditionFailedError extends DomainError {
    readonly code = "precondition_failed";
}

/** A dependency (the store's disk, the engine) cannot serve the request right now; retrying later may work. */
export class UnavailableError extends DomainError {
    readonly code = "unavailable";
}
