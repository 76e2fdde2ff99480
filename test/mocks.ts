/**
 * The mock cloud every component and stack spec runs on. Import this module before any
 * module that creates resources: the mocks must be set first.
 */
import { installMockCloud } from "../automation/engine/offline/mockCloud";
import { ownershipTags, type Tier } from "@keyvault-platform/conventions";

export * from "../automation/engine/offline/mockCloud";

void installMockCloud("keyvault-platform", "test", false);

/** The four ownership tags a component expects, for a test stack of the given tier. */
export function ownerTags(tier: Tier = "dev"): Record<string, string> {
    return ownershipTags({ team: "platform", environmentName: "test", tier, managedBy: "keyvault-platform" });
}
