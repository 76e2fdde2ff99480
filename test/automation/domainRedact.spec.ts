import { strict as assert } from "node:assert";
import { isSecretKey, redact, REDACTED } from "../../automation/domain/redact";

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
