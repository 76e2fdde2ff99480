/**
 * One measured evaluation, in its own process so that module loading counts:
 * `bare` registers a single resource group; `prod` runs the real program on
 * Pulumi.prod.yaml. Prints one JSON line for bench/program.ts to collect.
 */
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { record } from "../test/mocks";
import { asPulumiConfig, rawConfigFor } from "../test/stackRun";

async function main(kind: string): Promise<void> {
    let count: number;
    if (kind === "bare") {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, so each kind loads only its own modules
        const resources = require("@pulumi/azure-native/resources") as typeof import("@pulumi/azure-native/resources");
        count = (await record(() => new resources.ResourceGroup("bare", { location: "westeurope" }))).resources.length;
    } else if (kind === "prod") {
        pulumi.runtime.setAllConfig(asPulumiConfig(rawConfigFor("prod")));
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, so the bare run never pays for the program's modules
        const { runProgram } = require("../program") as typeof import("../program");
        count = (await record(() => runProgram())).resources.length;
    } else {
        throw new Error(`unknown program '${kind}': expected bare or prod`);
    }
    const rusage = process.resourceUsage();
    process.stdout.write(JSON.stringify({ kind, resources: count, ms: performance.now(), maxRssMb: rusage.maxRSS / 1024 }) + "\n");
}

main(process.argv[2] ?? "").catch((e) => {
    console.error(e);
    process.exit(1);
});
