import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, stat } from "node:fs/promises";
import * as path from "node:path";
import { PulumiCommand } from "@pulumi/pulumi/automation";

/** A located, working Pulumi CLI. */
export interface PulumiCli {
    /** Absolute path of the executable. */
    bin: string;
    version: string;
    command: PulumiCommand;
}

export type CliProbe = { ok: true; cli: PulumiCli } | { ok: false; reason: "not_found" | "broken"; detail: string };

const EXE = process.platform === "win32" ? "pulumi.exe" : "pulumi";

async function isExecutable(file: string): Promise<boolean> {
    try {
        if (!(await stat(file)).isFile()) return false;
        await access(file, fsConstants.X_OK);
        return true;
    } catch {
        return false;
    }
}

/**
 * Finds the CLI without running anything: `configured` may be the executable or
 * an install root holding `bin/pulumi`; otherwise each PATH entry is tried. A
 * missing CLI is therefore detected in microseconds, not after a spawn timeout.
 */
export async function locateCli(configured: string | undefined, pathEnv: string | undefined): Promise<string | undefined> {
    if (configured) {
        const candidates = [configured, path.join(configured, "bin", EXE)];
        for (const c of candidates) if (await isExecutable(path.resolve(c))) return path.resolve(c);
        return undefined;
    }
    for (const dir of (pathEnv ?? "").split(path.delimiter)) {
        if (!dir) continue;
        const candidate = path.resolve(dir, EXE);
        if (await isExecutable(candidate)) return candidate;
    }
    return undefined;
}

export interface ExecOptions {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs: number;
    signal?: AbortSignal;
}

/** Runs the CLI directly, for the few commands the Automation API does not expose safely. Rejects with stderr in the message (for mapping and debug logs only). */
export function execCli(bin: string, args: string[], opts: ExecOptions): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(bin, [...args, "--non-interactive"], {
            cwd: opts.cwd,
            env: opts.env,
            timeout: opts.timeoutMs,
            signal: opts.signal,
            maxBuffer: 64 * 1024 * 1024,
            killSignal: "SIGINT",
        }, (err, stdout, stderr) => {
            if (err) reject(Object.assign(new Error(`pulumi ${args[0] ?? ""} ${args[1] ?? ""} failed: ${err.message}\n${stderr}`), { name: err.name === "AbortError" ? "AbortError" : "CliError" }));
            else resolve(stdout);
        });
    });
}

/** Rejects after `ms`, so a wedged CLI can never hang readiness or a run. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Locates the CLI, asks its version with a short timeout, and builds the
 * Automation API's PulumiCommand for it. When the executable sits in
 * `<root>/bin/`, the command is pinned to it (and the CLI's bundled plugins
 * come first on PATH); otherwise the Automation API resolves `pulumi` on PATH.
 */
export async function probeCli(configured: string | undefined, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliProbe> {
    const bin = await locateCli(configured, env.PATH);
    if (!bin) return { ok: false, reason: "not_found", detail: configured ? `no Pulumi CLI at ${configured}` : "not on PATH" };
    try {
        const version = (await execCli(bin, ["version"], { env: { ...env, PULUMI_SKIP_UPDATE_CHECK: "true" }, timeoutMs })).trim();
        const root = path.basename(path.dirname(bin)) === "bin" ? path.dirname(path.dirname(bin)) : undefined;
        const command = await withTimeout(PulumiCommand.get(root ? { root } : {}), timeoutMs, "pulumi version");
        return { ok: true, cli: { bin, version, command } };
    } catch (e) {
        // The message is our own or execFile's, naming only the binary and the failure.
        return { ok: false, reason: "broken", detail: `${bin} is not usable: ${(e as Error).message.split("\n")[0]}` };
    }
}
