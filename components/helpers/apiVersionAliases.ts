import type * as pulumi from "@pulumi/pulumi";

/**
 * Every generated azure-native constructor aliases its resource to the same resource under
 * each API version's module it has ever had: `azure-native:keyvault/v20230201:Vault` and
 * twenty more for a vault, 64 for a Cosmos DB account, 697 across the prod stack.
 * They exist so that state written by the version-pinned modules
 * (`@pulumi/azure-native/keyvault/v20230201`) is adopted rather than replaced. This program
 * never uses those modules, so no stack of it holds a resource under such a type, and the
 * aliases can never match.
 *
 * They are not free: the SDK turns each alias into a URN Output in the resource
 * constructor, and awaits each one again at registration, whatever the engine supports.
 * On the prod stack that was about a third of evaluation time and 27 MB of peak RSS
 * (npm run bench:program).
 *
 * Only those aliases are dropped. An alias to an unversioned type (a module rename, such as
 * `azure-native:documentdb:DatabaseAccount` for `cosmosdb`), a URN, or an alias that names a
 * parent, name, stack or project is kept: upgrades and refactors rely on those.
 */

/** `azure-native:<module>/v<yyyymmdd>[preview|privatepreview|beta]:<Type>`. */
const API_VERSION_TYPE = /^azure-native:[A-Za-z0-9]+\/v\d{8}[a-z]*:[A-Za-z0-9]+$/;

/** True for an alias that only moves the resource to one pinned API version's type token. */
export function isApiVersionAlias(alias: pulumi.Input<pulumi.URN | pulumi.Alias>): boolean {
    if (typeof alias !== "object" || alias === null) return false;
    const keys = Object.keys(alias);
    const type = (alias as pulumi.Alias).type;
    return keys.length === 1 && keys[0] === "type" && typeof type === "string" && API_VERSION_TYPE.test(type);
}

/**
 * A resource transformation (it must run before the constructor expands the aliases, which
 * rules out `transforms`, which run at registration). Set it on the root component: children
 * inherit it through `parent`.
 */
export const dropApiVersionAliases: pulumi.ResourceTransformation = ({ props, opts }) => {
    const kept = opts.aliases?.filter((a) => !isApiVersionAlias(a));
    if (!kept || kept.length === opts.aliases?.length) return undefined;
    return { props, opts: { ...opts, aliases: kept } };
};
