import { asArray, Props, resourcePolicy, TYPES } from "./helpers";

const OBJECT_KINDS = ["keys", "secrets", "certificates", "storage"] as const;
const FORBIDDEN = ["all", "purge"];

/** Every `all` or `purge` grant in one access-policy entry, named by principal and object kind. */
function forbiddenGrants(entry: Props | undefined, where: string): string[] {
    const perms = entry?.permissions ?? {};
    return OBJECT_KINDS.flatMap((kind) => asArray<unknown>(perms[kind])
        .filter((p) => typeof p === "string" && FORBIDDEN.includes(p.toLowerCase()))
        .map((p) => `${where} grants '${String(p)}' on ${kind} to object ${String(entry?.objectId)}`));
}

/**
 * Access policies never grant `all` (which silently grows with every new permission)
 * or `purge` (which defeats soft delete), whether inline on the vault or standalone.
 */
export function checkAccessPolicyLeastPrivilege(props: Props, type: string): string[] {
    if (type === TYPES.accessPolicy) return forbiddenGrants(props.policy, "policy");
    return asArray<Props>(props.properties?.accessPolicies).flatMap((entry, i) => forbiddenGrants(entry, `properties.accessPolicies[${i}]`));
}

export const accessPolicyPolicies = [
    resourcePolicy({
        name: "kv-access-policy-least-privilege",
        description: "Key vault access policies (inline or keyvault.AccessPolicy) never grant 'all' or 'purge'.",
        enforcementLevel: "mandatory",
        types: [TYPES.vault, TYPES.accessPolicy],
        mirrors: "accessPolicy",
        remediation: "list the specific permissions the principal needs (e.g. get, list) instead of 'all', and drop 'purge'; better, use RBAC roles",
        check: (props, ctx) => checkAccessPolicyLeastPrivilege(props, ctx.type),
    }),
];
