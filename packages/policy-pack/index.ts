/**
 * The Key Vault security baseline as a Pulumi policy pack:
 *   pulumi preview --policy-pack packages/policy-pack
 *   pulumi up --policy-pack packages/policy-pack [--policy-pack-config packages/policy-pack/config.example.json]
 * Constructing the PolicyPack starts the analyzer server, so nothing else imports this file:
 * tests and tools import ./policies instead.
 */
import { PolicyPack } from "@pulumi/policy";
import { ALL_POLICIES, POLICY_PACK_NAME } from "./policies";

new PolicyPack(POLICY_PACK_NAME, {
    description: "Key Vault security baseline: vaults, keys, secrets, certificates, Cosmos DB CMK, role assignments and diagnostics.",
    provider: "azure",
    tags: ["azure", "key-vault", "cosmos-db", "security"],
    enforcementLevel: "mandatory",
    policies: [...ALL_POLICIES],
});
