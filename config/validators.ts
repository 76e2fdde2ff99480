/**
 * Pure format checks shared by the stack-config schema, the components and the
 * self-service API. Each returns a reason string when the value is bad, or
 * undefined when it is fine, so callers can word the error for their own context.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
    return GUID.test(value);
}

function ipv4ToInt(address: string): number | undefined {
    const parts = address.split(".");
    if (parts.length !== 4) return undefined;
    let n = 0;
    for (const p of parts) {
        if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
        const octet = Number(p);
        if (octet > 255) return undefined;
        n = n * 256 + octet;
    }
    return n;
}

/** Ranges Key Vault's firewall cannot match: it only sees public source addresses. */
const NON_PUBLIC_V4: ReadonlyArray<[string, number, string]> = [
    ["0.0.0.0", 8, "'this network'"],
    ["10.0.0.0", 8, "private (RFC 1918)"],
    ["100.64.0.0", 10, "carrier-grade NAT (RFC 6598)"],
    ["127.0.0.0", 8, "loopback"],
    ["169.254.0.0", 16, "link-local"],
    ["172.16.0.0", 12, "private (RFC 1918)"],
    ["192.168.0.0", 16, "private (RFC 1918)"],
    ["224.0.0.0", 4, "multicast"],
    ["240.0.0.0", 4, "reserved"],
];

function inRange(addr: number, base: string, prefix: number): boolean {
    const b = ipv4ToInt(base)!;
    const size = 2 ** (32 - prefix);
    return addr >= b && addr < b + size;
}

/** What an IP rule looks like before its address and prefix are checked; the OpenAPI document publishes it. */
export const IP_RULE_SHAPE = /^([0-9.]+)(?:\/([0-9]{1,2}))?$/;

/**
 * A Key Vault firewall rule: a public IPv4 address or CIDR range.
 * Key Vault ignores private ranges (traffic from a VNet arrives through service
 * or private endpoints, not by source IP), so accepting them would only look secure.
 */
export function ipRuleProblem(value: string): string | undefined {
    const m = IP_RULE_SHAPE.exec(value);
    if (!m) return "must be an IPv4 address or CIDR range such as 203.0.113.0/24";
    const addr = ipv4ToInt(m[1]);
    if (addr === undefined) return "must be an IPv4 address or CIDR range such as 203.0.113.0/24";
    const prefix = m[2] === undefined ? 32 : Number(m[2]);
    if (prefix > 32) return "has a prefix length above 32";
    const hostBits = 32 - prefix;
    if (hostBits > 0 && addr % 2 ** hostBits !== 0) {
        return `has host bits set; the network address for /${prefix} is ${intToIpv4(addr - (addr % 2 ** hostBits))}/${prefix}`;
    }
    for (const [base, p, label] of NON_PUBLIC_V4) {
        if (inRange(addr, base, p)) return `is a ${label} address; Key Vault firewall rules only match public IPv4 sources`;
    }
    if (prefix < 16) return "is wider than /16: a wider range is shared with other customers of a cloud or ISP, which would make the deny-by-default firewall meaningless (the policy pack refuses it too)";
    return undefined;
}

function intToIpv4(n: number): string {
    return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

const ARM_SEGMENT = "[^/\\s]+";
/** What every ARM resource id looks like (`/subscriptions/<guid>/...`, in any letter case); the OpenAPI document publishes it. */
export const ARM_ID_SHAPE = /^\/[A-Za-z]+\/[0-9a-fA-F-]{36}\/\S+$/;
const SUBNET_ID = new RegExp(
    `^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/${ARM_SEGMENT}/providers/Microsoft\\.Network/virtualNetworks/${ARM_SEGMENT}/subnets/${ARM_SEGMENT}$`,
    "i",
);
const PRIVATE_DNS_ZONE_ID = new RegExp(
    `^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/${ARM_SEGMENT}/providers/Microsoft\\.Network/privateDnsZones/${ARM_SEGMENT}$`,
    "i",
);
const WORKSPACE_ID = new RegExp(
    `^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/${ARM_SEGMENT}/providers/Microsoft\\.OperationalInsights/workspaces/${ARM_SEGMENT}$`,
    "i",
);
const GENERIC_ARM_ID = new RegExp(`^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/${ARM_SEGMENT}/providers/[A-Za-z.]+/.+$`, "i");

export function subnetIdProblem(value: string): string | undefined {
    return SUBNET_ID.test(value)
        ? undefined
        : "must be an ARM subnet id: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>";
}

export function privateDnsZoneIdProblem(value: string): string | undefined {
    if (!PRIVATE_DNS_ZONE_ID.test(value)) {
        return "must be an ARM private DNS zone id: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/privateDnsZones/<zone>";
    }
    return undefined;
}

export function workspaceIdProblem(value: string): string | undefined {
    return WORKSPACE_ID.test(value)
        ? undefined
        : "must be an ARM Log Analytics workspace id: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>";
}

export function armResourceIdProblem(value: string): string | undefined {
    return GENERIC_ARM_ID.test(value) ? undefined : "must be an ARM resource id: /subscriptions/<guid>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>";
}

/** The virtual network that contains a subnet, from the subnet's ARM id. */
export function vnetIdOfSubnet(subnetId: string): string {
    return subnetId.replace(/\/subnets\/[^/]+$/i, "");
}

/** Azure tag rules: names up to 512 characters without < > % & \ ? /, values up to 256. */
export function tagProblem(name: string, value: string): string | undefined {
    if (name.length === 0 || name.length > 512) return "tag names must be 1 to 512 characters";
    if (/[<>%&\\?/]/.test(name)) return "tag names cannot contain < > % & \\ ? /";
    if (/^(azure|microsoft|windows)/i.test(name)) return "tag names cannot start with azure, microsoft or windows (reserved by Azure)";
    if (value.length > 256) return "tag values must be at most 256 characters";
    return undefined;
}

/** Azure region names as ARM spells them: lowercase letters and digits (westeurope, eastus2). */
export const LOCATION_SHAPE = /^[a-z][a-z0-9]{2,30}$/;
export function locationProblem(value: string): string | undefined {
    return LOCATION_SHAPE.test(value) ? undefined : "must be an Azure region name such as westeurope or eastus2 (lowercase, no spaces)";
}

export const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
export function emailProblem(value: string): string | undefined {
    return EMAIL.test(value) && value.length <= 254 ? undefined : "must be an e-mail address such as ops@example.com";
}

/** Azure Functions timer schedules are six-field NCRONTAB expressions (seconds first). */
export function ncrontabProblem(value: string): string | undefined {
    const fields = value.trim().split(/\s+/);
    if (fields.length !== 6) return "must be a six-field NCRONTAB expression (sec min hour day month weekday), e.g. '0 0 3 * * *'";
    if (!fields.every((f) => /^[0-9*/,\-A-Za-z]+$/.test(f))) return "has a field with characters outside 0-9 * / , - and names";
    return undefined;
}
