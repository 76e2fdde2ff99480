import { strict as assert } from "node:assert";
import fc from "fast-check";
import {
    ALPHABET, DIGITS, FORBIDDEN_CHARACTERS, generatePassword, loginNameProblem, LOWER, passwordProblem, SYMBOLS, UPPER,
} from "../src/password";

describe("rotation password generator", () => {
    it("never uses a character that breaks a connection string, URL or shell word", () => {
        for (const c of FORBIDDEN_CHARACTERS) assert.ok(!ALPHABET.includes(c), `alphabet contains forbidden ${JSON.stringify(c)}`);
    });

    it("meets every rule for any allowed length and login name", () => {
        fc.assert(fc.property(
            fc.integer({ min: 8, max: 128 }),
            fc.option(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,20}$/), { nil: undefined }),
            (length, loginName) => {
                const password = generatePassword({ length, loginName });
                assert.equal(passwordProblem(password, { length, loginName }), undefined);
                for (const c of FORBIDDEN_CHARACTERS) assert.ok(!password.includes(c));
                assert.equal(encodeURIComponent(password), password, "needs no URI escaping");
            },
        ), { numRuns: 300 });
    });

    it("includes all four character categories and starts with a letter", () => {
        for (let i = 0; i < 200; i++) {
            const p = generatePassword({ length: 8 });
            for (const set of [UPPER, LOWER, DIGITS, SYMBOLS]) assert.ok([...p].some((c) => set.includes(c)));
            assert.match(p, /^[A-Za-z]/);
        }
    });

    it("draws different passwords each time (CSPRNG, no fixed seed)", () => {
        const seen = new Set(Array.from({ length: 500 }, () => generatePassword({ length: 16 })));
        assert.equal(seen.size, 500);
    });

    it("refuses lengths outside Azure SQL's 8 to 128 characters", () => {
        for (const length of [0, 7, 129, 12.5]) assert.throws(() => generatePassword({ length }), /from 8 to 128/);
    });

    describe("finds the login name inside a password the way Azure SQL does", () => {
        const cases: Array<[string, string, string | undefined]> = [
            ["Xsqladmin-1a", "sqladmin", "contains \"sql\" from the login name"],
            ["XyzADM1n-q", "sqladmin", "contains \"adm\" from the login name"],
            ["Q1-q_Z9~aa", "sqladmin", undefined],
            ["Abc-def-1", "ab", undefined],
            ["Zz-9_joe_x", "ann_joe", "contains \"joe\" from the login name"],
        ];
        for (const [password, login, expected] of cases) {
            it(`${password} with login ${login}: ${expected ?? "allowed"}`, () => {
                assert.equal(loginNameProblem(password, login), expected);
            });
        }
    });

    describe("names the rule a bad password breaks", () => {
        const cases: Array<[string, string, RegExp]> = [
            ["wrong length", "Aa1-", /has length 4, expected 8/],
            ["a forbidden character", "Aa1-aaa;", /outside the allowed alphabet \(code 59\)/],
            ["no symbol", "Aa1aaaaa", /lacks one of the four categories/],
            ["a leading digit", "1Aa-aaaa", /does not start with a letter/],
        ];
        for (const [what, password, re] of cases) {
            it(what, () => assert.match(passwordProblem(password, { length: 8 }) ?? "", re));
        }
    });
});
