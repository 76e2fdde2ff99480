import { fork, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { POLICY_PACK_NAME } from "@keyvault-platform/policy-pack/location";
import { canonicalJson } from "../../domain/spec";
import {
    EngineError, type Engine, type EngineResult, type EngineRunRequest, type Readiness,
} from "../../domain/ports";
import { canceledError } from "../errors";
import { type Logger, silentLogger } from "../../domain/runtime";
import { PROJECT_NAME } from "../pulumiEngine";
import { encodeStackConfig } from "../stackConfig";
import type { ChildMessage, ParentMessage, RegisteredStep } from "./protocol";

/**
 * The offline engine: every operation evaluates the real program (program.ts) under
 * Pulumi's mocks, in a child process, with exactly the stack config the Pulumi engine
 * would write, and checks the result against the policy pack. It reports what a preview
 * reports (each resource with its operation, type, name and masked inputs, then the
 * stack outputs) and provisions nothing.
 *
 * It remembers what each stack's last update registered (a small file per stack under
 * the data directory), so a later preview shows `same`, `update`, `create` and `delete`
 * as the real engine would against its state.
 */

const CHILD = path.join(__dirname, "child.ts");
const DETAIL = "OFFLINE engine (KVP_ENGINE=offline): runs the real program under Pulumi mocks with the policy pack; provisions NOTHING in Azure";

interface StoredResource {
    type: string;
    name: string;
    /** Hash of the masked inputs: a changed hash is an update. */
    inputs: string;
}
type StackState = Record<string, StoredResource>;

export interface OfflineEngineOptions {
    /** Required. The server's data directory; each stack's last update is remembered under `<dataDir>/offline`. */
    dataDir: string;
    /** Optional. Pulumi project name, as URNs spell it. Defaults to keyvault-platform. */
    projectName?: string;
    /** Optional. Per-policy config, as in a --policy-pack-config file. Defaults to the pack's defaults. */
    policyConfig?: Record<string, Record<string, unknown>>;
    /** Optional. Defaults to a silent logger. */
    logger?: Logger;
}

const hashOf = (value: unknown) => createHash("sha256").update(canonicalJson(value)).digest("hex");

function opFor(previous: StoredResource | undefined, inputsHash: string): "create" | "update" | "same" {
    if (!previous) return "create";
    return previous.inputs === inputsHash ? "same" : "update";
}

export class OfflineEngine implements Engine {
    readonly name = "offline (provisions nothing)";
    private readonly stateDir: string;
    private readonly projectName: string;
    private readonly logger: Logger;

    constructor(private readonly opts: OfflineEngineOptions) {
        this.stateDir = path.join(path.resolve(opts.dataDir), "offline");
        this.projectName = opts.projectName ?? PROJECT_NAME;
        this.logger = opts.logger ?? silentLogger;
    }

    async readiness(): Promise<Readiness> {
        return { ok: true, checks: [{ name: "engine", ok: true, detail: DETAIL }] };
    }

    async run(req: EngineRunRequest): Promise<EngineResult> {
        if (req.signal.aborted) throw canceledError(req.signal);
        const previous = await this.readState(req.stackName);
        if (req.kind === "destroy" || req.kind === "refresh") return this.fromState(req, previous);

        const planning = req.kind === "preview";
        const counts: Record<string, number> = {};
        const next: StackState = {};
        const seen = new Set<string>();
        const step = (r: RegisteredStep) => {
            const inputs = hashOf(r.inputs);
            const op = opFor(previous[r.urn], inputs);
            seen.add(r.urn);
            next[r.urn] = { type: r.type, name: r.name, inputs };
            counts[op] = (counts[op] ?? 0) + 1;
            req.onEvent({ type: "resource-pre", data: { urn: r.urn, type: r.type, name: r.name, op, planning, inputs: r.inputs } });
            if (!planning) req.onEvent({ type: "resource-outputs", data: { urn: r.urn, type: r.type, name: r.name, op } });
        };

        const done = await this.evaluate(req, step);
        for (const [urn, r] of Object.entries(previous)) {
            if (seen.has(urn)) continue;
            counts.delete = (counts.delete ?? 0) + 1;
            req.onEvent({ type: "resource-pre", data: { urn, type: r.type, name: r.name, op: "delete", planning } });
        }
        for (const v of done.violations) {
            req.onEvent({ type: "policy", data: { policy: v.policy, pack: POLICY_PACK_NAME, message: v.message, enforcementLevel: v.enforcementLevel, ...(v.urn ? { urn: v.urn } : {}) } });
        }
        const mandatory = done.violations.filter((v) => v.enforcementLevel === "mandatory");
        if (mandatory.length > 0) {
            throw new EngineError("policy_violation", `${mandatory.length} mandatory policy violation(s): ${[...new Set(mandatory.map((v) => v.policy))].join(", ")}.`, false,
                mandatory.map((v) => ({ policy: v.policy, pack: POLICY_PACK_NAME, message: v.message, ...(v.urn ? { urn: v.urn } : {}) })));
        }
        req.onEvent({ type: "summary", data: { resourceChanges: counts, maybeCorrupt: false, policyPacks: { [POLICY_PACK_NAME]: "local" } } });
        if (planning) {
            // What `pulumi preview` cannot show until apply, the mock cloud can: the outputs the program computes.
            req.onEvent({ type: "outputs", data: { outputs: done.outputs } });
            return { summary: counts };
        }
        await this.writeState(req.stackName, next);
        return { outputs: done.outputs, summary: counts };
    }

    async recoverStack(): Promise<void> {
        // Nothing holds a lock: a run that died left no state behind but the last successful update's.
    }

    async removeStack(stackName: string): Promise<void> {
        await rm(this.stateFile(stackName), { force: true });
    }

    /** Destroy and refresh need no program run: they act on what the last update registered. */
    private fromState(req: EngineRunRequest, previous: StackState): EngineResult {
        const op = req.kind === "destroy" ? "delete" : "same";
        for (const [urn, r] of Object.entries(previous)) {
            req.onEvent({ type: "resource-pre", data: { urn, type: r.type, name: r.name, op, planning: false } });
            req.onEvent({ type: "resource-outputs", data: { urn, type: r.type, name: r.name, op } });
        }
        const n = Object.keys(previous).length;
        const summary = n > 0 ? { [op]: n } : {};
        req.onEvent({ type: "summary", data: { resourceChanges: summary, maybeCorrupt: false, policyPacks: {} } });
        return req.kind === "destroy" ? { summary, outputs: {} } : { summary };
    }

    private evaluate(req: EngineRunRequest, onStep: (r: RegisteredStep) => void): Promise<Extract<ChildMessage, { type: "done" }>> {
        const config = encodeStackConfig(req.config);
        const message: ParentMessage = {
            kind: req.kind,
            projectName: this.projectName,
            stackName: req.stackName,
            config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])),
            secretKeys: Object.entries(config).filter(([, v]) => v.secret).map(([k]) => k),
            policyConfig: this.opts.policyConfig ?? {},
        };
        return new Promise((resolve, reject) => {
            const child: ChildProcess = fork(CHILD, [], { stdio: ["ignore", "pipe", "pipe", "ipc"] });
            let settled = false;
            const finish = (fn: () => void) => {
                if (settled) return;
                settled = true;
                req.signal.removeEventListener("abort", onAbort);
                fn();
            };
            const onAbort = () => {
                child.kill("SIGKILL");
                finish(() => reject(canceledError(req.signal)));
            };
            req.signal.addEventListener("abort", onAbort, { once: true });
            // The program's console output is the operator's to read, not the client's.
            child.stdout?.on("data", (b: Buffer) => this.logger.debug({ operationId: req.operationId, stream: "stdout", text: b.toString() }, "offline program output"));
            child.stderr?.on("data", (b: Buffer) => this.logger.debug({ operationId: req.operationId, stream: "stderr", text: b.toString() }, "offline program output"));
            child.on("message", (m: ChildMessage) => {
                if (m.type === "resource") onStep(m.resource);
                else if (m.type === "done") finish(() => resolve(m));
                else {
                    this.logger.warn({ operationId: req.operationId, stack: m.stack }, "the program failed under the offline engine");
                    const err = m.configInvalid
                        ? new EngineError("config_invalid", m.message, false)
                        : new EngineError("failed", `The program failed: ${m.message.split("\n")[0]}`, false);
                    finish(() => reject(err));
                }
            });
            child.on("error", (e) => finish(() => reject(new EngineError("failed", `The offline program could not start: ${e.message}`, false))));
            child.on("close", (code, sig) => finish(() => reject(new EngineError("failed", `The offline program ended without a result (exit ${code ?? sig}).`, false))));
            child.send(message);
        });
    }

    private stateFile(stackName: string): string {
        if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(stackName)) throw new EngineError("failed", `"${stackName}" is not a valid stack name.`, false);
        return path.join(this.stateDir, `${stackName}.json`);
    }

    private async readState(stackName: string): Promise<StackState> {
        try {
            return JSON.parse(await readFile(this.stateFile(stackName), "utf8")) as StackState;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
            throw e;
        }
    }

    /** Written whole and renamed into place, so a crash leaves the old state or the new one. */
    private async writeState(stackName: string, state: StackState): Promise<void> {
        await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
        const file = this.stateFile(stackName);
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
        await rename(tmp, file);
    }
}
