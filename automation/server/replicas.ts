import { hostname } from "node:os";
import { Client, escapeIdentifier } from "pg";
import type { Logger } from "../domain/runtime";
import { silentLogger } from "../domain/runtime";
import { SHARED_BACKENDS, type ProcessRole } from "./settings";

/**
 * The replica guard. Every server process on a PostgreSQL store registers a row in
 * `<schema>.replicas` and keeps it fresh, so a process can see which others share its
 * database. A `file://` Pulumi backend is one machine's directory: two replicas on it
 * would each keep their own stack state and run updates neither can see. So a replica
 * refuses to start beside another on a file backend, or on a different backend or
 * secrets provider, and says what to use instead.
 *
 * A row counts as live while its heartbeat is recent and the database session that
 * wrote it is still open: a crashed process's session ends with its socket, so a
 * restarted replica is not refused because of its own ghost.
 */

export interface ReplicaIdentity {
    /** Required. Unique per process, e.g. `<name>:<pid>:<random>`. */
    id: string;
    /** Required. The replica's name (KVP_REPLICA_NAME, by default the host name). */
    name: string;
    /** Required. What the process runs (KVP_ROLE). */
    role: ProcessRole;
    /** Required. KVP_BACKEND_URL, without any user info. */
    backendUrl: string;
    /** Required. `passphrase:environment`, `passphrase:file` (generated in the data directory) or the azurekeyvault:// key URL. */
    secrets: string;
}

export interface PeerReplica extends ReplicaIdentity {
    host: string;
    pid: number;
    startedAt: string;
}

/** A replica may not run beside the live ones; the message says why and what to change. */
export class ReplicaConflictError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ReplicaConflictError";
    }
}

const describePeer = (p: PeerReplica) => `replica ${JSON.stringify(p.name)} (${p.role}, host ${p.host}, pid ${p.pid}, up since ${p.startedAt})`;

/** Why `self` must not run beside `peers` (the other live replicas on its database), or undefined when it may. */
export function replicaConflict(self: ReplicaIdentity, peers: readonly PeerReplica[]): string | undefined {
    const [first] = peers;
    if (!first) return undefined;
    if (self.backendUrl.startsWith("file://")) {
        return `KVP_BACKEND_URL is ${self.backendUrl}, a local file backend, and ${describePeer(first)} already uses this database. `
            + `Replicas cannot share Pulumi state through a file:// directory: set KVP_BACKEND_URL to ${SHARED_BACKENDS} on every replica, or run only one.`;
    }
    const onFile = peers.find((p) => p.backendUrl.startsWith("file://"));
    if (onFile) {
        return `${describePeer(onFile)} uses this database with the local file backend KVP_BACKEND_URL=${onFile.backendUrl}, so no second replica may join it. `
            + `Move every replica to ${SHARED_BACKENDS} first.`;
    }
    const otherBackend = peers.find((p) => p.backendUrl !== self.backendUrl);
    if (otherBackend) {
        return `KVP_BACKEND_URL is ${self.backendUrl} but ${describePeer(otherBackend)} uses ${otherBackend.backendUrl}: replicas sharing a database must share one Pulumi backend.`;
    }
    if (self.secrets === "passphrase:file") {
        return `PULUMI_CONFIG_PASSPHRASE is unset, so this replica would encrypt stack secrets with a passphrase generated in its own data directory, and ${describePeer(first)} could not read them. `
            + "Give every replica the same PULUMI_CONFIG_PASSPHRASE, or use KVP_SECRETS_PROVIDER=azurekeyvault://<vault>.vault.azure.net/keys/<key>.";
    }
    const otherSecrets = peers.find((p) => p.secrets !== self.secrets);
    if (otherSecrets) {
        return `KVP_SECRETS_PROVIDER (${self.secrets}) differs from ${describePeer(otherSecrets)}'s (${otherSecrets.secrets}): replicas must encrypt stack secrets the same way.`;
    }
    return undefined;
}

export interface ReplicaRegistryOptions {
    /** Required. The DATABASE_URL. */
    connectionString: string;
    /** Required. The store's schema (`PostgresStore.schema`); the table lives beside the store's. */
    schema: string;
    /** Required. This process. */
    self: ReplicaIdentity;
    /** Optional. application_name of the registry's connection. Defaults to "keyvault-platform:replicas". */
    applicationName?: string;
    /** Optional. How often the row is refreshed and the peers re-checked. Defaults to 5000 ms. */
    heartbeatMs?: number;
    /** Optional. A row not refreshed for this long is dead even if its session lingers. Defaults to 3 heartbeats. */
    staleMs?: number;
    /**
     * Required. Called when a conflict appears after joining (two replicas that started
     * while the database was restarting). Only the younger of the two is told: it should exit.
     */
    onConflict: (error: ReplicaConflictError) => void;
    logger?: Logger;
}

/** Distinct from the store's advisory lock namespaces ("kvpr"). */
const LOCK_NAMESPACE = 0x6b767072;
const FORGET_AFTER = "1 day";

interface Row {
    id: string;
    name: string;
    role: ProcessRole;
    backend_url: string;
    secrets: string;
    host: string;
    pid: number;
    started_at: Date;
}

export class ReplicaRegistry {
    private client?: Client;
    private timer?: NodeJS.Timeout;
    private stopped = false;
    private beating?: Promise<void>;
    private startedAt?: Date;
    private readonly table: string;
    private readonly heartbeatMs: number;
    private readonly staleMs: number;
    private readonly logger: Logger;

    private constructor(private readonly options: ReplicaRegistryOptions) {
        this.table = `${escapeIdentifier(options.schema)}.replicas`;
        this.heartbeatMs = options.heartbeatMs ?? 5_000;
        this.staleMs = options.staleMs ?? 3 * this.heartbeatMs;
        this.logger = options.logger ?? silentLogger;
    }

    /** Registers this process, or throws ReplicaConflictError when it may not run beside the live replicas. */
    static async join(options: ReplicaRegistryOptions): Promise<ReplicaRegistry> {
        const registry = new ReplicaRegistry(options);
        try {
            await registry.register();
        } catch (e) {
            // A refused (or failed) join must not leave its connection open behind the error.
            await registry.leave();
            throw e;
        }
        registry.schedule();
        return registry;
    }

    /** The other live replicas on this database. */
    async peers(): Promise<PeerReplica[]> {
        return this.livePeers(await this.connection());
    }

    /** Removes this process's row and closes the connection. */
    async leave(): Promise<void> {
        this.stopped = true;
        clearTimeout(this.timer);
        await this.beating;
        const client = this.client;
        this.client = undefined;
        if (!client) return;
        await client.query(`DELETE FROM ${this.table} WHERE id = $1`, [this.options.self.id]).catch(() => undefined);
        await client.end().catch(() => undefined);
    }

    private async connection(): Promise<Client> {
        if (this.client) return this.client;
        const client = new Client({
            connectionString: this.options.connectionString,
            application_name: this.options.applicationName ?? "keyvault-platform:replicas",
            keepAlive: true,
            connectionTimeoutMillis: 5_000,
            // A heartbeat stuck on a half-open connection must not hang shutdown.
            query_timeout: 5_000,
        });
        // A broken idle connection (PostgreSQL restarting) is replaced at the next heartbeat.
        client.on("error", (e) => {
            this.logger.warn({ err: e }, "replica registry connection lost; reconnecting");
            if (this.client === client) this.client = undefined;
        });
        await client.connect();
        this.client = client;
        return client;
    }

    private async register(): Promise<void> {
        const client = await this.connection();
        const { self } = this.options;
        await client.query("BEGIN");
        try {
            // One registration at a time, so two replicas starting together cannot both miss each other.
            await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_NAMESPACE, this.options.schema]);
            await client.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
                id text PRIMARY KEY, name text NOT NULL, role text NOT NULL, backend_url text NOT NULL, secrets text NOT NULL,
                host text NOT NULL, pid integer NOT NULL, db_pid integer NOT NULL,
                started_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL)`);
            const conflict = replicaConflict(self, await this.livePeers(client));
            if (conflict) throw new ReplicaConflictError(conflict);
            const [row] = (await client.query<{ started_at: Date }>(
                `INSERT INTO ${this.table} (id, name, role, backend_url, secrets, host, pid, db_pid, started_at, heartbeat_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, pg_backend_pid(), coalesce($8::timestamptz, now()), now())
                 ON CONFLICT (id) DO UPDATE SET db_pid = pg_backend_pid(), heartbeat_at = now()
                 RETURNING started_at`,
                [self.id, self.name, self.role, self.backendUrl, self.secrets, hostname(), process.pid, this.startedAt ?? null],
            )).rows;
            this.startedAt = row.started_at;
            await client.query(`DELETE FROM ${this.table} WHERE heartbeat_at < now() - interval '${FORGET_AFTER}'`);
            await client.query("COMMIT");
        } catch (e) {
            await client.query("ROLLBACK").catch(() => undefined);
            throw e;
        }
    }

    private async livePeers(client: Client): Promise<PeerReplica[]> {
        const { rows } = await client.query<Row>(
            `SELECT r.* FROM ${this.table} r
             WHERE r.id <> $1 AND r.heartbeat_at > now() - make_interval(secs => $2)
               AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.db_pid)
             ORDER BY r.started_at, r.id`,
            [this.options.self.id, this.staleMs / 1000],
        );
        return rows.map((r) => ({
            id: r.id, name: r.name, role: r.role, backendUrl: r.backend_url, secrets: r.secrets,
            host: r.host, pid: r.pid, startedAt: r.started_at.toISOString(),
        }));
    }

    private schedule(): void {
        if (this.stopped) return;
        this.timer = setTimeout(() => {
            this.beating = this.heartbeat().finally(() => this.schedule());
        }, this.heartbeatMs);
        this.timer.unref();
    }

    private async heartbeat(): Promise<void> {
        try {
            const client = await this.connection();
            const { rowCount } = await client.query(`UPDATE ${this.table} SET heartbeat_at = now(), db_pid = pg_backend_pid() WHERE id = $1`, [this.options.self.id]);
            if (rowCount === 0) {
                // Forgotten while this process could not reach the database: join again, under the same rules.
                await this.register();
                return;
            }
            const older = (await this.livePeers(client)).filter((p) => this.isOlder(p));
            const conflict = replicaConflict(this.options.self, older);
            if (conflict && !this.stopped) this.options.onConflict(new ReplicaConflictError(conflict));
        } catch (e) {
            if (e instanceof ReplicaConflictError) {
                if (!this.stopped) this.options.onConflict(e);
                return;
            }
            this.logger.warn({ err: e }, "replica heartbeat failed; retrying");
            const client = this.client;
            this.client = undefined;
            await client?.end().catch(() => undefined);
        }
    }

    private isOlder(peer: PeerReplica): boolean {
        const mine = this.startedAt?.toISOString() ?? "";
        return peer.startedAt < mine || (peer.startedAt === mine && peer.id < this.options.self.id);
    }
}
