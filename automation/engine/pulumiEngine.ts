import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, rm, unlink, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {
    LocalWorkspace, type EngineEvent as PulumiEvent, type LocalWorkspaceOptions, type OpMap, type PulumiFn, type Stack,
} from "@pulumi/pulumi/automation";
import {
    EngineError, type Engine, type EngineResult, type EngineRunRequest, type Readiness,
} from "../domain/ports";
import { execCli, probeCli, type CliProbe, type PulumiCli } from "./cli";
import { canceledError, CLI_INSTALL_HINT, CLI_MISSING_MESSAGE, toEngineError } from "./errors";
import { EventTranslator } from "./events";
import { type Logger, silentLogger } from "../domain/runtime";
import { KEY_VAULT_SECRETS_PROVIDER } from "./secretsProvider";
import { createMasker, maskStackOutputs, secretEnvValues, type Masker } from "./redact";
import { encodeStackConfig, staleConfigKeys } from "./stackConfig";

export const PROJECT_NAME = "keyvault-platform";
/** Lowercase letters, digits, `-`, `_` and `.`: a valid Pulumi stack name that is also a safe directory name. */
const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** Errors `pulumi cancel` gives when nothing holds the stack: recovery has nothing to do then. */
const NOTHING_TO_CANCEL = /has never been updated|no (active|in-progress|running) update|not (currently )?(in progress|running)|already (completed|finished|been cancel)/i;

export interface PulumiEngineOptions {
    /** Required. The server's data directory; stack working directories and the default file backend live under it. */
    dataDir: string;
    /** Optional. Parent of the per-stack working directories. Defaults to `<dataDir>/stacks`. */
    workRoot?: string;
    /** Optional. Pulumi state backend: file://<dir>, azblob://<container> or https://api.pulumi.com. Defaults to `file://<dataDir>/state`. */
    backendUrl?: string;
    /** Optional. `passphrase` or `azurekeyvault://<vault>.vault.azure.net/keys/<key>`. Defaults to passphrase. */
    secretsProvider?: string;
    /** Required with the passphrase provider. Passed to the CLI only through its environment; never logged. */
    passphrase?: string;
    /** Optional. Pulumi project name. Defaults to keyvault-platform, the same project `pulumi up` uses. */
    projectName?: string;
    /** Optional. Policy pack directories run on every preview and update. Defaults to none. */
    policyPackPaths?: string[];
    /** Optional. The pulumi executable, or an install root holding bin/pulumi. Defaults to `pulumi` on PATH. */
    pulumiCommand?: string;
    /** Optional. Extra environment for the CLI (ARM_*, AZURE_*, PULUMI_ACCESS_TOKEN, PATH). Defaults to none. */
    envVars?: Record<string, string>;
    /** Optional. The inline program. Defaults to `runProgram()` from program.ts, the code `pulumi up` runs. */
    program?: PulumiFn;
    /** Optional. Defaults to a silent logger. CLI output is logged at debug level only, masked. */
    logger?: Logger;
    /** Optional. Limit for `pulumi version` during the CLI probe. Defaults to 5000 ms. */
    probeTimeoutMs?: number;
    /** Optional. How long a CLI probe result is reused. Defaults to 10000 ms. */
    probeCacheMs?: number;
}

/** The same program `pulumi up` runs; loaded on first use so an idle server never pays for azure-native. */
const defaultProgram: PulumiFn = async () => {
    // require, not import(): this module is CommonJS, and the program must share the SDK instance the Automation API drives.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runProgram } = require("../../program") as { runProgram?: () => Record<string, unknown> };
    if (typeof runProgram !== "function") throw new Error("program.ts must export runProgram(), the program `pulumi up` runs");
    return runProgram();
};

function resolveBackend(url: string | undefined, dataDir: string): { url: string; localDir?: string } {
    const chosen = url ?? `file://${path.join(dataDir, "state")}`;
    if (!chosen.startsWith("file://")) return { url: chosen };
    const raw = chosen.slice("file://".length);
    const dir = path.resolve(raw.startsWith("~") ? path.join(os.homedir(), raw.slice(1)) : raw);
    return { url: `file://${dir}`, localDir: dir };
}

function counts(ops: OpMap | undefined): Record<string, number> {
    return Object.fromEntries(Object.entries(ops ?? {}).filter((e): e is [string, number] => typeof e[1] === "number"));
}

function messageOf(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/**
 * The engine port on the Pulumi Automation API: one working directory per
 * stack, the inline program shared with `pulumi up`, config rewritten from the
 * stored spec on every run, and every failure mapped by `toEngineError`.
 */
export class PulumiEngine implements Engine {
    readonly name = "pulumi";
    private readonly workRoot: string;
    private readonly backend: { url: string; localDir?: string };
    private readonly secretsProvider: string;
    private readonly projectName: string;
    private readonly policyPacks: string[];
    private readonly program: PulumiFn;
    private readonly logger: Logger;
    private readonly mask: Masker;
    /** Environment for every CLI process, on top of the server's own. */
    private readonly cliEnv: Record<string, string>;
    private probe?: { at: number; result: Promise<CliProbe> };

    constructor(private readonly opts: PulumiEngineOptions) {
        this.secretsProvider = opts.secretsProvider ?? "passphrase";
        if (this.secretsProvider !== "passphrase" && !KEY_VAULT_SECRETS_PROVIDER.test(this.secretsProvider)) {
            throw new Error(`secretsProvider must be "passphrase" or azurekeyvault://<vault>.vault.azure.net/keys/<key>; got ${JSON.stringify(this.secretsProvider)}`);
        }
        if (this.secretsProvider === "passphrase" && !opts.passphrase) {
            throw new Error("the passphrase secrets provider needs a passphrase (PULUMI_CONFIG_PASSPHRASE or the generated <dataDir>/passphrase)");
        }
        this.workRoot = path.resolve(opts.workRoot ?? path.join(opts.dataDir, "stacks"));
        this.backend = resolveBackend(opts.backendUrl, opts.dataDir);
        this.projectName = opts.projectName ?? PROJECT_NAME;
        this.policyPacks = (opts.policyPackPaths ?? []).map((p) => path.resolve(p));
        this.program = opts.program ?? defaultProgram;
        this.logger = opts.logger ?? silentLogger;

        // The CLI inherits the server's environment; the server's own secrets (KVP_*) have no business there.
        const scrubbed = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith("KVP_")).map((k) => [k, ""]));
        this.cliEnv = {
            ...scrubbed,
            ...opts.envVars,
            PULUMI_BACKEND_URL: this.backend.url,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            ...(this.secretsProvider === "passphrase" ? { PULUMI_CONFIG_PASSPHRASE: opts.passphrase as string } : {}),
        };
        this.mask = createMasker([opts.passphrase, ...secretEnvValues(opts.envVars ?? {}), ...secretEnvValues(process.env)]);
    }

    async readiness(): Promise<Readiness> {
        const probe = await this.cli();
        const checks: Readiness["checks"] = [
            probe.ok
                ? { name: "pulumi-cli", ok: true, detail: `${probe.cli.version} at ${probe.cli.bin}` }
                : { name: "pulumi-cli", ok: false, detail: this.missingDetail(probe) },
            await this.writableCheck("work-dir", this.workRoot),
            this.backend.localDir
                ? await this.writableCheck("state-backend", this.backend.localDir)
                : { name: "state-backend", ok: true, detail: `${new URL(this.backend.url).protocol}// backend; credentials are checked by the first operation` },
        ];
        return { ok: checks.every((c) => c.ok), checks };
    }

    async run(req: EngineRunRequest): Promise<EngineResult> {
        const cli = await this.requireCli();
        if (req.signal.aborted) throw canceledError(req.signal);
        const translator = new EventTranslator(this.mask, req.kind === "refresh");
        try {
            const creates = req.kind === "update" || req.kind === "preview";
            const stack = await this.openStack(req.stackName, creates ? "createOrSelect" : "select", cli);
            await this.writeConfig(stack, req.config);
            if (req.signal.aborted) throw canceledError(req.signal);

            const log = { operationId: req.operationId, stack: req.stackName, kind: req.kind };
            const common = {
                onEvent: (e: PulumiEvent) => this.forward(e, translator, req),
                onOutput: (text: string) => this.logger.debug({ ...log, stream: "stdout", text: this.mask(text) }, "pulumi output"),
                onError: (text: string) => this.logger.debug({ ...log, stream: "stderr", text: this.mask(text) }, "pulumi output"),
                signal: req.signal,
                color: "never" as const,
            };
            switch (req.kind) {
                case "update": {
                    const r = await stack.up({ ...common, policyPacks: this.policyPacks });
                    return { outputs: maskStackOutputs(r.outputs, await this.maskedOutputs(cli, req.stackName)), summary: counts(r.summary?.resourceChanges) };
                }
                case "preview": {
                    const r = await stack.preview({ ...common, policyPacks: this.policyPacks });
                    return { summary: counts(r.changeSummary) };
                }
                case "refresh": {
                    const r = await stack.refresh(common);
                    req.onEvent({ type: "drift", data: { drifted: translator.drifted.length, resources: translator.drifted } });
                    return { summary: counts(r.summary?.resourceChanges) };
                }
                case "destroy": {
                    const r = await stack.destroy(common);
                    return { outputs: {}, summary: counts(r.summary?.resourceChanges) };
                }
            }
        } catch (e) {
            const mapped = toEngineError(e, { signal: req.signal, violations: translator.violations, diagnostics: translator.errorDiagnostics });
            this.logger.debug({ operationId: req.operationId, stack: req.stackName, code: mapped.code, cause: this.mask(messageOf(e)) }, "engine run failed");
            throw mapped;
        }
    }

    /**
     * Crash recovery (docs/crash-recovery.md): releases a lock left by a killed
     * run with `pulumi cancel`, then removes `pending_operations` from the
     * checkpoint so the next update is not refused.
     */
    async recoverStack(stackName: string): Promise<void> {
        const cli = await this.requireCli();
        let stack: Stack;
        try {
            stack = await this.openStack(stackName, "select", cli);
        } catch (e) {
            const mapped = toEngineError(e);
            if (mapped.code === "stack_not_found") return;
            throw mapped;
        }
        try {
            await stack.cancel();
            this.logger.info({ stack: stackName }, "pulumi cancel: no update holds the stack any more");
        } catch (e) {
            if (!NOTHING_TO_CANCEL.test(messageOf(e))) throw this.logged(stackName, "cancel", e);
        }
        await this.clearPendingOperations(stackName, cli);
    }

    async removeStack(stackName: string): Promise<void> {
        const cli = await this.requireCli();
        const workDir = await this.ensureWorkDir(stackName);
        try {
            const ws = await LocalWorkspace.create(this.workspaceOptions(workDir, cli));
            await ws.removeStack(stackName);
        } catch (e) {
            const mapped = toEngineError(e);
            if (mapped.code !== "stack_not_found") throw this.logged(stackName, "stack rm", e);
        }
        await rm(workDir, { recursive: true, force: true });
    }

    private cli(): Promise<CliProbe> {
        const now = Date.now();
        if (!this.probe || now - this.probe.at > (this.opts.probeCacheMs ?? 10_000)) {
            const env = { ...process.env, ...this.cliEnv };
            this.probe = { at: now, result: probeCli(this.opts.pulumiCommand, env, this.opts.probeTimeoutMs ?? 5_000) };
        }
        return this.probe.result;
    }

    private missingDetail(probe: Extract<CliProbe, { ok: false }>): string {
        if (probe.reason === "not_found" && !this.opts.pulumiCommand) return CLI_MISSING_MESSAGE;
        return `Pulumi CLI unusable (${probe.detail}); ${CLI_INSTALL_HINT}`;
    }

    private async requireCli(): Promise<PulumiCli> {
        const probe = await this.cli();
        if (!probe.ok) throw new EngineError("cli_missing", this.missingDetail(probe), false);
        return probe.cli;
    }

    private async writableCheck(name: string, dir: string): Promise<Readiness["checks"][number]> {
        try {
            await mkdir(dir, { recursive: true, mode: 0o700 });
            await access(dir, fsConstants.W_OK);
            return { name, ok: true, detail: `${dir} is writable` };
        } catch (e) {
            return { name, ok: false, detail: `${dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? "error"}` };
        }
    }

    private async ensureWorkDir(stackName: string): Promise<string> {
        if (!STACK_NAME.test(stackName)) {
            throw new EngineError("failed", `"${stackName}" is not a valid stack name (letters, digits, -, _ and .).`, false);
        }
        if (this.backend.localDir) await mkdir(this.backend.localDir, { recursive: true, mode: 0o700 });
        const dir = path.join(this.workRoot, stackName);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        return dir;
    }

    private workspaceOptions(workDir: string, cli: PulumiCli): LocalWorkspaceOptions {
        return {
            workDir,
            pulumiCommand: cli.command,
            program: this.program,
            envVars: this.cliEnv,
            secretsProvider: this.secretsProvider,
            projectSettings: { name: this.projectName, runtime: "nodejs", backend: { url: this.backend.url } },
        };
    }

    private async openStack(stackName: string, mode: "select" | "createOrSelect", cli: PulumiCli): Promise<Stack> {
        const workDir = await this.ensureWorkDir(stackName);
        const args = { stackName, projectName: this.projectName, program: this.program };
        const opts = this.workspaceOptions(workDir, cli);
        return mode === "select" ? LocalWorkspace.selectStack(args, opts) : LocalWorkspace.createOrSelectStack(args, opts);
    }

    /** Config is derived from the spec on every run: keys the spec no longer has are removed, not left to linger. */
    private async writeConfig(stack: Stack, config: EngineRunRequest["config"]): Promise<void> {
        const desired = encodeStackConfig(config);
        const stale = staleConfigKeys(Object.keys(await stack.getAllConfig()), desired);
        if (stale.length > 0) await stack.removeAllConfig(stale);
        await stack.setAllConfig(desired, false);
    }

    private forward(e: PulumiEvent, translator: EventTranslator, req: EngineRunRequest): void {
        if (e.stdoutEvent) this.logger.debug({ operationId: req.operationId, text: this.mask(e.stdoutEvent.message) }, "pulumi message");
        const safe = translator.translate(e);
        if (!safe) return;
        try {
            req.onEvent(safe);
        } catch (err) {
            // A failing sink (store hiccup) must not break the CLI's event stream mid-update.
            this.logger.warn({ operationId: req.operationId, err: messageOf(err) }, "engine event sink failed");
        }
    }

    /** `stack output --json` without --show-secrets: the CLI masks secrets at every depth. */
    private async maskedOutputs(cli: PulumiCli, stackName: string): Promise<Record<string, unknown> | undefined> {
        try {
            const stdout = await execCli(cli.bin, ["stack", "output", "--json", "--stack", stackName], this.execOptions(stackName, 60_000));
            return JSON.parse(stdout) as Record<string, unknown>;
        } catch (e) {
            this.logger.warn({ stack: stackName }, "could not read masked stack outputs; masking top-level secrets only");
            this.logger.debug({ stack: stackName, cause: this.mask(messageOf(e)) }, "stack output failure detail");
            return undefined;
        }
    }

    private execOptions(stackName: string, timeoutMs: number) {
        return { cwd: path.join(this.workRoot, stackName), env: { ...process.env, ...this.cliEnv }, timeoutMs };
    }

    /**
     * Export and import go straight to the CLI, without --show-secrets: the
     * Automation API's exportStack decrypts every secret and its importStack
     * writes that plaintext to a world-readable temp file.
     */
    private async clearPendingOperations(stackName: string, cli: PulumiCli): Promise<void> {
        const exec = this.execOptions(stackName, 120_000);
        let state: { version: number; deployment?: { pending_operations?: Array<{ type?: string; resource?: { urn?: string; type?: string } }> } };
        try {
            state = JSON.parse(await execCli(cli.bin, ["stack", "export", "--stack", stackName], exec));
        } catch (e) {
            throw this.logged(stackName, "stack export", e);
        }
        const pending = state.deployment?.pending_operations ?? [];
        if (pending.length === 0) return;

        this.logger.warn({
            stack: stackName,
            pending: pending.map((p) => ({ op: p.type, urn: p.resource?.urn, type: p.resource?.type })),
        }, "clearing pending operations left by an interrupted run; a pending create may have left an unmanaged Azure resource");
        delete state.deployment!.pending_operations;
        const file = path.join(exec.cwd, `.recovery-${randomBytes(6).toString("hex")}.json`);
        await writeFile(file, JSON.stringify(state), { mode: 0o600 });
        try {
            await execCli(cli.bin, ["stack", "import", "--file", file, "--stack", stackName], exec);
        } catch (e) {
            throw this.logged(stackName, "stack import", e);
        } finally {
            await unlink(file).catch(() => undefined);
        }
    }

    private logged(stackName: string, step: string, e: unknown): EngineError {
        const mapped = toEngineError(e);
        this.logger.warn({ stack: stackName, step, code: mapped.code }, "stack maintenance failed");
        this.logger.debug({ stack: stackName, step, cause: this.mask(messageOf(e)) }, "stack maintenance failure detail");
        return mapped;
    }
}
