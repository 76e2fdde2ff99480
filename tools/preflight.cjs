"use strict";
// Runs before `npm start`, `npm test` and the other entry points, on whatever node npm found
// first on PATH. `npm ci` puts a pinned Node 22 in node_modules/.bin (the optional
// node-<platform> dependencies), and npm scripts put that directory first, so this passes on
// a machine whose system node is older. When it cannot pass, it says what to do in one line
// instead of letting the first Node 22 API (node:sqlite) fail deep inside a stack trace.
// Plain CommonJS with no dependencies, so it runs on any node old enough to run npm.
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const REQUIRED_MAJOR = 22;

function fail(message) {
    process.stderr.write(`keyvault-platform: ${message}\n`);
    process.exit(1);
}

if (!fs.existsSync(path.join(root, "node_modules", "tsx"))) {
    fail("dependencies are not installed: run `npm ci` in this directory first.");
}

const major = Number(process.versions.node.split(".")[0]);
if (major < REQUIRED_MAJOR) {
    const bundled = path.join(root, "node_modules", ".bin", process.platform === "win32" ? "node.cmd" : "node");
    fail(fs.existsSync(bundled)
        ? `Node ${REQUIRED_MAJOR} or later is needed, but this is ${process.version} (${process.execPath}): run this through npm (\`npm start\`, \`npm test\`), which puts node_modules/.bin first on PATH.`
        : `Node ${REQUIRED_MAJOR} or later is needed, but this is ${process.version} (${process.execPath}), and npm ci installs one only on Linux and macOS (x64, arm64): install Node ${REQUIRED_MAJOR} from https://nodejs.org and put it first on PATH.`);
}
