/**
 * One measured evaluation, in its own process so that module loading counts:
 * `bare` registers a single resource group; `prod` runs the real program on
 * Pulumi.prod.yaml. Prints one JSON line for bench/program.ts to collect.
 */
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { record, registrations, setRecording } from "../test/mocks";

async function main(kind: string): Promise<void> {
    setRecording(false);
    if (kind === "bare") {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, so each kind loads only its own modules
        const resources = require("@pulumi/azure-native/resources") as typeof import("@pulumi/azure-native/resources");
        await record(() => new resources.ResourceGroup("bare", { location: "westeurope" }));
    } else if (kind === "prod") {
        // The parent reads Pulumi.prod.yaml, so this process pays only for what `pulumi up` would.
        pulumi.runtime.setAllConfig(JSON.parse(process.env.BENCH_PULUMI_CONFIG ?? "{}"));
        // index.ts is exactly what `pulumi up` loads.
        await record(() => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, so the bare run never pays for the program's modules
            const entry: unknown = require("../index");
            // What Pulumi's run.js does with a module that exports a function.
            return entry instanceof Function ? entry() : entry;
        });
    } else {
        throw new Error(`unknown program '${kind}': expected bare or prod`);
    }
    const count = registrations();
    const rusage = process.resourceUsage();
    process.stdout.write(JSON.stringify({ kind, resources: count, ms: performance.now(), maxRssMb: rusage.maxRSS / 1024, cpuMs: (rusage.userCPUTime + rusage.systemCPUTime) / 1000 }) + "\n");
}

main(process.argv[2] ?? "").catch((e) => {
    console.error(e);
    process.exit(1);
});
