import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { apiDocument } from "../automation/http/routes";

/**
 * Lints the server's OpenAPI document with Spectral (the OAS and OWASP API security rulesets,
 * configured in .spectral.yaml). The document is generated from the route table, so it is
 * written to a temporary file first. Any error fails the run. Only errors are listed, so the
 * test log stays readable; `npm run lint:openapi -- --all` lists the warnings too.
 */

const root = path.resolve(__dirname, "..");
const dir = mkdtempSync(path.join(tmpdir(), "kvp-openapi-"));
try {
    const file = path.join(dir, "openapi.json");
    writeFileSync(file, `${JSON.stringify(apiDocument(), null, 2)}\n`);
    const spectral = path.join(root, "node_modules", ".bin", "spectral");
    const all = process.argv.includes("--all");
    const args = ["lint", file, "--ruleset", path.join(root, ".spectral.yaml"), "--fail-severity", "error", ...(all ? [] : ["--display-only-failures"])];
    const run = spawnSync(spectral, args, { stdio: "inherit" });
    if (run.error) throw run.error;
    process.exitCode = run.status ?? 1;
    if (run.status === 0 && !all) console.log("lint:openapi: no errors in the OpenAPI document (npm run lint:openapi -- --all lists the warnings)");
} finally {
    rmSync(dir, { recursive: true, force: true });
}
