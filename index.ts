import { enableProgramCompileCache, loadProgram } from "./tools/programBundle";

// From a bundle that is rebuilt whenever a source changes (tools/programBundle.ts): it loads
// in a fraction of the time the ~190 separate modules take under tsx.
enableProgramCompileCache();
const outputs = loadProgram().runProgram();

export const resourceGroupName = outputs.resourceGroupName;
export const vaultName = outputs.vaultName;
export const vaultUri = outputs.vaultUri;
export const vaultId = outputs.vaultId;
export const workspaceId = outputs.workspaceId;
export const actionGroupId = outputs.actionGroupId;
// Present only when the feature is on for this stack.
export const cmkVaultName = outputs.cmkVaultName;
export const cosmosAccountName = outputs.cosmosAccountName;
export const cosmosEndpoint = outputs.cosmosEndpoint;
export const rotationFunctionAppName = outputs.rotationFunctionAppName;
export const certificateIds = outputs.certificateIds;
export const secretProviderClassName = outputs.secretProviderClassName;
