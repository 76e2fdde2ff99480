import { spawn, type ChildProcess } from "node:child_process";

/** A valid environment spec for the benches: the worker derives a stack config from it before every run. */
export const BENCH_SPEC = {
    tier: "dev", location: "westeurope", team: "bench",
    network: { allowedIpRanges: ["203.0.113.0/24"], allowedSubnetIds: [] },
    access: [{ principalId: "3fa85f64-5717-4562-b3fc-2c963f66afa6", principalType: "Group", role: "secrets-user" }],
    alerts: { emails: ["bench@example.com"] },
};

/** Calls `onLine` with each whole line a child process writes to stdout. */
export function stdoutLines(child: ChildProcess, onLine: (line: string) => void): void {
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        for (const l of parts) onLine(l);
    });
}

/**
 * Starts a bench worker process (bench/opsWorker.ts, bench/opsFloorWorker.ts) with `env` over this
 * process's own. `ready` settles once it prints `ready`, and rejects if it exits first; every other
 * line it prints goes to `onLine`. It starts claiming at a line on its stdin, unless
 * BENCH_WAIT_FOR_GO is "0".
 */
export function startWorkerProcess(script: string, env: Record<string, string>, onLine: (line: string) => void = () => undefined): { child: ChildProcess; ready: Promise<void> } {
    const child = spawn(process.execPath, ["--import", "tsx", "--disable-warning=ExperimentalWarning", script], {
        env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"],
    });
    const ready = new Promise<void>((resolve, reject) => {
        stdoutLines(child, (line) => (line === "ready" ? resolve() : onLine(line)));
        child.once("exit", (code) => reject(new Error(`bench worker ${script} exited with ${code} before it was ready`)));
    });
    return { child, ready };
}
