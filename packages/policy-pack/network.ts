import { asArray, CheckContext, Props, resourcePolicy, TYPES } from "./helpers";

/** Spellings that mean "any address" in one rule. */
const ANY = new Set(["*", "any", "internet", "0.0.0.0", "0.0.0.0/0", "::/0", "::"]);

/** IPv6 blocks wider than a /48 (one site's allocation) are shared with strangers. */
const MIN_IPV6_PREFIX = 48;

/** The prefix length of one firewall rule, or a reason it cannot be judged. */
function prefixOf(rule: string): { family: 4 | 6; prefix: number } | undefined {
    const [addr, len, ...rest] = rule.trim().split("/");
    if (rest.length > 0) return undefined;
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(addr) && addr.split(".").every((o) => Number(o) <= 255)) {
        const prefix = len === undefined ? 32 : Number(len);
        return /^\d{1,2}$/.test(len ?? "32") && prefix <= 32 ? { family: 4, prefix } : undefined;
    }
    if (/^[0-9a-f:]+$/i.test(addr) && addr.includes(":")) {
        const prefix = len === undefined ? 128 : Number(len);
        return /^\d{1,3}$/.test(len ?? "128") && prefix <= 128 ? { family: 6, prefix } : undefined;
    }
    return undefined;
}

/**
 * No firewall rule may admit the whole internet or a block wide enough to hold
 * strangers: `0.0.0.0/0`, `*`, `::/0`, and any IPv4 rule shorter than
 * minimumIpRulePrefixLength (two /1 halves are each refused, so their union is too).
 */
export function checkFirewallNoAllowAll(props: Props, ctx: CheckContext): string[] {
    const rules = asArray<unknown>(props.properties?.networkAcls?.ipRules)
        .map((r) => (typeof r === "string" ? r : (r as Props | undefined)?.value))
        .filter((v): v is string => typeof v === "string");
    const min = ctx.config.minimumIpRulePrefixLength;
    return rules.flatMap((rule) => {
        if (ANY.has(rule.trim().toLowerCase())) return [`properties.networkAcls.ipRules allows ${JSON.stringify(rule)}: every address on the internet`];
        const p = prefixOf(rule);
        if (!p) return [`properties.networkAcls.ipRules has ${JSON.stringify(rule)}, which is not an IPv4 address or CIDR range`];
        if (p.family === 4 && p.prefix < min) return [`properties.networkAcls.ipRules allows ${rule} (${2 ** (32 - p.prefix)} addresses); rules may be no wider than /${min}`];
        if (p.family === 6 && p.prefix < MIN_IPV6_PREFIX) return [`properties.networkAcls.ipRules allows ${rule}; IPv6 rules may be no wider than /${MIN_IPV6_PREFIX}`];
        return [];
    });
}

export const networkPolicies = [
    resourcePolicy({
        name: "kv-firewall-no-allow-all",
        description: "Key vault firewall rules never admit the whole internet (0.0.0.0/0, *, ::/0) or a range wider than /16.",
        enforcementLevel: "mandatory",
        types: [TYPES.vault],
        mirrors: "firewallAllowAll",
        remediation: "list the organisation's egress addresses or ranges (/16 or narrower) in stack config allowedIpRanges, or reach the vault through a private endpoint; raise minimumIpRulePrefixLength only with a reason",
        configKeys: ["minimumIpRulePrefixLength"],
        check: checkFirewallNoAllowAll,
    }),
];
