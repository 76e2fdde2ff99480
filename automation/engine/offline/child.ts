/**
 * One offline run, in a process of its own: the parent (engine.ts) sends the stack's
 * config exactly as the Pulumi engine would hand it to the program, this process runs
 * the real program (program.ts) on the mock cloud, checks what it registered against
 * the policy pack, and reports each resource as it is registered, then the outputs.
 *
 * A process per run keeps runs apart: the Pulumi SDK holds one program's state in
 * module globals, so two runs in one process would see each other's resources.
 */
import * as pulumi from "@pulumi/pulumi";
import { evaluatePack, fromRecorded, type Violation } from "@keyvault-platform/policy-pack/evaluate";
import { installMockCloud, record, setRecordedListener, type RecordedResource } from "./mockCloud";
import { maskSecrets, type ChildMessage, type ParentMessage } from "./protocol";

function send(message: ChildMessage): Promise<void> {
    return new Promise((resolve) => process.send!(message, () => resolve()));
}

async function outputValue(o: pulumi.Output<unknown>): Promise<unknown> {
    const secret = await (o as unknown as { isSecret: Promise<boolean> }).isSecret;
    const value = await new Promise<unknown>((resolve) => o.apply((v) => resolve(v)));
    return secret ? "[secret]" : maskSecrets(value);
}

async function run(req: ParentMessage): Promise<void> {
    await installMockCloud(req.projectName, req.stackName, req.kind === "preview");
    pulumi.runtime.setAllConfig(req.config, req.secretKeys);
    const pending: Array<Promise<void>> = [];
    setRecordedListener((r: RecordedResource) => {
        pending.push(send({ type: "resource", resource: { type: r.type, name: r.name, urn: r.urn, inputs: maskSecrets(r.inputs) as Record<string, unknown> } }));
    });

    // Loaded only now, after the mocks are set: the program's modules register resources with whatever monitor exists.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runProgram } = require("../../../program") as typeof import("../../../program");
    let outputs: Record<string, pulumi.Output<unknown>> = {};
    const recording = await record(() => {
        outputs = runProgram();
    });
    await Promise.all(pending);

    const { inputs, outputs: state } = fromRecorded(recording.resources);
    const violations: Violation[] = req.kind === "preview" || req.kind === "update" ? evaluatePack(inputs, state, req.policyConfig) : [];
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(outputs)) resolved[k] = await outputValue(v);
    await send({ type: "done", outputs: resolved, violations });
}

function describe(e: unknown): { message: string; stack?: string; configInvalid: boolean } {
    const err = e instanceof Error ? e : new Error(String(e));
    // The program ends bad config with a RunError, whose message names every bad key.
    return { message: err.message, stack: err.stack, configInvalid: pulumi.RunError.isInstance(err) };
}

process.once("message", (req: ParentMessage) => {
    run(req).then(
        () => process.exit(0),
        async (e: unknown) => {
            await send({ type: "failed", ...describe(e) });
            process.exit(1);
        },
    );
});
// An error the program raises inside an apply surfaces here rather than in run().
process.on("unhandledRejection", (e) => {
    void send({ type: "failed", ...describe(e) }).then(() => process.exit(1));
});
