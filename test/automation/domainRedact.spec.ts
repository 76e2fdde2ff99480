import { strict as assert } from "node:assert";
import fc from "fast-check";
import { isSecretKey, keyWords, redact, REDACTED } from "../../automation/domain/redact";

describe("output redaction", () => {
    const secret = ["password", "adminPassword", "clientSecret", "secretValue", "primaryKey", "apiKey", "accessKeys", "sasToken", "token",
        "connectionString", "primaryConnectionString", "storage_connection_string", "privateKey", "credentials", "db_pwd", "passphrase"];
    const plain = ["vaultUri", "vaultName", "keyUri", "keyId", "keyVaultName", "resourceGroupName", "keySize", "monkey", "location"];
    for (const key of secret) it(`treats ${key} as secret`, () => assert.equal(isSecretKey(key), true));
    for (const key of plain) it(`leaves ${key} visible`, () => assert.equal(isSecretKey(key), false));

    it("redacts nested values, arrays and Pulumi secret envelopes, and leaves the input untouched", () => {
        const input = {
            vaultUri: "https://kv.vault.azure.net/",
            diagnostics: { storage: { accountName: "st1", connectionString: "AccountKey=abc" } },
            replicas: [{ name: "r1", primaryKey: "k1" }],
            wrapped: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "plaintext" },
        };
        const copy = structuredClone(input);
        assert.deepEqual(redact(input), {
            vaultUri: "https://kv.vault.azure.net/",
            diagnostics: { storage: { accountName: "st1", connectionString: REDACTED } },
            replicas: [{ name: "r1", primaryKey: REDACTED }],
            wrapped: REDACTED,
        });
        assert.deepEqual(input, copy);
        assert.ok(!JSON.stringify(redact(input)).includes("plaintext"));
    });

    it("splits keys into words as the plain regular-expression reading would, for any key", () => {
        // The reading the scanner replaced, kept here as the oracle: split camelCase, then at anything but a-z0-9.
        const byRegex = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
        const chars = fc.constantFrom(..."aAbBkKeEyYpPsStT019_-. $/\u212A\u0130\u00E9\u00C9".split(""));
        fc.assert(fc.property(fc.string({ unit: chars, maxLength: 24 }), (key) => {
            assert.deepEqual(keyWords(key), byRegex(key), `key ${JSON.stringify(key)}`);
        }), { numRuns: 2000 });
        for (const key of ["primaryKey", "APIKey", "keyVaultUri", "db2Password", "sas_token", "SASToken", "tlsCert", "vaultURL", "ABCdefGHI", "api\u212Aey", "\u212Aey", "pass\u0130d"]) {
            assert.deepEqual(keyWords(key), byRegex(key), key);
        }
        assert.ok(isSecretKey("\u212Aey"), "a Kelvin-sign K still spells key");
    });

    it("keeps an own __proto__ key as a key, redacted like any other, without touching the copy's prototype", () => {
        const parsed = JSON.parse('{"__proto__": {"password": "hunter2", "polluted": true}, "vaultName": "kv"}') as Record<string, unknown>;
        const out = redact(parsed) as Record<string, unknown>;
        assert.equal(Object.getPrototypeOf(out), Object.prototype);
        assert.equal((out as { polluted?: unknown }).polluted, undefined);
        assert.equal(JSON.stringify(out), '{"__proto__":{"password":"[secret]","polluted":true},"vaultName":"kv"}');
    });
});

