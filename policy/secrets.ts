import { Props, resourcePolicy, TYPES } from "./helpers";

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
        name: "kv-secret-content-type",
        description: "Key Vault secrets have a content type.",
        enforcementLevel: "mandatory",
        types: [TYPES.secret],
        mirrors: "secretContentType",
        remediation: "set properties.contentType to describe the value (password, connection string, PEM, ...)",
        check: checkSecretContentType,
    }),
];
