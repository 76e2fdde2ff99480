import { strict as assert } from "node:assert";
import type * as pulumi from "@pulumi/pulumi";
import { dropApiVersionAliases, isApiVersionAlias } from "../components/helpers/apiVersionAliases";

describe("isApiVersionAlias", () => {
    const cases: Array<[string, pulumi.Input<pulumi.URN | pulumi.Alias>, boolean]> = [
        ["a dated API version", { type: "azure-native:keyvault/v20230201:Vault" }, true],
        ["a preview API version", { type: "azure-native:keyvault/v20240401preview:Vault" }, true],
        ["a private preview API version", { type: "azure-native:documentdb/v20190801privatepreview:DatabaseAccount" }, true],
        ["a beta API version", { type: "azure-native:web/v20200601beta:WebApp" }, true],
        ["a module rename (unversioned type)", { type: "azure-native:documentdb:DatabaseAccount" }, false],
        ["a versioned type that also renames the resource", { type: "azure-native:keyvault/v20230201:Vault", name: "old-vault" }, false],
        ["a versioned type under another parent", { type: "azure-native:keyvault/v20230201:Vault", parent: undefined }, false],
        ["another provider's versioned type", { type: "kubernetes:apps/v1beta1:Deployment" }, false],
        ["a URN", "urn:pulumi:prod::keyvault-platform::azure-native:keyvault/v20230201:Vault::kv", false],
        ["a type that is not yet known", { type: Promise.resolve("azure-native:keyvault/v20230201:Vault") }, false],
        ["a version that is not a date", { type: "azure-native:keyvault/v2023:Vault" }, false],
    ];
    for (const [what, alias, expected] of cases) {
        it(`${expected ? "drops" : "keeps"} ${what}`, () => assert.equal(isApiVersionAlias(alias), expected));
    }
});

describe("dropApiVersionAliases", () => {
    const args = (aliases?: pulumi.CustomResourceOptions["aliases"]) => ({
        resource: undefined as unknown as pulumi.Resource, type: "azure-native:keyvault:Vault", name: "kv", props: { a: 1 }, opts: { protect: true, aliases },
    });

    it("keeps every other alias and every other option, in order", () => {
        const result = dropApiVersionAliases(args([
            { type: "azure-native:keyvault/v20150601:Vault" }, { type: "azure-native:documentdb:DatabaseAccount" }, "urn:pulumi:a::b::c::d", { type: "azure-native:keyvault/v20260301preview:Vault" },
        ]));
        assert.deepEqual(result, { props: { a: 1 }, opts: { protect: true, aliases: [{ type: "azure-native:documentdb:DatabaseAccount" }, "urn:pulumi:a::b::c::d"] } });
    });

    it("leaves a resource with nothing to drop untouched", () => {
        assert.equal(dropApiVersionAliases(args([{ type: "azure-native:documentdb:DatabaseAccount" }])), undefined);
        assert.equal(dropApiVersionAliases(args(undefined)), undefined);
    });
});
