import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ProblemListError, schemaProblems, type FieldProblem } from "../../config/problems";
import { EmailSchema, LocationSchema, PrivateEndpointSchema, SubnetIdSchema, TIERS, type Tier } from "../../config/schema";
import { reservedTagProblem } from "@keyvault-platform/conventions";
import { tagProblem, workspaceIdProblem } from "../../config/validators";

/**
 * The platform profile: the landing-zone settings a platform team writes once, per tier,
 * so that a team's spec stays small. The server merges it with each spec into the stack
 * config (automation/domain/spec.ts). platform.example.yaml in the repository root is a
 * complete, commented example; docs/platform-profile.md explains how a change rolls out.
 */

const TierProfileSchema = z.object({
    /** Where each vault's private endpoint goes, and how its name resolves. Required before prod can be served. */
    privateEndpoint: PrivateEndpointSchema.optional(),
    /** A central Log Analytics workspace; without one each environment gets its own. */
    logAnalyticsWorkspaceId: z.string().superRefine((v, ctx) => {
        const p = workspaceIdProblem(v);
        if (p) ctx.addIssue({ code: "custom", message: p });
    }).optional(),
    /** Subnet delegated to Microsoft.App/environments, for the rotation function's VNet integration. */
    rotationSubnetId: SubnetIdSchema.optional(),
    /** Alert receivers used when a spec names none. */
    alertEmails: z.array(EmailSchema).max(50).optional(),
    /** Regions a spec may ask for in this tier; absent means any region the policy pack allows. */
    allowedLocations: z.array(LocationSchema).min(1).optional(),
    /** Extra tags on every resource of the tier, e.g. a cost centre. */
    tags: z.record(z.string(), z.string()).superRefine((tags, ctx) => {
        for (const [k, v] of Object.entries(tags)) {
            const p = reservedTagProblem(k) ?? tagProblem(k, v);
            if (p) ctx.addIssue({ code: "custom", path: [k], message: p });
        }
    }).optional(),
}).strict();

export const PlatformProfileSchema = z.object({
    tiers: z.object(Object.fromEntries(TIERS.map((t) => [t, TierProfileSchema.optional()])) as Record<Tier, z.ZodOptional<typeof TierProfileSchema>>).strict(),
}).strict();

export type TierProfile = z.infer<typeof TierProfileSchema>;
export type PlatformProfile = z.infer<typeof PlatformProfileSchema>;

/** No profile: dev and staging work as before; prod is refused until the platform team configures its network. */
export const EMPTY_PROFILE: PlatformProfile = { tiers: {} };

export class PlatformProfileError extends ProblemListError<FieldProblem> {
    constructor(public readonly file: string, problems: FieldProblem[]) {
        super(`${file} is not a valid platform profile`, problems, (p) => `${p.path}: ${p.message}`);
    }
}

export function parsePlatformProfile(raw: unknown, file = "platform profile"): PlatformProfile {
    const result = PlatformProfileSchema.safeParse(raw ?? {});
    if (!result.success) throw new PlatformProfileError(file, schemaProblems(result.error, raw, { schema: PlatformProfileSchema }));
    return result.data;
}

/** Reads and validates a profile file; every failure names the file and the bad key. */
export function loadPlatformProfile(file: string): PlatformProfile {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (e) {
        throw new PlatformProfileError(file, [{ path: "(file)", message: `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
    }
    let raw: unknown;
    try {
        raw = parseYaml(text);
    } catch (e) {
        throw new PlatformProfileError(file, [{ path: "(file)", message: `is not valid YAML: ${(e as Error).message.split("\n")[0]}` }]);
    }
    return parsePlatformProfile(raw, file);
}
