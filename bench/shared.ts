import type { ChildProcess } from "node:child_process";

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
