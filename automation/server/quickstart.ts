import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ensureDataDir } from "./settings";

/**
 * `npm run quickstart`: the server as a newcomer can try it, with no Azure account and no
 * Pulumi CLI. It fills in only what is unset (empty counts as unset, as in settings.ts):
 * the offline engine, which runs the real program under Pulumi's mocks with the policy pack
 * and provisions nothing; the example platform profile; a data directory of its own, so it
 * never mixes with a real server's store; and a demo admin token. The token is generated once
 * into that directory (mode 0600) and printed, so a second terminal can read it from the file
 * and the walkthrough (docs/walkthrough.md) still works after a restart. Then it is the real
 * server, automation/server/main.ts, with every other setting as documented.
 */

const DEFAULTS: Readonly<Record<string, string>> = {
    KVP_ENGINE: "offline",
    KVP_PLATFORM_FILE: "platform.example.yaml",
    KVP_DATA_DIR: ".data/quickstart",
};

function unset(name: string): boolean {
    return (process.env[name] ?? "") === "";
}

for (const [name, value] of Object.entries(DEFAULTS)) {
    if (unset(name)) process.env[name] = value;
}

const dataDir = path.resolve(process.env.KVP_DATA_DIR as string);
const tokenFile = path.join(dataDir, "admin-token");
const port = unset("PORT") ? "8080" : process.env.PORT;
// PORT=0 picks a free port, which only the "listening on" line below knows.
const api = port === "0" ? "http://127.0.0.1:<the port in the listening line below>" : `http://127.0.0.1:${port}`;
const lines = [`Quickstart: KVP_ENGINE=${process.env.KVP_ENGINE}${process.env.KVP_ENGINE === "offline" ? " (the real program under Pulumi mocks: provisions NOTHING in Azure)" : ""}, KVP_PLATFORM_FILE=${process.env.KVP_PLATFORM_FILE}, KVP_DATA_DIR=${process.env.KVP_DATA_DIR}.`];

if (unset("KVP_ADMIN_TOKEN")) {
    ensureDataDir(dataDir);
    if (!existsSync(tokenFile)) writeFileSync(tokenFile, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
    process.env.KVP_ADMIN_TOKEN = readFileSync(tokenFile, "utf8").trim();
    const relative = path.relative(process.cwd(), tokenFile);
    const shownFile = relative && !relative.startsWith("..") ? relative : tokenFile;
    lines.push(
        `Demo admin token, for this machine only (kept in ${shownFile}): ${process.env.KVP_ADMIN_TOKEN}`,
        "In a second terminal, follow docs/walkthrough.md, starting with:",
        `  export API=${api} TOKEN=$(cat ${shownFile})`,
    );
} else {
    lines.push("Using the KVP_ADMIN_TOKEN you set. In a second terminal, follow docs/walkthrough.md.");
}
process.stderr.write(`${lines.join("\n")}\n\n`);

// Loaded only now, after the defaults above are in process.env: main.ts reads its settings as it loads,
// and a static import would be hoisted above them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require("./main");
