import * as pulumi from "@pulumi/pulumi";
import { TAG_KEYS } from "@keyvault-platform/conventions";
import { tagProblem } from "../../config/validators";

/**
 * Resource names and tags, as pure functions. Every builder validates its parts,
 * shortens deterministically when the result would be too long, and validates the
 * final name against Azure's rules, so a bad name fails at preview, not at ARM.
 */

/** One Azure naming rule: a test and the words that say what it requires. */
interface NameCheck {
    ok: (name: string) => boolean;
    rule: string;
}

export interface NameRule {
    /** What the name belongs to, as error messages say it. */
    label: string;
    min: number;
    max: number;
    checks: NameCheck[];
}

const startsAlnum: NameCheck = { ok: (n) => /^[A-Za-z0-9]/.test(n), rule: "must start with a letter or digit" };
const endsAlnum: NameCheck = { ok: (n) => /[A-Za-z0-9]$/.test(n), rule: "must end with a letter or digit" };

/** Azure's documented naming rules, one entry per resource kind the platform names. */
export const NAME_RULES = {
    keyVault: {
        label: "Key Vault name", min: 3, max: 24, checks: [
            { ok: (n) => /^[A-Za-z0-9-]+$/.test(n), rule: "may contain only letters, digits and hyphens" },
            { ok: (n) => /^[A-Za-z]/.test(n), rule: "must start with a letter" },
            endsAlnum,
            { ok: (n) => !n.includes("--"), rule: "must not contain consecutive hyphens (--)" },
        ],
    },
    resourceGroup: {
        label: "resource group name", min: 1, max: 90, checks: [
            { ok: (n) => /^[\p{L}\p{N}_.()-]+$/u.test(n), rule: "may contain only letters, digits, underscores, periods, parentheses and hyphens" },
            { ok: (n) => !n.endsWith("."), rule: "must not end with a period" },
        ],
    },
    cosmosAccount: {
        label: "Cosmos DB account name", min: 3, max: 44, checks: [
            { ok: (n) => /^[a-z0-9-]+$/.test(n), rule: "may contain only lowercase letters, digits and hyphens" },
            startsAlnum,
            endsAlnum,
        ],
    },
    storageAccount: {
        label: "storage account name", min: 3, max: 24, checks: [
            { ok: (n) => /^[a-z0-9]+$/.test(n), rule: "may contain only lowercase letters and digits (no hyphens)" },
        ],
    },
    site: {
        label: "function/web app name", min: 2, max: 60, checks: [
            { ok: (n) => /^[A-Za-z0-9-]+$/.test(n), rule: "may contain only letters, digits and hyphens" },
            startsAlnum,
            endsAlnum,
        ],
    },
    logAnalyticsWorkspace: {
        label: "Log Analytics workspace name", min: 4, max: 63, checks: [
            { ok: (n) => /^[A-Za-z0-9-]+$/.test(n), rule: "may contain only letters, digits and hyphens" },
            startsAlnum,
            endsAlnum,
        ],
    },
    userAssignedIdentity: {
        label: "user-assigned identity name", min: 3, max: 128, checks: [
            { ok: (n) => /^[A-Za-z0-9_-]+$/.test(n), rule: "may contain only letters, digits, hyphens and underscores" },
            startsAlnum,
        ],
    },
    actionGroupShortName: {
        // ARM only caps the length; the short name prefixes SMS and e-mail, so blanks are refused too.
        label: "action group short name", min: 1, max: 12, checks: [
            { ok: (n) => n.trim() === n, rule: "must not start or end with whitespace" },
        ],
    },
} satisfies Record<string, NameRule>;

export type NameKind = keyof typeof NAME_RULES;

/** The first Azure rule `name` breaks, worded for an error message, or undefined when it is valid. */
export function nameProblem(kind: NameKind, name: string): string | undefined {
    const rule: NameRule = NAME_RULES[kind];
    if (name.length < rule.min || name.length > rule.max) {
        return `${rule.label} '${name}' must be ${rule.min}-${rule.max} characters (it has ${name.length})`;
    }
    const broken = rule.checks.find((c) => !c.ok(name));
    return broken ? `${rule.label} '${name}' ${broken.rule}` : undefined;
}

/** Returns `name` when it satisfies Azure's rules for `kind`; otherwise throws a RunError naming the rule broken. */
export function validateName(kind: NameKind, name: string): string {
    const problem = nameProblem(kind, name);
    if (problem) throw new pulumi.RunError(`naming: ${problem}`);
    return name;
}

export const validateVaultName = (name: string): string => validateName("keyVault", name);
export const validateResourceGroupName = (name: string): string => validateName("resourceGroup", name);
export const validateCosmosAccountName = (name: string): string => validateName("cosmosAccount", name);
export const validateStorageAccountName = (name: string): string => validateName("storageAccount", name);
export const validateSiteName = (name: string): string => validateName("site", name);
export const validateLogAnalyticsWorkspaceName = (name: string): string => validateName("logAnalyticsWorkspace", name);
export const validateUserAssignedIdentityName = (name: string): string => validateName("userAssignedIdentity", name);
export const validateActionGroupShortName = (name: string): string => validateName("actionGroupShortName", name);

const NAME_PART = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Why a builder input (prefix, environment, suffix, purpose) cannot be part of a name, or undefined. */
export function namePartProblem(field: string, value: string): string | undefined {
    return NAME_PART.test(value)
        ? undefined
        : `${field} '${value}' must be lowercase letters and digits, optionally joined by single hyphens`;
}

interface Segment {
    text: string;
    /** Whether shortening may cut this segment; type abbreviations and the uniqueness suffix are never cut. */
    trimmable: boolean;
}

/**
 * Cuts one character from a part, or returns undefined when it cannot shrink. Within a
 * hyphenated part the first word is cut and later words are kept whole, because they
 * qualify it: `kvp-cmk` must not shorten to the same text as `kvp`. No word ever
 * empties, so a cut can never produce `--` or a trailing hyphen.
 */
function cutOne(text: string): string | undefined {
    const words = text.split("-");
    const i = words.findIndex((w) => w.length > 1);
    if (i < 0) return undefined;
    words[i] = words[i].slice(0, -1);
    return words.join("-");
}

/**
 * Joins segments and, while the result is too long, cuts one character from the
 * longest trimmable segment (the first of equals). The same input therefore always
 * yields the same name, and the unique suffix survives intact.
 */
function fit(builder: string, segments: Segment[], separator: string, max: number): string {
    const parts = segments.map((s) => ({ ...s }));
    const length = () => parts.reduce((n, p) => n + p.text.length, 0) + separator.length * (parts.length - 1);
    while (length() > max) {
        let target: { part: (typeof parts)[number]; cut: string } | undefined;
        for (const p of parts) {
            const cut = p.trimmable ? cutOne(p.text) : undefined;
            if (cut !== undefined && (!target || p.text.length > target.part.text.length)) target = { part: p, cut };
        }
        if (!target) {
            throw new pulumi.RunError(`${builder}: cannot fit '${segments.map((s) => s.text).join(separator)}' into ${max} characters even after shortening every part as far as it goes; use a shorter suffix or purpose`);
        }
        target.part.text = target.cut;
    }
    return parts.map((p) => p.text).join(separator);
}

function build(builder: string, kind: NameKind, abbreviation: string, fields: Array<[string, string, boolean]>, separator = "-"): string {
    const problems = fields.map(([field, value]) => namePartProblem(field, value)).filter((p): p is string => p !== undefined);
    if (problems.length > 0) throw new pulumi.RunError(`${builder}: ${problems.join("; ")}`);
    const segments: Segment[] = [
        ...(abbreviation ? [{ text: abbreviation, trimmable: false }] : []),
        // Storage names cannot hold hyphens at all, so parts lose theirs there.
        ...fields.map(([, value, trimmable]) => ({ text: separator === "" ? value.replace(/-/g, "") : value, trimmable })),
    ];
    const name = fit(builder, segments, separator, NAME_RULES[kind].max);
    const problem = nameProblem(kind, name);
    if (problem) throw new pulumi.RunError(`${builder}: ${problem}`);
    return name;
}

/** `kv-<prefix>-<env>-<suffix>`, at most 24 characters; globally unique thanks to the suffix. */
export function vaultName(prefix: string, environment: string, suffix: string): string {
    return build("vaultName", "keyVault", "kv", [["prefix", prefix, true], ["environment", environment, true], ["suffix", suffix, false]]);
}

/** `rg-<prefix>-<env>-<suffix>`; the suffix keeps several environments of one prefix apart in a subscription. */
export function resourceGroupName(prefix: string, environment: string, suffix: string): string {
    return build("resourceGroupName", "resourceGroup", "rg", [["prefix", prefix, true], ["environment", environment, true], ["suffix", suffix, false]]);
}

/** `cosmos-<prefix>-<env>-<suffix>`, at most 44 characters (a global DNS name). */
export function cosmosAccountName(prefix: string, environment: string, suffix: string): string {
    return build("cosmosAccountName", "cosmosAccount", "cosmos", [["prefix", prefix, true], ["environment", environment, true], ["suffix", suffix, false]]);
}

/** `st<prefix><env><suffix>`: no separators, at most 24 lowercase letters and digits. */
export function storageAccountName(prefix: string, environment: string, suffix: string): string {
    return build("storageAccountName", "storageAccount", "st", [["prefix", prefix, true], ["environment", environment, true], ["suffix", suffix, false]], "");
}

/** `func-<prefix>-<env>-<suffix>` (a global *.azurewebsites.net name). */
export function functionAppName(prefix: string, environment: string, suffix: string): string {
    return build("functionAppName", "site", "func", [["prefix", prefix, true], ["environment", environment, true], ["suffix", suffix, false]]);
}

/** `app-<prefix>-<env>-<suffix>` (a global *.azurewebsites.net name). */
export function webAppName(prefix: string, environment: string, suffix: string): string {
    return build("webAppName", "site", "app", [["prefix", prefix, true], ["environment", environment, true], ["suffix", suffix, false]]);
}

/** `log-<prefix>-<env>-<suffix>`. */
export function logAnalyticsWorkspaceName(prefix: string, environment: string, suffix: string): string {
    return build("logAnalyticsWorkspaceName", "logAnalyticsWorkspace", "log", [["prefix", prefix, true], ["environment", environment, true], ["suffix", suffix, false]]);
}

/**
 * `id-<prefix>-<env>-<purpose>`, e.g. `id-kvp-prod-cosmos-cmk`. Identity names only need to be
 * unique within their resource group, which already carries the suffix; the purpose is never cut.
 */
export function userAssignedIdentityName(prefix: string, environment: string, purpose: string): string {
    return build("userAssignedIdentityName", "userAssignedIdentity", "id", [["prefix", prefix, true], ["environment", environment, true], ["purpose", purpose, false]]);
}

/** `<prefix>-<env>`, cut to the 12 characters SMS and e-mail notifications show. */
export function actionGroupShortName(prefix: string, environment: string): string {
    return build("actionGroupShortName", "actionGroupShortName", "", [["prefix", prefix, true], ["environment", environment, true]]);
}

export type SuffixedNameBuilder = (prefix: string, environment: string, suffix: string) => string;

/**
 * Applies a builder to a suffix that is only known at deploy time (a RandomString's result).
 * The prefix and environment are checked now, so a typo fails before anything is created;
 * the full name is built and validated once the suffix resolves.
 */
export function nameWithSuffix(builder: SuffixedNameBuilder, prefix: string, environment: string, suffix: pulumi.Input<string>): pulumi.Output<string> {
    const problems = [namePartProblem("prefix", prefix), namePartProblem("environment", environment)].filter((p): p is string => p !== undefined);
    if (problems.length > 0) throw new pulumi.RunError(`${builder.name || "name builder"}: ${problems.join("; ")}`);
    return pulumi.output(suffix).apply((s) => builder(prefix, environment, s));
}

/**
 * Why a component's tags are not the platform's, one reason per problem: the four
 * ownership tags (packages/conventions/tags.ts) must be there, and every tag must be one Azure accepts.
 */
export function platformTagProblems(tags: Record<string, string>): string[] {
    const missing = Object.values(TAG_KEYS).filter((k) => !tags[k]);
    const problems = missing.length > 0 ? [`tags: ${missing.join(", ")} missing; every resource records its owner (ownershipTags in packages/conventions/tags.ts)`] : [];
    for (const [key, value] of Object.entries(tags)) {
        const p = tagProblem(key, value);
        if (p) problems.push(`tags.${key}: ${p}`);
    }
    return problems;
}

/** The tags a component applies, unchanged; throws a RunError naming the component when they are not the platform's. */
export function platformTags(component: string, tags: Record<string, string>): Record<string, string> {
    const problems = platformTagProblems(tags);
    if (problems.length > 0) throw new pulumi.RunError(`${component}: ${problems.join("; ")}`);
    return tags;
}
