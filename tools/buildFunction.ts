/**
 * npm run build:function — bundles functions/rotation into functions/rotation/dist, the
 * package the program deploys (components/helpers/functionPackage.ts reads it and never builds).
 * Skips the bundling when the sources did not change since the last build.
 */
import { relative } from "node:path";
import { buildFunctionPackage } from "../components/helpers/functionPackage";

const pkg = buildFunctionPackage();
console.log(`${relative(process.cwd(), pkg.dir)}: ${pkg.built ? "built" : "up to date"} (sources ${pkg.hash.slice(0, 12)})`);
