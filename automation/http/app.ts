import { createHash, randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express, type RequestHandler } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { Logger } from "pino";
import type { Actor } from "../domain/ports";
import type { EnvironmentService } from "../domain/service";
import type { Settings } from "../settings";
import { authenticate, type Authenticator } from "./auth";
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
    settings: Pick<Settings, "bodyLimitBytes" | "rateLimitPerMin" | "engine">;
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

type HeaderValue = string | number | readonly string[];

/**
 * helmet's headers, worked out once by running helmet itself against a recording response.
 * With this configuration every header is the same on every response, and helmet's dozen
 * middlewares recomputing them cost more than a bare handler's whole request (npm run bench:api).
 * helmet stays the source of truth: a new helmet version's headers are picked up here.
 */
export function helmetHeaders(options: Parameters<typeof helmet>[0]): ReadonlyArray<readonly [string, HeaderValue]> {
    const headers = new Map<string, HeaderValue>();
    let done = false;
    const recorder = {
        setHeader(name: string, value: HeaderValue) { headers.set(name.toLowerCase(), value); },
        removeHeader(name: string) { headers.delete(name.toLowerCase()); },
        getHeader(name: string) { return headers.get(name.toLowerCase()); },
    };
    helmet(options)({ headers: {} } as express.Request, recorder as unknown as express.Response, (err?: unknown) => {
        if (err) throw err;
        done = true;
    });
    // helmet is synchronous for static options; anything else would silently drop headers.
    if (!done) throw new Error("helmet did not finish synchronously; its headers cannot be precomputed");
    return [...headers];
}

/** helmet's headers (see helmetHeaders) as a middleware of their own. */
export function securityHeaders(options: Parameters<typeof helmet>[0]): RequestHandler {
    const fixed = helmetHeaders(options);
    return (_req, res, next) => {
        for (const [name, value] of fixed) res.setHeader(name, value);
        next();
    };
}

/**
 * What every request gets, in one step with one 'finish' listener: an id (the caller's when it
 * is safe to log and echo, else a new one), helmet's headers, and once answered the access-log
 * line and the latency histogram. As four middlewares this was four router layers and two
 * listeners per request, a visible share of a request's CPU in npm run bench:api.
 */
function requestFrame(logger: Logger, metrics: Metrics, headers: ReadonlyArray<readonly [string, HeaderValue]>): RequestHandler {
    return (req, res, next) => {
        const start = process.hrtime.bigint();
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader("X-Request-Id", id);
        for (const [name, value] of headers) res.setHeader(name, value);
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

/** Per credential when one is sent (hashed: the limiter's memory never holds a token), else per client IP. */
function limiterKey(req: express.Request): string {
    const authz = req.get("authorization");
    if (authz) return `cred:${createHash("sha256").update(authz).digest("hex")}`;
    return `ip:${ipKeyGenerator(req.ip ?? "unknown")}`;
}

export function createApp(deps: AppDeps): Express {
    const { logger, metrics } = deps;
    const app = express();
    app.disable("x-powered-by");
    app.set("etag", false);
    app.set("query parser", "simple");

    app.use(requestFrame(logger, metrics, helmetHeaders({
        contentSecurityPolicy: {
            directives: { defaultSrc: ["'none'"], styleSrc: ["'unsafe-inline'"], imgSrc: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
        },
    })));

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
    v1.use(authenticate(deps.auth));
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
    for (const r of routes) {
        const isV1 = r.path.startsWith("/v1/");
        const router = isV1 ? v1 : app;
        router[r.method](expressPath(isV1 ? r.path.slice("/v1".length) : r.path), ...r.handlers);
    }

    mountPortal(app, deps.portal ?? {});

    app.use((req, _res, next) => {
        next(new HttpProblem(404, "not-found", "Not found", `No route for ${req.method} ${req.path}; see /openapi.json`));
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
