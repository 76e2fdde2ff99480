import { enableProgramCompileCache, loadProgram } from "./tools/programBundle";

// The program comes from a bundle that is rebuilt whenever a source changes
// (tools/programBundle.ts): it loads in a fraction of the time that ~190 modules take under tsx.
enableProgramCompileCache();
const program = loadProgram();

/**
 * Pulumi calls an exported function once the module has loaded and takes what it returns as
 * the stack outputs (vault name and URI, Cosmos endpoint, workspace and action group ids, and
 * so on; features that are off are left out). Building the resources here rather than while
 * the module loads keeps a dozen module-loader frames off the stack the SDK captures for every
 * resource (npm run bench:program).
 */
export = () => program.runProgram();
