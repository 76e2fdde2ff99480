/**
 * The part of zod the Pulumi program uses, re-exported by name; import it as
 * `import * as z from "./zod"`. `import { z } from "zod"` hands esbuild a namespace object
 * that holds all of zod, every locale included, so the program bundle carried ~560 KB of it
 * and spent ~11 ms loading it on every run (npm run bench:program). Named exports let the
 * bundler leave the rest out. The server, which is not bundled, imports zod directly.
 */
export { array, boolean, enum, guid, literal, number, object, record, string, url } from "zod";
export type { infer, input, output } from "zod";
export type { $ZodIssue } from "zod/v4/core";
