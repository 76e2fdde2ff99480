import { randomBytes } from "node:crypto";
import { Client, escapeIdentifier, escapeLiteral } from "pg";
import { scramVerifier } from "../../src/scram";
import type { PostgresAdmin } from "../../src/targets/postgres";

/**
 * Real-PostgreSQL harness. The local server trusts every 127.0.0.1 connection, which
 * would make any login check pass; so the setup prepends one pg_hba.conf rule that
 * demands scram-sha-256 for members of a dedicated NOLOGIN group role, and makes every
 * test role a member. The rule is added only when missing and deliberately left in
 * place: it matches nobody outside these tests, and removing it at the end of one run
 * would silently turn the login checks of a concurrent run (another `npm test` on the
 * same server) back into no-ops. `relaxPasswordAuth` removes it by hand.
 */
export const PG = { host: "127.0.0.1", port: 5432, database: "test", user: process.env.PGUSER ?? "postgres" };
export const ENFORCED_GROUP = "kvp_rotation_scram_enforced";
const HBA_RULE = `host all +${ENFORCED_GROUP} 127.0.0.1/32 scram-sha-256`;
const HBA_MARK = "# keyvault-platform rotation tests: password auth for the test roles only";

export const localAdmin: PostgresAdmin = { user: PG.user, password: async () => "" };

export async function adminQuery<T extends object = Record<string, unknown>>(sql: string): Promise<T[]> {
    const client = new Client({ ...PG, password: "" });
    await client.connect();
    try {
        return (await client.query<T>(sql)).rows;
    } finally {
        await client.end();
    }
}

/**
 * Rewrites pg_hba.conf through the server itself (superuser COPY), so it works
 * wherever the test's database user is a superuser, whatever the OS user.
 * CSV with control-character delimiter and quote writes each line verbatim.
 */
async function writeHba(path: string, lines: string[]): Promise<void> {
    const array = `ARRAY[${lines.map((l) => escapeLiteral(l === "" ? "#" : l)).join(",")}]::text[]`;
    await adminQuery(`COPY (SELECT l FROM unnest(${array}) WITH ORDINALITY AS t(l, n) ORDER BY n) TO ${escapeLiteral(path)} WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')`);
    const [{ ok }] = await adminQuery<{ ok: boolean }>("SELECT pg_reload_conf() AS ok");
    if (!ok) throw new Error("pg_reload_conf() failed after editing pg_hba.conf");
}

async function hba(): Promise<{ path: string; lines: string[] }> {
    const [{ path }] = await adminQuery<{ path: string }>("SELECT current_setting('hba_file') AS path");
    const [{ text }] = await adminQuery<{ text: string }>(`SELECT pg_read_file(${escapeLiteral(path)}) AS text`);
    return { path, lines: text.replace(/\n$/, "").split("\n") };
}

/** Makes password auth real for the test roles; returns whether this call changed the file. */
export async function enforcePasswordAuth(): Promise<boolean> {
    await adminQuery(`DO $$ BEGIN CREATE ROLE ${ENFORCED_GROUP} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    const { path, lines } = await hba();
    if (lines.includes(HBA_RULE)) return false;
    await writeHba(path, [HBA_MARK, HBA_RULE, ...lines]);
    return true;
}

/** Removes the rule; not called by the suite (see above), kept for cleaning a machine by hand. */
export async function relaxPasswordAuth(): Promise<void> {
    const { path, lines } = await hba();
    if (!lines.includes(HBA_RULE)) return;
    await writeHba(path, lines.filter((l) => l !== HBA_RULE && l !== HBA_MARK));
}

export function uniqueSuffix(): string {
    return randomBytes(4).toString("hex");
}

export interface RolePair {
    owner: string;
    a: string;
    b: string;
}

/**
 * A dual-credential setup: an owner role with the privileges, and two login roles
 * that inherit them. `a` starts with `initialPassword`; `b` has no password yet.
 */
export async function createPair(suffix: string, initialPassword: string): Promise<RolePair> {
    const pair = { owner: `rot_owner_${suffix}`, a: `rot_a_${suffix}`, b: `rot_b_${suffix}` };
    const [owner, a, b, group] = [pair.owner, pair.a, pair.b, ENFORCED_GROUP].map(escapeIdentifier);
    await adminQuery(`CREATE ROLE ${owner} NOLOGIN`);
    await adminQuery(`CREATE ROLE ${a} LOGIN IN ROLE ${owner}, ${group} PASSWORD ${escapeLiteral(scramVerifier(initialPassword))}`);
    await adminQuery(`CREATE ROLE ${b} LOGIN IN ROLE ${owner}, ${group}`);
    return pair;
}

export async function dropPair(pair: RolePair): Promise<void> {
    for (const role of [pair.a, pair.b, pair.owner]) await adminQuery(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
}

/** A fresh connection with exactly what a consumer would use: the URI from the vault. */
export async function logsIn(connectionString: string): Promise<boolean> {
    const client = new Client({ connectionString, connectionTimeoutMillis: 15_000 });
    try {
        await client.connect();
        await client.query("SELECT 1");
        return true;
    } catch {
        return false;
    } finally {
        await client.end().catch(() => undefined);
    }
}

export const ADDRESS = `${PG.host}:${PG.port}/${PG.database}`;

export function uri(role: string, password: string): string {
    return `postgresql://${role}:${password}@${ADDRESS}`;
}
