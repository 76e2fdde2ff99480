import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { TIERS } from "../config/schema";
import { ownershipTags, reservedTagProblem } from "@keyvault-platform/conventions";
import {
    actionGroupShortName, cosmosAccountName, functionAppName, logAnalyticsWorkspaceName, NAME_RULES, NameKind, nameProblem,
    nameWithSuffix, platformTags, resourceGroupName, storageAccountName, userAssignedIdentityName, validateName, validateVaultName,
    vaultName, webAppName,
} from "../components/helpers/naming";

/** Resolves an Output without the mock harness: these are pure functions. */
const resolve = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((r) => o.apply((v) => { r(v); return v; }));

describe("naming: validators", () => {
    const cases: Array<[NameKind, string, RegExp | undefined]> = [
        ["keyVault", "kv-kvp-dev-abc123", undefined],
        ["keyVault", "abc", undefined],
        ["keyVault", "A-b-1", undefined],
        ["keyVault", "a".repeat(24), undefined],
        ["keyVault", "ab", /must be 3-24 characters \(it has 2\)/],
        ["keyVault", "a".repeat(25), /must be 3-24 characters \(it has 25\)/],
        ["keyVault", "1vault", /must start with a letter/],
        ["keyVault", "-vault", /must start with a letter/],
        ["keyVault", "vault-", /must end with a letter or digit/],
        ["keyVault", "kv--dev", /consecutive hyphens/],
        ["keyVault", "kv_dev", /only letters, digits and hyphens/],
        ["keyVault", "kv.dev", /only letters, digits and hyphens/],
        ["resourceGroup", "rg-kvp-dev-abc123", undefined],
        ["resourceGroup", "r", undefined],
        ["resourceGroup", "My_RG.(prod)", undefined],
        ["resourceGroup", "a".repeat(90), undefined],
        ["resourceGroup", "", /must be 1-90 characters/],
        ["resourceGroup", "a".repeat(91), /must be 1-90 characters/],
        ["resourceGroup", "rg.", /must not end with a period/],
        ["resourceGroup", "rg/x", /only letters, digits, underscores, periods, parentheses and hyphens/],
        ["resourceGroup", "rg x", /only letters/],
        ["cosmosAccount", "cosmos-kvp-dev-abc123", undefined],
        ["cosmosAccount", "a".repeat(44), undefined],
        ["cosmosAccount", "a".repeat(45), /must be 3-44 characters/],
        ["cosmosAccount", "Cosmos-dev", /only lowercase letters, digits and hyphens/],
        ["cosmosAccount", "-cosmos", /must start with a letter or digit/],
        ["cosmosAccount", "cosmos-", /must end with a letter or digit/],
        ["cosmosAccount", "db", /must be 3-44 characters/],
        ["storageAccount", "stkvpdevabc123", undefined],
        ["storageAccount", "abc", undefined],
        ["storageAccount", "st-kvp", /only lowercase letters and digits \(no hyphens\)/],
        ["storageAccount", "StKvp", /only lowercase letters and digits/],
        ["storageAccount", "a".repeat(25), /must be 3-24 characters/],
        ["storageAccount", "ab", /must be 3-24 characters/],
        ["site", "func-kvp-dev-abc123", undefined],
        ["site", "ab", undefined],
        ["site", "a", /must be 2-60 characters/],
        ["site", "a".repeat(61), /must be 2-60 characters/],
        ["site", "-app", /must start with a letter or digit/],
        ["site", "app-", /must end with a letter or digit/],
        ["site", "app_1", /only letters, digits and hyphens/],
        ["logAnalyticsWorkspace", "log-kvp-dev-abc123", undefined],
        ["logAnalyticsWorkspace", "abc", /must be 4-63 characters/],
        ["logAnalyticsWorkspace", "a".repeat(64), /must be 4-63 characters/],
        ["logAnalyticsWorkspace", "log-", /must end with a letter or digit/],
        ["logAnalyticsWorkspace", "-log", /must start with a letter or digit/],
        ["userAssignedIdentity", "id-kvp-dev-cosmos_cmk", undefined],
        ["userAssignedIdentity", "a".repeat(128), undefined],
        ["userAssignedIdentity", "a".repeat(129), /must be 3-128 characters/],
        ["userAssignedIdentity", "_id", /must start with a letter or digit/],
        ["userAssignedIdentity", "id.x", /only letters, digits, hyphens and underscores/],
        ["actionGroupShortName", "kvp-prod", undefined],
        ["actionGroupShortName", "a".repeat(12), undefined],
        ["actionGroupShortName", "a".repeat(13), /must be 1-12 characters/],
        ["actionGroupShortName", "", /must be 1-12 characters/],
        ["actionGroupShortName", " ops", /whitespace/],
    ];
    for (const [kind, name, expected] of cases) {
        it(`${expected ? "rejects" : "accepts"} ${kind} name '${name.length > 30 ? `${name.slice(0, 8)}…(${name.length})` : name}'`, () => {
            const problem = nameProblem(kind, name);
            if (expected) {
                assert.match(problem ?? "", expected);
                assert.ok(problem?.startsWith(NAME_RULES[kind].label), "the message names what the name is for");
                assert.throws(() => validateName(kind, name), (e: Error) => e instanceof pulumi.RunError && expected.test(e.message));
            } else {
                assert.equal(problem, undefined);
                assert.equal(validateName(kind, name), name);
            }
        });
    }

    it("validateVaultName throws a RunError naming the exact rule", () => {
        assert.throws(() => validateVaultName("kv--x"), (e: Error) => e instanceof pulumi.RunError && /Key Vault name 'kv--x' must not contain consecutive hyphens/.test(e.message));
    });
});

describe("naming: builders", () => {
    const builders = [
        { fn: vaultName, kind: "keyVault", abbr: "kv-" },
        { fn: resourceGroupName, kind: "resourceGroup", abbr: "rg-" },
        { fn: cosmosAccountName, kind: "cosmosAccount", abbr: "cosmos-" },
        { fn: storageAccountName, kind: "storageAccount", abbr: "st" },
        { fn: functionAppName, kind: "site", abbr: "func-" },
        { fn: webAppName, kind: "site", abbr: "app-" },
        { fn: logAnalyticsWorkspaceName, kind: "logAnalyticsWorkspace", abbr: "log-" },
    ] as const;
    const inputs: Array<[string, string, string]> = [
        ["kvp", "dev", "abc123"],
        ["kvp", "staging", "x9y8z7"],
        ["contoso1", "staging", "abc123"],
        ["contoso1", "prod", "0a1b2c"],
        ["a-b-c-d-e", "staging", "zz9zz9"],
        ["z9", "prod", "aaaaa"],
    ];
    for (const b of builders) {
        for (const [prefix, env, suffix] of inputs) {
            it(`${b.fn.name}(${prefix}, ${env}, ${suffix}) yields a valid ${b.kind} name that keeps the whole suffix`, () => {
                const name = b.fn(prefix, env, suffix);
                assert.equal(nameProblem(b.kind, name), undefined);
                assert.ok(name.startsWith(b.abbr), `${name} starts with ${b.abbr}`);
                assert.ok(name.endsWith(suffix), `${name} ends with the suffix ${suffix}`);
                assert.ok(name.length <= NAME_RULES[b.kind].max);
                assert.ok(!name.includes("--"));
                assert.equal(b.fn(prefix, env, suffix), name, "the same input always gives the same name");
            });
        }
    }

    it("builds the conventional vault name when it fits", () => {
        assert.equal(vaultName("kvp", "dev", "abc123"), "kv-kvp-dev-abc123");
        assert.equal(storageAccountName("kvp", "prod", "abc123"), "stkvpprodabc123");
        assert.equal(resourceGroupName("kvp", "staging", "abc123"), "rg-kvp-staging-abc123");
    });

    it("shortens an over-long vault name by cutting the longest middle part first, to exactly 24 characters", () => {
        // kv-contoso1-staging-abc123 is 26: the prefix (8) is longest, then prefix (7) ties with staging (7) and the first wins.
        assert.equal(vaultName("contoso1", "staging", "abc123"), "kv-contos-staging-abc123");
    });

    it("cuts the first word of a hyphenated part and keeps its qualifier whole", () => {
        // kv-abcdef-g-staging-abc123 is 26: "abcdef-g" (8) loses a letter of "abcdef", then ties with staging (7) and loses another.
        assert.equal(vaultName("abcdef-g", "staging", "abc123"), "kv-abcd-g-staging-abc123");
    });

    it("never gives a qualified vault (the CMK vault's <prefix>-cmk) the same name as the plain one", () => {
        // Cutting from the end would turn both of these into kv-contos-staging-abc123.
        assert.notEqual(vaultName("contoso-cmk", "staging", "abc123"), vaultName("contoso", "staging", "abc123"));
        fc.assert(fc.property(
            fc.stringMatching(/^[a-z][a-z0-9]{1,7}$/), fc.constantFrom(...TIERS), fc.stringMatching(/^[a-z0-9]{6}$/),
            (prefix, env, suffix) => {
                const plain = vaultName(prefix, env, suffix);
                const cmk = vaultName(`${prefix}-cmk`, env, suffix);
                return plain !== cmk && nameProblem("keyVault", plain) === undefined && nameProblem("keyVault", cmk) === undefined && cmk.includes("-cmk-");
            },
        ), { numRuns: 500 });
    });

    it("keeps every builder's names valid for any schema-valid prefix and any environment", () => {
        fc.assert(fc.property(
            fc.stringMatching(/^[a-z][a-z0-9]{1,7}$/), fc.constantFrom(...TIERS), fc.stringMatching(/^[a-z0-9]{5,6}$/),
            (prefix, env, suffix) => builders.every((b) => {
                const name = b.fn(prefix, env, suffix);
                return nameProblem(b.kind, name) === undefined && name.endsWith(suffix);
            }),
        ), { numRuns: 300 });
    });

    it("drops hyphens from parts in storage names, which cannot hold any", () => {
        assert.equal(storageAccountName("a-b", "dev", "abc12"), "stabdevabc12");
    });

    it("keeps the identity purpose whole and the action group short name within 12 characters", () => {
        assert.equal(userAssignedIdentityName("kvp", "prod", "cosmos-cmk"), "id-kvp-prod-cosmos-cmk");
        assert.equal(actionGroupShortName("kvp", "prod"), "kvp-prod");
        const short = actionGroupShortName("contoso1", "staging");
        assert.ok(short.length <= 12, short);
        assert.equal(nameProblem("actionGroupShortName", short), undefined);
        assert.ok(!short.endsWith("-"));
    });

    const badParts: Array<[string, () => string, RegExp]> = [
        ["an uppercase prefix", () => vaultName("KVP", "dev", "abc12"), /vaultName: prefix 'KVP' must be lowercase/],
        ["an environment with a space", () => cosmosAccountName("kvp", "de v", "abc12"), /cosmosAccountName: environment 'de v'/],
        ["a suffix with an underscore", () => storageAccountName("kvp", "dev", "ab_12"), /suffix 'ab_12'/],
        ["an empty suffix", () => vaultName("kvp", "dev", ""), /suffix ''/],
        ["a prefix with a leading hyphen", () => resourceGroupName("-kvp", "dev", "abc12"), /prefix '-kvp'/],
        ["a double hyphen inside a part", () => vaultName("a--b", "dev", "abc12"), /prefix 'a--b'/],
        ["a suffix too long to fit even after cutting", () => vaultName("kvp", "dev", "a".repeat(20)), /cannot fit/],
        ["a purpose too long for an identity", () => userAssignedIdentityName("kvp", "dev", "p".repeat(130)), /cannot fit/],
    ];
    for (const [what, call, expected] of badParts) {
        it(`refuses ${what} with a RunError naming the field`, () => {
            assert.throws(call, (e: Error) => e instanceof pulumi.RunError && expected.test(e.message));
        });
    }
});

describe("naming: deploy-time suffix", () => {
    it("builds and validates the name once the suffix Output resolves", async () => {
        assert.equal(await resolve(nameWithSuffix(vaultName, "kvp", "dev", pulumi.output("abc123"))), "kv-kvp-dev-abc123");
    });

    it("refuses a bad prefix before the suffix is known", () => {
        assert.throws(() => nameWithSuffix(vaultName, "Bad", "dev", pulumi.output("abc123")), (e: Error) => e instanceof pulumi.RunError && /vaultName: prefix 'Bad'/.test(e.message));
    });
});

describe("naming: tags", () => {
    const owner = ownershipTags({ team: "payments", environmentName: "payments-dev", tier: "dev", managedBy: "keyvault-platform-server" });

    it("passes the platform's tags through unchanged", () => {
        assert.deepEqual(platformTags("X", { CostCenter: "42", ...owner }), { CostCenter: "42", Team: "payments", Environment: "payments-dev", Tier: "dev", ManagedBy: "keyvault-platform-server" });
    });

    const bad: Array<[Record<string, string>, RegExp]> = [
        [{}, /tags: Team, Environment, Tier, ManagedBy missing/],
        [{ ...owner, Team: "" }, /tags: Team missing/],
        [{ ...owner, "a/b": "x" }, /tags\.a\/b: tag names cannot contain/],
        [{ ...owner, azureThing: "x" }, /reserved by Azure/],
        [{ ...owner, Long: "v".repeat(257) }, /at most 256/],
    ];
    for (const [tags, expected] of bad) {
        it(`refuses tags ${JSON.stringify(tags).slice(0, 40)}`, () => {
            assert.throws(() => platformTags("ResourceGroup 'core'", tags), (e: Error) => e instanceof pulumi.RunError && expected.test(e.message) && e.message.startsWith("ResourceGroup 'core'"));
        });
    }

    it("refuses, in the stack config, an extra tag that would shadow an ownership tag in any case", () => {
        for (const key of ["Team", "environment", "TIER", "managedby"]) assert.match(reservedTagProblem(key) ?? "", /set by the platform/, key);
        assert.equal(reservedTagProblem("CostCenter"), undefined);
    });
});
