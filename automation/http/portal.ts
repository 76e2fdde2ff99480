import { readFileSync } from "node:fs";
import * as path from "node:path";
import { build } from "esbuild";
import type { Express, RequestHandler } from "express";
import type { OidcSettings } from "../server/settings";

/**
 * The self-service portal: one HTML page, one script and one stylesheet, all served by this
 * server (no CDN). The script is portal/app.js bundled with Preact and htm by esbuild, in
 * memory on first request, so there is no build step and no file is written. The pages get
 * a Content-Security-Policy of their own: scripts and styles from this origin only, no
 * inline script, and network calls to this origin plus the OIDC issuer when one is set.
 */

export interface PortalOptions {
    /** With an issuer and a client id, the portal signs in with the authorization-code flow and PKCE. */
    oidc?: Pick<OidcSettings, "issuer" | "clientId" | "scopes">;
}

const PORTAL_DIR = path.resolve(__dirname, "..", "..", "portal");

/** What the browser needs to sign in; nothing here is secret (a public client has no secret). */
export function portalConfig(options: PortalOptions): Record<string, unknown> {
    const oidc = options.oidc;
    return oidc?.clientId ? { oidc: { issuer: oidc.issuer, clientId: oidc.clientId, scopes: oidc.scopes } } : {};
}

export function portalCsp(options: PortalOptions): string {
    const connect = ["'self'", ...(options.oidc?.clientId ? [new URL(options.oidc.issuer).origin] : [])];
    return [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", `connect-src ${connect.join(" ")}`,
        "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
    ].join("; ");
}

function bundle(): Promise<string> {
    return build({
        entryPoints: [path.join(PORTAL_DIR, "app.js")], bundle: true, write: false, format: "esm", minify: true,
        target: "es2022", legalComments: "none", logLevel: "silent",
    }).then((r) => r.outputFiles[0].text);
}

export function mountPortal(app: Express, options: PortalOptions): void {
    const csp = portalCsp(options);
    const config = JSON.stringify(portalConfig(options));
    const page = readFileSync(path.join(PORTAL_DIR, "index.html"), "utf8");
    const styles = readFileSync(path.join(PORTAL_DIR, "app.css"), "utf8");
    // Built once per process, on first use; a failed build is retried on the next request.
    let script: Promise<string> | undefined;
    const send = (type: string, body: () => Promise<string> | string): RequestHandler => async (_req, res) => {
        const text = await body();
        res.setHeader("Content-Security-Policy", csp);
        res.setHeader("Cache-Control", "no-cache");
        res.type(type).send(text);
    };
    app.get("/", send("html", () => page));
    app.get("/portal/app.css", send("css", () => styles));
    app.get("/portal/config.json", send("json", () => config));
    app.get("/portal/app.js", send("js", () => (script ??= bundle().catch((e: unknown) => { script = undefined; throw e; }))));
}
