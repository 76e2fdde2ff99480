import { strict as assert } from "node:assert";
import { isSecretKey, redact, REDACTED, words } from "../../automation/domain/redact";

describe("output redaction", () => {
    const secret = ["password", "adminPassword", "clientSecret", "secretValue", "primaryKey", "apiKey", "accessKeys", "sasToken", "token",
        "connectionString", "primaryConnectionString", "storage_connection_string", "privateKey", "credentials", "db_pwd", "passphrase"];
    const plain = ["vaultUri", "vaultName", "keyUri", "keyId", "keyVaultName", "resourceGroupName", "keySize", "monkey", "location"];
    for (const key of secret) it(`treats ${key} as secret`, () => assert.equal(isSecretKey(key), true));
    for (const key of plain) it(`leaves ${key} visible`, () => assert.equal(isSecretKey(key), false));

    it("gives the same verdicts from its table of known keys, also after the table filled and started over", () => {
        // More distinct keys than the table holds, so every verdict below is computed again at least once.
        for (let i = 0; i < 5_000; i++) isSecretKey(`field${i}Name`);
        for (const key of secret) assert.equal(isSecretKey(key), true, key);
        for (const key of plain) assert.equal(isSecretKey(key), false, key);
        for (let i = 0; i < 5_000; i++) isSecretKey(`other${i}Secret`);
        for (const key of [...secret, ...secret]) assert.equal(isSecretKey(key), true, key);
        for (const key of [...plain, ...plain]) assert.equal(isSecretKey(key), false, key);
    });

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
});

describe("secret-key words", () => {
    /** The definition the one-pass splitter must keep: camelCase and non-alphanumerics split, then lowercase. */
    const reference = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);

    it("splits keys as the definition does, including runs of capitals, digits, separators and non-ASCII", () => {
        const keys = ["", "a", "vaultUri", "primaryKey", "APIKey", "apiKEY", "a1B", "aAbB", "connection_string", "--x--", "ABCDef", "sas9Token",
            "db.password", "İd", "\u212Aey", "clientSecretValue", "x-API-key", "keyVaultName", "Ke y", "ÅccessToken"];
        for (const key of keys) assert.deepEqual(words(key), reference(key), key);
        // And on random keys of ASCII letters, digits and separators.
        const alphabet = "aBzZ09_-. kK";
        let seed = 7;
        const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
        for (let n = 0; n < 2_000; n++) {
            const key = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join("");
            assert.deepEqual(words(key), reference(key), JSON.stringify(key));
        }
    });
});
