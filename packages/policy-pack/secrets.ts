import { CheckContext, Props, resourcePolicy, TYPES } from "./helpers";

const DAY_SECONDS = 86_400;

/**
 * An expiry far in the future (2099) is no expiry at all: the secret never reaches
 * SecretNearExpiry, so it never rotates. The bound is measured from now, the only
 * instant the pack knows; a secret created long ago only gets closer to it.
 */
export function checkSecretMaxValidity(props: Props, ctx: CheckContext, nowSeconds = Math.floor(Date.now() / 1000)): string[] {
    const expires = props.properties?.attributes?.expires;
    if (typeof expires !== "number") return []; // kv-secret-expiry reports a missing expiry
    const days = Math.ceil((expires - nowSeconds) / DAY_SECONDS);
    const max = ctx.config.maxSecretValidityDays;
    return days <= max ? [] : [`properties.attributes.expires is ${new Date(expires * 1000).toISOString()}, ${days} days from now; the longest allowed is ${max} days`];
}

export function checkSecretExpiry(props: Props): string[] {
    const expires = props.properties?.attributes?.expires;
    return typeof expires === "number" && expires > 0 ? [] : [`properties.attributes.expires is ${JSON.stringify(expires)}; every secret needs an expiry (Unix seconds)`];
}

/** The content type tells a reader (and the rotation function) what kind of credential this is. */
export function checkSecretContentType(props: Props): string[] {
    const ct = props.properties?.contentType;
    return typeof ct === "string" && ct.trim().length > 0 ? [] : [`properties.contentType is ${JSON.stringify(ct)}; set it (e.g. text/plain, application/x-connection-string)`];
}

export const secretPolicies = [
    resourcePolicy({
        name: "kv-secret-expiry",
        description: "Key Vault secrets have an expiry date.",
        enforcementLevel: "mandatory",
        types: [TYPES.secret],
        mirrors: "secretExpiry",
        remediation: "set properties.attributes.expires (Unix seconds, now + ValidityPeriodDays) so SecretNearExpiry drives rotation",
        check: checkSecretExpiry,
    }),
    resourcePolicy({
        name: "kv-secret-max-validity",
        description: "Key Vault secrets expire within maxSecretValidityDays (730 days by default).",
        enforcementLevel: "mandatory",
        types: [TYPES.secret],
        mirrors: "secretMaxValidity",
        remediation: "set properties.attributes.expires to at most now + maxSecretValidityDays and let rotation renew the secret",
        configKeys: ["maxSecretValidityDays"],
        check: (props, ctx) => checkSecretMaxValidity(props, ctx),
    }),
    resourcePolicy({
        name: "kv-secret-content-type",
        description: "Key Vault secrets have a content type.",
        enforcementLevel: "mandatory",
        types: [TYPES.secret],
        mirrors: "secretContentType",
        remediation: "set properties.contentType to describe the value (password, connection string, PEM, ...)",
        check: checkSecretContentType,
    }),
];
