import { strict as assert } from "node:assert";
import { record, createDelayMs, SUBSCRIPTION_ID } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import * as resources from "@pulumi/azure-native/resources";

class Parent extends pulumi.ComponentResource {
    constructor(name: string) {
        super("test:harness:Parent", name, {}, {});
        const a = new resources.ResourceGroup(`${name}-a`, { location: "westeurope" }, { parent: this });
        new resources.ResourceGroup(`${name}-b`, { location: "westeurope", resourceGroupName: "rg-b" }, { parent: this, dependsOn: [a] });
        this.registerOutputs({});
    }
}

describe("mock harness", () => {
    it("records parents, dependencies and realistic ids", async () => {
        createDelayMs["azure-native:resources:ResourceGroup"] = 20;
        const rec = await record(() => new Parent("p"));
        delete createDelayMs["azure-native:resources:ResourceGroup"];
        const a = rec.one("azure-native:resources:ResourceGroup", "p-a");
        const b = rec.one("azure-native:resources:ResourceGroup", "p-b");
        const parent = rec.one("test:harness:Parent");
        assert.equal(a.parentUrn, parent.urn);
        assert.ok(rec.dependsOn(b, a), "b should depend on a");
        assert.ok(!rec.dependsOn(a, b));
        assert.equal(b.id, `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-b`);
        assert.ok(b.order > a.order);
    });
});
