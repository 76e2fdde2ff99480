import { runProgram } from "./program";

/**
 * Pulumi calls an exported function once the module has loaded and takes what it returns as
 * the stack outputs (vault name and URI, Cosmos endpoint, workspace and action group ids, and
 * so on; features that are off are left out).
 */
export = () => runProgram();
