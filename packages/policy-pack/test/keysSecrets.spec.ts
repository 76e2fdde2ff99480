import { describePolicy, withPath } from "./cases";
import { cmkKeyProps, secretProps } from "./fixtures";

const KEY = "azure-native:keyvault:Key";
const SECRET = "azure-native:keyvault:Secret";
const cmk = cmkKeyProps();
const signingKey = withPath(withPath(cmk, "properties.keyOps", ["sign", "verify"]), "properties.keySize", 2048);

describePolicy("kv-key-expiry", [
    { it: "passes a key with an expiry", type: KEY, props: cmk, violations: 0 },
    { it: "fails a key without an expiry", type: KEY, props: withPath(cmk, "properties.attributes.expires", undefined), violations: 1, mentions: "attributes.expires is undefined" },
    { it: "fails a key whose expiry is not Unix seconds", type: KEY, props: withPath(cmk, "properties.attributes.expires", "2030-01-01"), violations: 1 },
]);

describePolicy("kv-key-rotation-policy", [
    { it: "passes a key that rotates after creation", type: KEY, props: cmk, violations: 0 },
    {
        it: "passes a Rotate action triggered before expiry, in any case", type: KEY, violations: 0,
        props: withPath(cmk, "properties.rotationPolicy.lifetimeActions", [{ action: { type: "Rotate" }, trigger: { timeBeforeExpiry: "P30D" } }]),
    },
    { it: "fails a key without a rotation policy", type: KEY, props: withPath(cmk, "properties.rotationPolicy", undefined), violations: 1, mentions: "rotationPolicy is not set" },
    {
        it: "fails a rotation policy that only notifies", type: KEY, violations: 1, mentions: "no lifetime action of type Rotate",
        props: withPath(cmk, "properties.rotationPolicy.lifetimeActions", [{ action: { type: "notify" }, trigger: { timeBeforeExpiry: "P30D" } }]),
    },
    {
        it: "fails a Rotate action with no trigger", type: KEY, violations: 1, mentions: "no trigger",
        props: withPath(cmk, "properties.rotationPolicy.lifetimeActions", [{ action: { type: "rotate" } }]),
    },
]);

describePolicy("kv-cmk-key-min-size", [
    { it: "passes a 3072-bit CMK", type: KEY, props: cmk, violations: 0 },
    { it: "fails a 1024-bit CMK", type: KEY, props: withPath(cmk, "properties.keySize", 1024), violations: 1, mentions: "RSA 1024 bits; the minimum is 2048" },
    { it: "fails a CMK that leaves the size to the service", type: KEY, props: withPath(cmk, "properties.keySize", undefined), violations: 1, mentions: "no properties.keySize" },
    { it: "applies to RSA-HSM CMKs too", type: KEY, props: withPath(withPath(cmk, "properties.kty", "RSA-HSM"), "properties.keySize", 1024), violations: 1 },
    { it: "raises the bar to a configured minimum", type: KEY, props: withPath(cmk, "properties.keySize", 2048), config: { minimumRsaKeySize: 3072 }, violations: 1, mentions: "the minimum is 3072" },
    { it: "ignores keys that do not wrap keys", type: KEY, props: withPath(signingKey, "properties.keySize", 1024), violations: 0 },
]);

describePolicy("kv-cmk-key-recommended-size", [
    { it: "passes a 3072-bit CMK", type: KEY, props: cmk, violations: 0 },
    { it: "advises against a 2048-bit CMK", type: KEY, props: withPath(cmk, "properties.keySize", 2048), violations: 1, mentions: "the recommended size is 3072" },
    { it: "ignores a 2048-bit signing key", type: KEY, props: signingKey, violations: 0 },
]);

const secret = secretProps();

describePolicy("kv-secret-expiry", [
    { it: "passes a secret with an expiry", type: SECRET, props: secret, violations: 0 },
    { it: "fails a secret without an expiry", type: SECRET, props: withPath(secret, "properties.attributes", undefined), violations: 1, mentions: "attributes.expires is undefined" },
]);

describePolicy("kv-secret-content-type", [
    { it: "passes a secret with a content type", type: SECRET, props: secret, violations: 0 },
    { it: "fails a secret without a content type", type: SECRET, props: withPath(secret, "properties.contentType", undefined), violations: 1, mentions: "contentType is undefined" },
    { it: "fails a blank content type", type: SECRET, props: withPath(secret, "properties.contentType", "  "), violations: 1 },
]);
