// Sign-in with OpenID Connect: the authorization-code flow with PKCE (RFC 7636) for a public
// client, as Entra ID expects of a single-page application. The verifier and state live in
// session storage only for the round trip; the code is removed from the address bar at once.

const FLOW_KEY = "kvp.oidc.flow";

function base64url(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

async function discover(issuer) {
    const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
    if (!res.ok) throw new Error(`the identity provider's discovery document answered ${res.status}`);
    return res.json();
}

const redirectUri = () => `${location.origin}/`;

export async function startSignIn(oidc) {
    const meta = await discover(oidc.issuer);
    const verifier = randomString();
    const state = randomString();
    const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
    sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state }));
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({
        response_type: "code", client_id: oidc.clientId, redirect_uri: redirectUri(), scope: oidc.scopes,
        state, code_challenge: challenge, code_challenge_method: "S256",
    }).toString();
    location.assign(url.toString());
}

/** On return from the issuer: exchanges the code for an access token. Undefined when this is no callback. */
export async function completeSignIn(oidc) {
    const params = new URLSearchParams(location.search);
    if (!params.has("code") && !params.has("error")) return undefined;
    // Drop the code from the address bar and history before anything else.
    history.replaceState(null, "", `${location.pathname}${location.hash}`);
    const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || "null");
    sessionStorage.removeItem(FLOW_KEY);
    if (params.has("error")) throw new Error(`the identity provider refused the sign-in: ${params.get("error_description") || params.get("error")}`);
    if (!flow || params.get("state") !== flow.state) throw new Error("the sign-in answer does not match the sign-in this tab started; sign in again");
    const meta = await discover(oidc.issuer);
    const res = await fetch(meta.token_endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
            grant_type: "authorization_code", client_id: oidc.clientId, code: params.get("code"),
            redirect_uri: redirectUri(), code_verifier: flow.verifier,
        }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || typeof body.access_token !== "string") throw new Error(`the token exchange failed: ${body.error_description || body.error || res.status}`);
    return body.access_token;
}
