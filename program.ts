import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/load";
import { KeyVaultEnvironment } from "./components/environment";

/**
 * The whole program. `pulumi up` runs it through index.ts, and the self-service
 * server runs it as the Automation API's inline program, so both paths validate
 * the same config and build the same components.
 */
export function runProgram(): Record<string, pulumi.Output<unknown>> {
    const config = loadStackConfig();
    return new KeyVaultEnvironment("env", { config, environmentName: pulumi.getStack() }).stackOutputs();
}
