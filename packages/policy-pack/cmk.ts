/**
 * Which keys are customer-managed keys (CMKs). A key is one when it may wrap keys
 * (keyOps wrapKey/unwrapKey), and also when another resource in the stack points
 * at it as its encryption key, whatever keyOps says: Cosmos DB's keyVaultKeyUri,
 * a storage account's keyVaultProperties, a classic keyVaultKeyId, or any key URI.
 */
import type { PackConfig } from "./config";
import { asArray, Props, sameText, StackResource, StackViolation, stackPolicy, TYPES, vaultNameOf, vaultOf } from "./helpers";

/** A key is a CMK when it may wrap other keys. Inputs carry keyOps under `properties`; outputs at the top level too. */
export function isCmkKey(props: Props): boolean {
    const ops = asArray<unknown>(props.properties?.keyOps ?? props.keyOps);
    return ops.some((op) => sameText(op, "wrapKey") || sameText(op, "unwrapKey"));
}

/** `https://<vault>.vault.azure.net/keys/<name>[/<version>]`, in any Azure cloud. */
const KEY_URI = /^https:\/\/([a-z0-9-]+)\.vault\.[a-z0-9.-]+\/keys\/([a-z0-9-]+)/i;
/** Properties through which a resource names its encryption key while the key's URI is still unknown (preview). */
const CMK_PROPERTIES = ["keyVaultKeyUri", "keyVaultKeyId", "encryption", "keyVaultProperties", "customerManagedKey", "keyUrl", "keySource"];

/** Every (vault, key) pair a resource's props point at, lower-cased. */
function referencedKeys(props: unknown, out: Set<string>, depth = 0): void {
    if (depth > 8 || props === null || props === undefined) return;
    if (typeof props === "string") {
        const m = KEY_URI.exec(props);
        if (m) out.add(`${m[1]}/${m[2]}`.toLowerCase());
        return;
    }
    if (Array.isArray(props)) {
        for (const v of props) referencedKeys(v, out, depth + 1);
        return;
    }
    if (typeof props !== "object") return;
    const o = props as Props;
    // Storage (azure-native): keyVaultProperties { keyVaultUri: https://<vault>.vault.azure.net, keyName }.
    const host = typeof o.keyVaultUri === "string" ? /^https:\/\/([a-z0-9-]+)\.vault\./i.exec(o.keyVaultUri)?.[1] : undefined;
    // Classic customer-managed-key resources: keyVaultId + keyName.
    const vault = host ?? (typeof o.keyVaultId === "string" ? /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)/i.exec(o.keyVaultId)?.[1] : undefined);
    if (vault && typeof o.keyName === "string") out.add(`${vault}/${o.keyName}`.toLowerCase());
    for (const v of Object.values(o)) referencedKeys(v, out, depth + 1);
}

function keyIdentity(key: StackResource, vaults: StackResource[]): string | undefined {
    const uri = key.props.keyUri ?? key.props.properties?.keyUri;
    const m = typeof uri === "string" ? KEY_URI.exec(uri) : null;
    if (m) return `${m[1]}/${m[2]}`.toLowerCase();
    const vault = vaultOf(key, vaults);
    const vaultName = (vault ? vaultNameOf(vault) : undefined) ?? key.props.vaultName;
    const keyName = key.props.keyName;
    return typeof vaultName === "string" && typeof keyName === "string" ? `${vaultName}/${keyName}`.toLowerCase() : undefined;
}

/** Every CMK in the stack, with how it was recognised. */
export function cmkKeysOf(resources: StackResource[]): Array<{ key: StackResource; why: string }> {
    const vaults = resources.filter((r) => r.type === TYPES.vault);
    const keys = resources.filter((r) => r.type === TYPES.key);
    const users = new Map<string, string[]>();
    const byDependency = new Map<string, string[]>();
    for (const r of resources) {
        if (r.type === TYPES.key || r.type === TYPES.vault) continue;
        const refs = new Set<string>();
        referencedKeys(r.props, refs);
        for (const ref of refs) users.set(ref, [...(users.get(ref) ?? []), r.name]);
        for (const prop of CMK_PROPERTIES) {
            for (const dep of r.propertyDependencies?.[prop] ?? []) {
                if (dep.type === TYPES.key) byDependency.set(dep.urn, [...(byDependency.get(dep.urn) ?? []), r.name]);
            }
        }
    }
    return keys.flatMap((key) => {
        if (isCmkKey(key.props)) return [{ key, why: "wrapKey/unwrapKey in keyOps" }];
        const id = keyIdentity(key, vaults);
        const by = [...(id ? users.get(id) ?? [] : []), ...(byDependency.get(key.urn) ?? [])];
        return by.length > 0 ? [{ key, why: `used as the encryption key of ${[...new Set(by)].join(", ")}` }] : [];
    });
}

const RSA_TYPES = ["RSA", "RSA-HSM"];

/**
 * A CMK is RSA (Cosmos DB, Storage and SQL unwrap with RSA-OAEP only) and never
 * exportable: an exportable key (with a release policy) can leave the HSM, and with it
 * every byte it protects.
 */
export function checkCmkKeyRsaNonExportable(resources: StackResource[], config: Pick<PackConfig, "minimumRsaKeySize">): StackViolation[] {
    return cmkKeysOf(resources).flatMap(({ key, why }): StackViolation[] => {
        const p: Props = key.props.properties ?? {};
        const kty = p.kty ?? key.props.kty;
        const attributes = p.attributes ?? key.props.attributes ?? {};
        const problems: string[] = [];
        if (!RSA_TYPES.some((t) => sameText(kty, t))) problems.push(`its kty is ${JSON.stringify(kty)}; a CMK must be RSA or RSA-HSM`);
        // kv-cmk-key-min-size checks keys that declare wrapKey/unwrapKey; this covers the ones recognised by use.
        const size = p.keySize ?? key.props.keySize;
        if (!isCmkKey(key.props) && RSA_TYPES.some((t) => sameText(kty, t)) && !(typeof size === "number" && size >= config.minimumRsaKeySize)) {
            problems.push(`its keySize is ${JSON.stringify(size)}; a CMK needs at least ${config.minimumRsaKeySize} bits`);
        }
        if (attributes.exportable === true) problems.push("properties.attributes.exportable is true");
        if (p.releasePolicy ?? p.release_policy ?? key.props.releasePolicy) problems.push("it has a release policy, so it can be exported");
        return problems.length === 0 ? [] : [{ urn: key.urn, message: `customer-managed key ${key.name} (${why}): ${problems.join("; ")}` }];
    });
}

export const cmkPolicies = [
    stackPolicy({
        name: "kv-cmk-key-rsa-non-exportable",
        description: "Customer-managed keys (by keyOps, or by being another resource's encryption key) are RSA or RSA-HSM, not exportable, and of the minimum RSA size.",
        enforcementLevel: "mandatory",
        mirrors: "cmkKeyType",
        remediation: "set properties.kty: RSA-HSM (or RSA), drop properties.attributes.exportable and properties.releasePolicy on the key any resource encrypts with",
        configKeys: ["minimumRsaKeySize"],
        check: checkCmkKeyRsaNonExportable,
    }),
];
