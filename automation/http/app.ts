import { createHash, randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express, type RequestHandler } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { Logger } from "pino";
import type { Actor } from "../domain/ports";
import type { EnvironmentService } from "../domain/service";
import { DEFAULT_AUTH_FAILURES_PER_MIN, type Settings } from "../server/settings";
import { authenticate, type Authenticator } from "./auth";
import { AuthFailureThrottle } from "./authThrottle";
import { ALREADY_REDACTED, redactText } from "./logger";
import type { Metrics } from "./metrics";
import { HttpProblem, problemHandler, requestInstance, sendProblem, toProblem } from "./problem";
import { expressPath } from "./route";
import { buildRoutes, type RouteDeps } from "./routes";
import { mountPortal, type PortalOptions } from "./portal";
import { EMPTY_PROFILE, type PlatformProfile } from "../domain/platformProfile";

/**
 * The HTTP application: security headers, request ids, logging, metrics, the /v1
 * router behind rate limiting and bearer auth, the route table, and the one
 * problem+json error handler. Listening is separate (startWebServer), so tests
 * run the same app on port 0.
 */

export interface AppDeps {
    service: EnvironmentService;
    settings: Pick<Settings, "bodyLimitBytes" | "rateLimitPerMin" | "engine"> & Partial<Pick<Settings, "authFailuresPerMin">>;
    logger: Logger;
    metrics: Metrics;
    auth: Authenticator;
    /** The platform profile merged with each spec. Defaults to none: dev and staging only. */
    profile?: PlatformProfile;
    /** Test hook: shorter SSE heartbeats and state checks. */
    sse?: RouteDeps["sse"];
    /** The browser portal at `/`; its sign-in follows the OIDC settings. */
    portal?: PortalOptions;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * What every request gets: an id (the caller's when it is safe to log and echo, else a new
 * one), and once answered the access-log line and the latency histogram.
 */
function requestFrame(logger: Logger, metrics: Metrics): RequestHandler {
    return (req, res, next) => {
        const start = process.hrtime.bigint();
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader("X-Request-Id", id);
        res.on("finish", () => {
            const durationNs = process.hrtime.bigint() - start;
            const actor = res.locals.actor as Actor | undefined;
            const entry = {
                // Every field is known and flat: the id is validated or generated, the subject names a
                // credential (never holds one), and the path is masked here, so the deep pass can skip it.
                [ALREADY_REDACTED]: true,
                requestId: id,
                method: req.method,
                path: redactText(req.originalUrl.split("?")[0]),
                status: res.statusCode,
                durationMs: Number(durationNs) / 1e6,
                ...(actor ? { actor: actor.subject, role: actor.role } : {}),
            };
            if (res.statusCode >= 500) logger.error(entry, "request failed");
            else if (res.statusCode === 401 || res.statusCode === 403 || res.statusCode === 429) logger.warn(entry, "request refused");
            else logger.info(entry, "request");
            metrics.observeHttp(req, res, Number(durationNs) / 1e9);
        });
        next();
    };
}

/** The client's address as the limiters count it (an IPv6 client by its /56). */
const clientAddress = (req: express.Request) => `ip:${ipKeyGenerator(req.ip ?? "unknown")}`;

/**
 * Per credential when one is sent (hashed: the limiter's memory never holds a token), else per client IP.
 * Wrong credentials are limited per address as well, by the AuthFailureThrottle.
 */
function limiterKey(req: express.Request): string {
    const authz = req.get("authorization");
    if (authz) return `cred:${createHash("sha256").update(authz).digest("hex")}`;
    return clientAddress(req);
}

const ALLOW_ORDER = ["get", "head", "put", "post", "delete"];

/** 405 with Allow for a method a documented path does not serve, instead of a 404 that hides the path. */
function methodNotAllowed(path: string, methods: readonly string[]): RequestHandler {
    const allowed = [...new Set(methods.flatMap((m) => (m === "get" ? ["get", "head"] : [m])))]
        .sort((a, b) => ALLOW_ORDER.indexOf(a) - ALLOW_ORDER.indexOf(b)).map((m) => m.toUpperCase()).join(", ");
    return (req, res, next) => {
        res.locals.route = path;
        next(new HttpProblem(405, "method-not-allowed", "Method not allowed", `${path} answers ${allowed}, not ${req.method}`, { Allow: allowed }));
    };
}

export function createApp(deps: AppDeps): Express {
    const { logger, metrics } = deps;
    const app = express();
    app.disable("x-powered-by");
    app.set("etag", false);
    app.set("query parser", "simple");

    app.use(helmet({
        contentSecurityPolicy: {
            directives: { defaultSrc: ["'none'"], styleSrc: ["'unsafe-inline'"], imgSrc: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
        },
    }));
    app.use(requestFrame(logger, metrics));

    const v1 = express.Router();
    v1.use(rateLimit({
        windowMs: 60_000,
        limit: deps.settings.rateLimitPerMin,
        standardHeaders: "draft-8",
        legacyHeaders: false,
        keyGenerator: limiterKey,
        handler: (req, res, _next, options) => {
            const retryAfter = String(Math.ceil(options.windowMs / 1000));
            sendProblem(res, toProblem(new HttpProblem(429, "rate-limited", "Too many requests", `At most ${deps.settings.rateLimitPerMin} requests per minute per caller; retry later`), requestInstance(req, res)).problem, { "Retry-After": retryAfter });
        },
    }));
    v1.use(authenticate(deps.auth, new AuthFailureThrottle(deps.settings.authFailuresPerMin ?? DEFAULT_AUTH_FAILURES_PER_MIN), clientAddress));
    // Parsed only after authentication: anonymous callers cannot make the server read bodies.
    v1.use(express.json({ limit: deps.settings.bodyLimitBytes, strict: true }));

    const routes = buildRoutes({
        service: deps.service,
        metrics,
        engineKind: deps.settings.engine,
        profile: deps.profile ?? EMPTY_PROFILE,
        sse: deps.sse,
        onStreamError: (err) => logger.error({ err }, "event stream failed"),
    });
    // /v1 is mounted ahead of the few unversioned routes, so an API request is not matched against them first.
    app.use("/v1", v1);
    const methodsByPath = new Map<string, string[]>();
    for (const r of routes) {
        const isV1 = r.path.startsWith("/v1/");
        const router = isV1 ? v1 : app;
        router[r.method](expressPath(isV1 ? r.path.slice("/v1".length) : r.path), ...r.handlers);
        methodsByPath.set(r.path, [...(methodsByPath.get(r.path) ?? []), r.method]);
    }
    for (const [path, methods] of methodsByPath) {
        const isV1 = path.startsWith("/v1/");
        (isV1 ? v1 : app).all(expressPath(isV1 ? path.slice("/v1".length) : path), methodNotAllowed(path, methods));
    }

    mountPortal(app, deps.portal ?? {});

    app.use((req, _res, next) => {
        next(new HttpProblem(404, "not-found", "Not found", `No route for ${req.method} ${req.path.slice(0, 200)}; see /openapi.json`));
    });
    app.use(problemHandler(logger));
    return app;
}

export interface ServerAddress {
    host: string;
    port: number;
}

/** Listens and resolves once the port is bound (port 0 picks a free one). */
export function startWebServer(app: Express, address: ServerAddress): Promise<Server> {
    return new Promise((resolve, reject) => {
        const server = app.listen(address.port, address.host);
        server.once("listening", () => resolve(server));
        server.once("error", reject);
        // Slowloris protection; SSE keeps its sockets alive with heartbeats.
        server.headersTimeout = 20_000;
        server.requestTimeout = 30_000;
    });
}

export function boundAddress(server: Server): ServerAddress {
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
}

/** Stops accepting, ends idle keep-alive sockets, and gives open streams a moment before closing them. */
export function stopWebServer(server: Server, graceMs = 2_000): Promise<void> {
    return new Promise((resolve) => {
        if (!server.listening) return resolve();
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
            clearTimeout(force);
            resolve();
        });
        server.closeIdleConnections();
    });
}
