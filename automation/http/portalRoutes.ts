import { z } from "zod";
import { TeamSchema } from "../../config/schema";
import type { EnvironmentService } from "../domain/service";
import { route, type Route } from "./route";
import { EnvironmentParamsSchema, OperationSchema, PageQuerySchema } from "./schemas";

/**
 * Routes the portal needs and any other client may use: who the caller is (so a page shows
 * only the actions the caller's role and team allow), an environment's operation history,
 * and a dry run that shows a spec's plan before it is applied. Declared like every other
 * route, so /openapi.json describes them.
 */

export const WhoAmISchema = z.object({
    subject: z.string().max(300).meta({ description: "The credential's stable id (token id or `oidc:<sub>`); never the token." }),
    role: z.enum(["admin", "operator", "reader"]),
    team: TeamSchema.optional().meta({ description: "The caller's team; absent for admins, who see every team." }),
}).meta({ id: "WhoAmI" });

const OperationListSchema = z.object({ items: z.array(OperationSchema).max(100) });
const HistoryQuerySchema = PageQuerySchema.pick({ limit: true });

export function portalApiRoutes(service: EnvironmentService): Route[] {
    return [
        route({
            method: "get", path: "/v1/whoami", operationId: "whoAmI", tag: "access",
            summary: "The caller's subject, role and team, as every other route sees them", role: "reader",
            responses: { 200: { description: "The caller", schema: WhoAmISchema } },
            handle({ res, actor }) {
                res.json(actor.role === "admin" ? { subject: actor.subject, role: actor.role } : { subject: actor.subject, role: actor.role, team: actor.team });
            },
        }),
        route({
            method: "get", path: "/v1/environments/{name}/operations", operationId: "listEnvironmentOperations", tag: "environments",
            summary: "An environment's operations, newest first", role: "reader",
            params: EnvironmentParamsSchema, query: HistoryQuerySchema,
            responses: { 200: { description: "The newest operations", schema: OperationListSchema }, 404: { description: "Not found (or another team's)" } },
            async handle({ res, actor, params, query }) {
                res.json({ items: await service.listEnvironmentOperations(actor, params.name, query.limit) });
            },
        }),
    ];
}
