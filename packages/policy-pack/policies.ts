import { accessPolicyPolicies } from "./accessPolicies";
import { certificatePolicies } from "./certificates";
import { cmkPolicies } from "./cmk";
import { cosmosPolicies } from "./cosmos";
import type { PackPolicy } from "./helpers";
import { keyPolicies } from "./keys";
import { networkPolicies } from "./network";
import { platformPolicies } from "./platform";
import { roleAssignmentPolicies } from "./roleAssignments";
import { secretPolicies } from "./secrets";
import { stackPolicies } from "./stack";
import { vaultPolicies } from "./vault";

export { POLICY_PACK_NAME } from "./location";

/** Every policy in the pack, in the order the README's table lists them. */
export const ALL_POLICIES: readonly PackPolicy[] = [
    ...vaultPolicies,
    ...networkPolicies,
    ...accessPolicyPolicies,
    ...stackPolicies,
    ...cmkPolicies,
    ...keyPolicies,
    ...secretPolicies,
    ...cosmosPolicies,
    ...roleAssignmentPolicies,
    ...certificatePolicies,
    ...platformPolicies,
];
