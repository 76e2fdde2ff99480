/** Table-driven passing/failing cases for one resource policy. */
import assert from "node:assert/strict";
import type { Props } from "../helpers";
import { policyNamed, runResourcePolicy, urnOf } from "./harness";

export { withPath } from "./harness";

export interface PolicyCase {
    it: string;
    type: string;
    props: Props;
    /** Logical resource name; defaults to `res`. */
    name?: string;
    /** Stack segment of the URN; defaults to `test`, which names no tier. */
    stack?: string;
    /** This policy's config, as in a --policy-pack-config file. */
    config?: Record<string, unknown>;
    /** Number of violations expected (0 for a passing case). */
    violations: number;
    /** Text every violation must contain. */
    mentions?: string;
}

export function describePolicy(policyName: string, cases: PolicyCase[]): void {
    describe(`policy ${policyName}`, () => {
        for (const c of cases) {
            it(c.it, () => {
                const name = c.name ?? "res";
                const vs = runResourcePolicy(policyNamed(policyName), { type: c.type, name, urn: urnOf(c.type, name, c.stack), props: c.props }, c.config);
                assert.equal(vs.length, c.violations, `expected ${c.violations} violation(s), got:\n${vs.map((v) => v.message).join("\n")}`);
                for (const v of vs) {
                    assert.equal(v.policy, policyName);
                    if (c.mentions) assert.ok(v.message.includes(c.mentions), `"${v.message}" should mention "${c.mentions}"`);
                }
            });
        }
    });
}
