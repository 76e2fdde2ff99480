import { strict as assert } from "node:assert";
import { record, unwrap, ownerTags, SUBSCRIPTION_ID } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { ResourceGroup, ResourceGroupArgs, SUFFIX_LENGTH, validateResourceGroupArgs } from "../components/resourceGroup";
import { nameProblem, resourceGroupName } from "../components/helpers/naming";

const RG = "azure-native:resources:ResourceGroup";
const SUFFIX = "random:index/randomString:RandomString";
const base: ResourceGroupArgs = { prefix: "kvp", tier: "staging", location: "westeurope", tags: { CostCenter: "42", ...ownerTags("staging") } };

describe("ResourceGroup", () => {
    it("creates a lowercase alphanumeric random suffix without special or upper-case characters", async () => {
        const rec = await record(() => new ResourceGroup("core", base));
        const suffix = rec.one(SUFFIX);
        assert.equal(suffix.name, "core-suffix");
        assert.equal(suffix.inputs.length, SUFFIX_LENGTH);
        assert.ok(SUFFIX_LENGTH >= 5 && SUFFIX_LENGTH <= 6);
        assert.equal(suffix.inputs.special, false);
        assert.equal(suffix.inputs.upper, false);
        assert.equal(suffix.inputs.lower, true);
        assert.equal(suffix.inputs.numeric, true);
    });

    it("names the group from the naming rules with the suffix, and exposes name, id, location and suffix", async () => {
        let rg!: ResourceGroup;
        const rec = await record(() => { rg = new ResourceGroup("core", base); });
        const suffix = await unwrap(rg.suffix);
        assert.match(suffix, new RegExp(`^[a-z0-9]{${SUFFIX_LENGTH}}$`));
        const group = rec.one(RG);
        assert.equal(group.inputs.resourceGroupName, resourceGroupName("kvp", "staging", suffix));
        assert.equal(nameProblem("resourceGroup", group.inputs.resourceGroupName), undefined);
        assert.equal(group.inputs.location, "westeurope");
        assert.equal(await unwrap(rg.name), group.inputs.resourceGroupName);
        assert.equal(await unwrap(rg.resourceId), `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${group.inputs.resourceGroupName}`);
        assert.equal(await unwrap(rg.location), "westeurope");
    });

    it("keeps the same suffix and group name across two runs (the suffix is state, not fresh randomness)", async () => {
        const names: string[] = [];
        for (let i = 0; i < 2; i++) {
            const rec = await record(() => new ResourceGroup("core", base));
            names.push(rec.one(RG).inputs.resourceGroupName);
        }
        assert.equal(names[0], names[1]);
    });

    it("tags the group with the ownership tags and the extra ones it was given", async () => {
        let rg!: ResourceGroup;
        const rec = await record(() => { rg = new ResourceGroup("core", base); });
        const expected = { CostCenter: "42", Team: "platform", Environment: "test", Tier: "staging", ManagedBy: "keyvault-platform" };
        assert.deepEqual(rec.one(RG).inputs.tags, expected);
        assert.deepEqual(rg.tags, expected);
    });

    it("parents every child to the component", async () => {
        const rec = await record(() => new ResourceGroup("core", base));
        const component = rec.one("keyvault-platform:core:ResourceGroup");
        for (const child of [rec.one(RG), rec.one(SUFFIX)]) assert.equal(child.parentUrn, component.urn, child.name);
    });

    it("refuses tags that do not record the owner", () => {
        assert.throws(() => new ResourceGroup("bad-tags", { ...base, tags: { CostCenter: "42" } }),
            (e: Error) => e instanceof pulumi.RunError && /ResourceGroup 'bad-tags'.*tags: Team, Environment, Tier, ManagedBy missing/.test(e.message));
    });
});

describe("validateResourceGroupArgs", () => {
    const cases: Array<[string, Partial<ResourceGroupArgs>, RegExp]> = [
        ["an uppercase prefix", { prefix: "KVP" }, /prefix: 'KVP' must be 2-8 lowercase letters and digits/],
        ["a prefix starting with a digit", { prefix: "1kv" }, /prefix: '1kv'/],
        ["a nine-character prefix", { prefix: "abcdefghi" }, /prefix: 'abcdefghi'/],
        ["a one-character prefix", { prefix: "a" }, /prefix: 'a'/],
        ["an unknown tier", { tier: "qa" as never }, /tier: 'qa' must be one of dev, staging, prod/],
        ["a display-style location", { location: "West Europe" }, /location: 'West Europe' must be an Azure region name/],
        ["tags without the ownership tags", { tags: { CostCenter: "x" } }, /tags: Team, Environment, Tier, ManagedBy missing/],
        ["a tag name Azure reserves", { tags: { ...ownerTags("staging"), microsoftX: "1" } }, /tags\.microsoftX: .*reserved by Azure/],
    ];
    for (const [what, override, expected] of cases) {
        it(`refuses ${what}`, () => {
            assert.throws(() => validateResourceGroupArgs("core", { ...base, ...override }),
                (e: Error) => e instanceof pulumi.RunError && e.message.startsWith("ResourceGroup 'core'") && expected.test(e.message));
        });
    }

    it("reports every problem at once", () => {
        assert.throws(() => validateResourceGroupArgs("core", { ...base, prefix: "X", location: "West Europe" }),
            (e: Error) => /prefix: 'X'/.test(e.message) && /location: 'West Europe'/.test(e.message));
    });

    it("accepts good arguments, including an Output location it cannot check yet", () => {
        assert.doesNotThrow(() => validateResourceGroupArgs("core", base));
        assert.doesNotThrow(() => validateResourceGroupArgs("core", { ...base, location: pulumi.output("eastus2") }));
    });
});
