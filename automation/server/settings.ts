import { createHash, randomBytes } from "node:crypto";
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { POLICY_PACK_DIR } from "@keyvault-platform/policy-pack/location";
import { z } from "zod";
import { ProblemListError } from "../../config/problems";
import { KEY_VAULT_SECRETS_PROVIDER } from "../engine/secretsProvider";
import { EMPTY_PROFILE, loadPlatformProfile, PlatformProfileError, type PlatformProfile } from "../domain/platformProfile";

/**
 * The server's settings: one schema over process.env, validated once at start-up.
 * A bad value stops the process with a message naming the variable and what it
 * accepts; secret variables are never echoed. docs/settings.md documents each one.
 */

/** pulumi: the Automation API (provisions). offline: the real program under Pulumi's mocks (provisions nothing). test-double: scripted, for tests. */
export const ENGINES = ["pulumi", "offline", "test-double"] as const;
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** What one process does: everything, only the HTTP API, or only the worker (the last two share a PostgreSQL store). */
export const PROCESS_ROLES = ["all", "api", "worker"] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];
/** Pulumi state backends several replicas can share; a `file://` directory is one machine's. */
export const SHARED_BACKENDS = "azblob://<container> (with AZURE_STORAGE_ACCOUNT) or https://api.pulumi.com (with PULUMI_ACCESS_TOKEN)";
/** Asymmetric algorithms only: `none` and HMAC (a shared secret the issuer would also hold) are never accepted. */
export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** Variables whose values are secret: errors name them but never repeat what they hold. */
const SECRET_VARIABLES = new Set(["KVP_ADMIN_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "DATABASE_URL"]);

/** Where the repository's CrossGuard policy pack lives, if it has one. */

const MAX_BODY_LIMIT_BYTES = 10 * 1024 * 1024;
/** Enough for a person retyping a token or a client with a stale one; far too few to guess one. */
export const DEFAULT_AUTH_FAILURES_PER_MIN = 30;
const MIN_TOKEN_LENGTH = 16;

export interface OidcSettings {
    /** Expected `iss`, e.g. https://login.microsoftonline.com/<tenant>/v2.0 for Entra ID. */
    issuer: string;
    /** Expected `aud`: the API's application id URI or client id. */
    audience: string;
    /** JWKS endpoint; undefined means "resolve through the issuer's OpenID discovery document". */
    jwksUrl?: string;
    algorithms: JwtAlgorithm[];
    /** Claim holding role values (Entra app roles are in `roles`). */
    roleClaim: string;
    /** Claim holding the caller's team. */
    teamClaim: string;
    /** The portal's public client (authorization code with PKCE); without it the portal offers the token form only. */
    clientId?: string;
    /** Scopes the portal asks for; the access token must carry the audience above. */
    scopes?: string;
}

/** The PostgreSQL store, selected by DATABASE_URL. */
export interface DatabaseSettings {
    /** The libpq URL, password included: hand it to the store only, never to a log. */
    url: string;
    /** `host:port/database`, safe to log. */
    display: string;
    /** Schema holding the tables; undefined means the connection's default (usually `public`). */
    schema?: string;
    poolSize: number;
}

export interface Settings {
    /** Which parts run in this process. */
    role: ProcessRole;
    /** This replica's name: worker ids, PostgreSQL application_name and the replica registry. */
    replicaName: string;
    /** Set when DATABASE_URL is: the PostgreSQL store instead of the embedded one. */
    database?: DatabaseSettings;
    /** How long a claimed operation stays this worker's without a heartbeat; a dead worker's operations are reclaimed after it. */
    leaseMs: number;
    host: string;
    port: number;
    /** Absolute path of the data directory (store, passphrase, stack working dirs). */
    dataDir: string;
    backendUrl: string;
    /** `passphrase` or an `azurekeyvault://` key URL. */
    secretsProvider: string;
    /** The passphrase from the environment; undefined means "generate or reuse `<dataDir>/passphrase`". */
    passphrase?: string;
    /** sha256 (hex) of KVP_ADMIN_TOKEN: the token itself is not kept. */
    adminTokenSha256?: string;
    tokensFile?: string;
    oidc?: OidcSettings;
    /** Global cap on running operations, across every worker process sharing the store. */
    maxConcurrency: number;
    /** How many operations this process runs at once in the engine; at most maxConcurrency. */
    workerConcurrency: number;
    opIdleTimeoutS: number;
    opTimeoutS: number;
    maxAttempts: number;
    engine: (typeof ENGINES)[number];
    policyPack?: string;
    /** The platform profile's file, when KVP_PLATFORM_FILE names one. */
    platformFile?: string;
    /** The validated platform profile; empty without KVP_PLATFORM_FILE (prod specs are then refused). */
    platformProfile: PlatformProfile;
    /** Largest accepted JSON body, in bytes. */
    bodyLimitBytes: number;
    rateLimitPerMin: number;
    /** Failed authentications per minute from one client address before it is refused (429) for the rest of the minute. */
    authFailuresPerMin: number;
    /** How long each test-double run takes (load tests, process tests); ignored by the Pulumi engine. */
    testDoubleLatencyMs: number;
    logLevel: (typeof LOG_LEVELS)[number];
}

export interface SettingProblem {
    variable: string;
    message: string;
}

export class SettingsError extends ProblemListError<SettingProblem> {
    constructor(problems: SettingProblem[]) {
        super("Invalid server settings", problems, (p) => `${p.variable}: ${p.message}`);
    }
}

const integer = (min: number, max: number, fallback: number) =>
    z.string().default(String(fallback)).transform((raw, ctx) => {
        const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
        if (!Number.isSafeInteger(n) || n < min || n > max) {
            ctx.addIssue({ code: "custom", message: `must be a whole number from ${min} to ${max}` });
            return z.NEVER;
        }
        return n;
    });

const optionalInteger = (min: number, max: number) =>
    z.string().transform((raw, ctx) => {
        const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
        if (!Number.isSafeInteger(n) || n < min || n > max) {
            ctx.addIssue({ code: "custom", message: `must be a whole number from ${min} to ${max}` });
            return z.NEVER;
        }
        return n;
    }).optional();

const oneOf = <T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
    z.enum(values, { message: `must be one of ${values.join(", ")}` }).default(fallback as never);

const token = z.string().min(MIN_TOKEN_LENGTH, { message: `must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32)` });

const httpsUrl = (what: string) => z.string().refine((v) => {
    try {
        const u = new URL(v);
        // Plain http only for a loopback identity provider (local development and tests).
        return u.protocol === "https:" || (u.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname));
    } catch {
        return false;
    }
}, { message: `must be an https URL (${what})` });

const bodyLimit = z.string().default("64kb").transform((raw, ctx) => {
    const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw.trim());
    const bytes = m ? Number(m[1]) * ({ b: 1, kb: 1024, mb: 1024 * 1024 }[(m[2] ?? "b").toLowerCase() as "b" | "kb" | "mb"]) : NaN;
    if (!(bytes >= 1024 && bytes <= MAX_BODY_LIMIT_BYTES)) {
        ctx.addIssue({ code: "custom", message: "must be a size from 1kb to 10mb, written like 64kb, 1mb or 65536" });
        return z.NEVER;
    }
    return bytes;
});

const BACKEND_PREFIXES = ["file://", "azblob://", "https://"];
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const REPLICA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Host, port and database of a PostgreSQL URL, or why it is not one; never the user or password. */
export function describeDatabaseUrl(raw: string): { display: string } | { problem: string } {
    let url: URL;
    try {
        url = new URL(raw);
    } catch {
        return { problem: "must be a URL like postgres://<user>:<password>@<host>:5432/<database>?sslmode=verify-full" };
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
        return { problem: `must start with postgres:// or postgresql:// (got ${url.protocol}//...)` };
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
    if (!url.hostname) return { problem: "must name a host, e.g. postgres://<user>@<host>:5432/<database>" };
    if (!database || database.includes("/")) return { problem: `must name one database after the host (got host ${url.hostname})` };
    return { display: `${url.hostname}:${url.port || "5432"}/${database}` };
}

/** The environment variables the server reads; empty strings count as unset. */
export const SettingsEnvSchema = z.object({
    KVP_ROLE: oneOf(PROCESS_ROLES, "all"),
    KVP_REPLICA_NAME: z.string().regex(REPLICA_NAME, { message: "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit" }).optional(),
    DATABASE_URL: z.string().superRefine((v, ctx) => {
        const db = describeDatabaseUrl(v);
        if ("problem" in db) ctx.addIssue({ code: "custom", message: db.problem });
    }).optional(),
    KVP_DATABASE_SCHEMA: z.string().regex(SCHEMA_NAME, { message: "must be lowercase letters, digits and _, starting with a letter or _, at most 63 characters" }).optional(),
    KVP_DATABASE_POOL_SIZE: integer(1, 100, 10),
    KVP_LEASE_S: integer(2, 600, 30),
    HOST: z.string().min(1).default("127.0.0.1"),
    PORT: integer(0, 65535, 8080),
    KVP_DATA_DIR: z.string().min(1).default("./.data"),
    KVP_BACKEND_URL: z.string().refine((v) => BACKEND_PREFIXES.some((p) => v.startsWith(p)) && v.length > "file://".length, {
        message: "must be a Pulumi backend URL: file://<dir>, azblob://<container> or https://api.pulumi.com",
    }).optional(),
    KVP_SECRETS_PROVIDER: z.string().default("passphrase").refine((v) => v === "passphrase" || KEY_VAULT_SECRETS_PROVIDER.test(v), {
        message: "must be passphrase or azurekeyvault://<vault>.vault.azure.net/keys/<key>[/<version>]",
    }),
    PULUMI_CONFIG_PASSPHRASE: z.string().min(12, { message: "must be at least 12 characters" }).optional(),
    KVP_ADMIN_TOKEN: token.optional(),
    KVP_TOKENS_FILE: z.string().optional(),
    KVP_OIDC_ISSUER: httpsUrl("the token issuer, e.g. https://login.microsoftonline.com/<tenant>/v2.0").optional(),
    KVP_OIDC_AUDIENCE: z.string().min(1).optional(),
    KVP_OIDC_JWKS_URL: httpsUrl("the issuer's JSON Web Key Set").optional(),
    KVP_OIDC_ALGORITHMS: z.string().default("RS256").transform((raw, ctx) => {
        const algs = raw.split(",").map((a) => a.trim()).filter(Boolean);
        const bad = algs.filter((a) => !(JWT_ALGORITHMS as readonly string[]).includes(a));
        if (algs.length === 0 || bad.length > 0) {
            ctx.addIssue({ code: "custom", message: `must be a comma-separated list of ${JWT_ALGORITHMS.join(", ")}${bad.length ? ` (not ${bad.join(", ")})` : ""}` });
            return z.NEVER;
        }
        return algs as JwtAlgorithm[];
    }),
    KVP_OIDC_ROLE_CLAIM: z.string().min(1).default("roles"),
    KVP_OIDC_TEAM_CLAIM: z.string().min(1).default("team"),
    KVP_OIDC_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be the portal's application (client) id").optional(),
    KVP_OIDC_SCOPES: z.string().min(1).optional(),
    KVP_MAX_CONCURRENCY: integer(1, 64, 2),
    KVP_WORKER_CONCURRENCY: optionalInteger(1, 64),
    KVP_OP_IDLE_TIMEOUT_S: integer(10, 86_400, 900),
    KVP_OP_TIMEOUT_S: integer(60, 172_800, 7_200),
    KVP_MAX_ATTEMPTS: integer(1, 10, 3),
    KVP_ENGINE: oneOf(ENGINES, "pulumi"),
    KVP_POLICY_PACK: z.string().optional(),
    KVP_PLATFORM_FILE: z.string().optional(),
    KVP_BODY_LIMIT: bodyLimit,
    KVP_RATE_LIMIT_PER_MIN: integer(1, 1_000_000, 300),
    KVP_AUTH_FAILURES_PER_MIN: integer(1, 1_000_000, DEFAULT_AUTH_FAILURES_PER_MIN),
    KVP_TEST_DOUBLE_LATENCY_MS: integer(0, 600_000, 25),
    LOG_LEVEL: oneOf(LOG_LEVELS, "info"),
}).superRefine((env, ctx) => {
    if (env.KVP_OIDC_ISSUER && !env.KVP_OIDC_AUDIENCE) {
        ctx.addIssue({ code: "custom", path: ["KVP_OIDC_AUDIENCE"], message: "is required when KVP_OIDC_ISSUER is set (tokens for other APIs must not be accepted)" });
    }
    if (!env.KVP_OIDC_ISSUER) {
        for (const k of ["KVP_OIDC_AUDIENCE", "KVP_OIDC_JWKS_URL", "KVP_OIDC_CLIENT_ID", "KVP_OIDC_SCOPES"] as const) {
            if (env[k]) ctx.addIssue({ code: "custom", path: [k], message: "only applies when KVP_OIDC_ISSUER is set" });
        }
    }
    if (env.DATABASE_URL === undefined) {
        if (env.KVP_DATABASE_SCHEMA) ctx.addIssue({ code: "custom", path: ["KVP_DATABASE_SCHEMA"], message: "only applies when DATABASE_URL is set" });
        if (env.KVP_ROLE !== "all") {
            ctx.addIssue({ code: "custom", path: ["KVP_ROLE"], message: `${env.KVP_ROLE} needs DATABASE_URL: separate API and worker processes share a PostgreSQL store (the embedded store belongs to one process)` });
        }
    }
    // Separate API and worker processes mean more than one replica, so the state and the stack passphrase must be shared.
    if (env.KVP_ROLE !== "all") {
        if (env.KVP_BACKEND_URL === undefined || env.KVP_BACKEND_URL.startsWith("file://")) {
            ctx.addIssue({ code: "custom", path: ["KVP_BACKEND_URL"], message: `KVP_ROLE=${env.KVP_ROLE} runs beside other processes, and a file:// backend cannot be shared between replicas: use ${SHARED_BACKENDS}` });
        }
        if (env.KVP_SECRETS_PROVIDER === "passphrase" && env.PULUMI_CONFIG_PASSPHRASE === undefined) {
            ctx.addIssue({ code: "custom", path: ["PULUMI_CONFIG_PASSPHRASE"], message: `is required with KVP_ROLE=${env.KVP_ROLE} and the passphrase secrets provider: every replica must use the same passphrase (or use KVP_SECRETS_PROVIDER=azurekeyvault://...)` });
        }
    }
    if (env.KVP_WORKER_CONCURRENCY !== undefined && env.KVP_WORKER_CONCURRENCY > env.KVP_MAX_CONCURRENCY) {
        ctx.addIssue({ code: "custom", path: ["KVP_WORKER_CONCURRENCY"], message: `must not exceed KVP_MAX_CONCURRENCY (${env.KVP_MAX_CONCURRENCY}), the cap across every worker process` });
    }
    if (env.KVP_OP_IDLE_TIMEOUT_S > env.KVP_OP_TIMEOUT_S) {
        ctx.addIssue({ code: "custom", path: ["KVP_OP_IDLE_TIMEOUT_S"], message: `must not exceed KVP_OP_TIMEOUT_S (${env.KVP_OP_TIMEOUT_S})` });
    }
});

/** Entra ID publishes v2.0 signing keys next to the issuer, so no discovery round trip is needed. */
export function defaultJwksUrl(issuer: string): string | undefined {
    const m = /^https:\/\/login\.microsoftonline\.com\/([^/]+)\/v2\.0\/?$/.exec(issuer);
    return m ? `https://login.microsoftonline.com/${m[1]}/discovery/v2.0/keys` : undefined;
}

export function sha256Hex(value: string): string {
    return createHash("sha256").update(value, "utf8").digest("hex");
}

/** Parses and validates the environment. Throws SettingsError naming every bad variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Settings {
    const present = Object.fromEntries(
        Object.keys(SettingsEnvSchema.shape).filter((k) => env[k] !== undefined && env[k] !== "").map((k) => [k, env[k]]),
    );
    const parsed = SettingsEnvSchema.safeParse(present);
    if (!parsed.success) {
        throw new SettingsError(parsed.error.issues.map((issue) => {
            const variable = String(issue.path[0] ?? "(environment)");
            const raw = present[variable];
            const shown = raw === undefined || SECRET_VARIABLES.has(variable) ? "" : ` (got ${JSON.stringify(raw)})`;
            return { variable, message: `${issue.message}${shown}` };
        }));
    }
    const e = parsed.data;
    const dataDir = path.resolve(cwd, e.KVP_DATA_DIR);
    const database = e.DATABASE_URL === undefined ? undefined : {
        url: e.DATABASE_URL,
        display: (describeDatabaseUrl(e.DATABASE_URL) as { display: string }).display,
        schema: e.KVP_DATABASE_SCHEMA,
        poolSize: e.KVP_DATABASE_POOL_SIZE,
    };
    const problems: SettingProblem[] = [];
    if (e.KVP_TOKENS_FILE && !existsSync(path.resolve(cwd, e.KVP_TOKENS_FILE))) {
        problems.push({ variable: "KVP_TOKENS_FILE", message: `names a file that does not exist (got ${JSON.stringify(e.KVP_TOKENS_FILE)})` });
    }
    if (present.KVP_TEST_DOUBLE_LATENCY_MS !== undefined && e.KVP_ENGINE !== "test-double") {
        problems.push({ variable: "KVP_TEST_DOUBLE_LATENCY_MS", message: "only applies when KVP_ENGINE=test-double" });
    }
    if (e.KVP_POLICY_PACK && !existsSync(path.resolve(cwd, e.KVP_POLICY_PACK))) {
        problems.push({ variable: "KVP_POLICY_PACK", message: `names a directory that does not exist (got ${JSON.stringify(e.KVP_POLICY_PACK)})` });
    }
    const platformFile = e.KVP_PLATFORM_FILE ? path.resolve(cwd, e.KVP_PLATFORM_FILE) : undefined;
    let platformProfile = EMPTY_PROFILE;
    if (platformFile) {
        try {
            platformProfile = loadPlatformProfile(platformFile);
        } catch (err) {
            if (!(err instanceof PlatformProfileError)) throw err;
            problems.push(...err.problems.map((p) => ({ variable: "KVP_PLATFORM_FILE", message: `${e.KVP_PLATFORM_FILE}: ${p.path} ${p.message}` })));
        }
    }
    if (problems.length) throw new SettingsError(problems);

    const policyPack = e.KVP_POLICY_PACK ? path.resolve(cwd, e.KVP_POLICY_PACK) : POLICY_PACK_DIR;
    return {
        role: e.KVP_ROLE,
        replicaName: e.KVP_REPLICA_NAME ?? safeHostname(),
        database,
        leaseMs: e.KVP_LEASE_S * 1000,
        host: e.HOST,
        port: e.PORT,
        dataDir,
        backendUrl: e.KVP_BACKEND_URL ?? `file://${path.join(dataDir, "state")}`,
        secretsProvider: e.KVP_SECRETS_PROVIDER,
        passphrase: e.PULUMI_CONFIG_PASSPHRASE,
        adminTokenSha256: e.KVP_ADMIN_TOKEN ? sha256Hex(e.KVP_ADMIN_TOKEN) : undefined,
        tokensFile: e.KVP_TOKENS_FILE ? path.resolve(cwd, e.KVP_TOKENS_FILE) : undefined,
        oidc: e.KVP_OIDC_ISSUER ? {
            issuer: e.KVP_OIDC_ISSUER,
            audience: e.KVP_OIDC_AUDIENCE as string,
            jwksUrl: e.KVP_OIDC_JWKS_URL ?? defaultJwksUrl(e.KVP_OIDC_ISSUER),
            algorithms: e.KVP_OIDC_ALGORITHMS,
            roleClaim: e.KVP_OIDC_ROLE_CLAIM,
            teamClaim: e.KVP_OIDC_TEAM_CLAIM,
            clientId: e.KVP_OIDC_CLIENT_ID,
            // Entra issues an access token for the API when asked for its `.default` scope.
            scopes: e.KVP_OIDC_SCOPES ?? `openid ${e.KVP_OIDC_AUDIENCE}/.default`,
        } : undefined,
        maxConcurrency: e.KVP_MAX_CONCURRENCY,
        workerConcurrency: e.KVP_WORKER_CONCURRENCY ?? e.KVP_MAX_CONCURRENCY,
        opIdleTimeoutS: e.KVP_OP_IDLE_TIMEOUT_S,
        opTimeoutS: e.KVP_OP_TIMEOUT_S,
        maxAttempts: e.KVP_MAX_ATTEMPTS,
        engine: e.KVP_ENGINE,
        policyPack,
        platformFile,
        platformProfile,
        bodyLimitBytes: e.KVP_BODY_LIMIT,
        rateLimitPerMin: e.KVP_RATE_LIMIT_PER_MIN,
        authFailuresPerMin: e.KVP_AUTH_FAILURES_PER_MIN,
        testDoubleLatencyMs: e.KVP_TEST_DOUBLE_LATENCY_MS,
        logLevel: e.LOG_LEVEL,
    };
}

/** The host name as a replica name: characters outside the allowed set become `-`. */
function safeHostname(): string {
    const name = hostname().replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63);
    return name || "replica";
}

const UNWRITABLE: Readonly<Record<string, string>> = { EROFS: "it is on a read-only file system", EACCES: "permission denied", EPERM: "permission denied", ENOSPC: "the disk is full", ENOTDIR: "a part of the path is a file" };

/**
 * Creates the data directory, owner-only: it holds the store and possibly the passphrase.
 * A directory the server cannot write (a read-only mount) is refused here, by name,
 * rather than as an I/O error from deep inside the store.
 */
export function ensureDataDir(dataDir: string): void {
    try {
        mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        accessSync(dataDir, constants.W_OK);
    } catch (e) {
        const code = String((e as NodeJS.ErrnoException).code);
        if (!UNWRITABLE[code]) throw e;
        throw new SettingsError([{ variable: "KVP_DATA_DIR", message: `${dataDir} is not writable: ${UNWRITABLE[code]} (${code}). The store, the stack passphrase and the stacks' working directories live there; mount it read-write` }]);
    }
}

/**
 * The stack passphrase: from the environment when given, else generated once into
 * `<dataDir>/passphrase` (mode 0600) and reused, so restarts can still decrypt
 * existing stacks. A file others can read is refused rather than silently fixed.
 */
export function resolvePassphrase(settings: Pick<Settings, "dataDir" | "passphrase">): { passphrase: string; source: "environment" | "generated" | "file" } {
    if (settings.passphrase) return { passphrase: settings.passphrase, source: "environment" };
    ensureDataDir(settings.dataDir);
    const file = path.join(settings.dataDir, "passphrase");
    if (existsSync(file)) {
        const mode = statSync(file).mode & 0o777;
        if (mode & 0o077) {
            throw new SettingsError([{ variable: "PULUMI_CONFIG_PASSPHRASE", message: `is unset and ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it` }]);
        }
        const existing = readFileSync(file, "utf8").trim();
        if (!existing) throw new SettingsError([{ variable: "PULUMI_CONFIG_PASSPHRASE", message: `is unset and ${file} is empty` }]);
        return { passphrase: existing, source: "file" };
    }
    const generated = randomBytes(32).toString("base64url");
    // "wx" fails if another process created the file first, instead of overwriting its passphrase.
    writeFileSync(file, `${generated}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
    return { passphrase: generated, source: "generated" };
}
