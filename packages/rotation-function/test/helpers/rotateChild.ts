/**
 * Runs one on-demand rotation in its own process, against the file-backed vault
 * double and the real local PostgreSQL. With FAILPOINT set, the process SIGKILLs
 * itself when the protocol reaches that point: no catch, no finally, no flush.
 * Prints the RotationResult as JSON on stdout when it survives.
 */
import { silentLogger } from "../../src/log";
import type { Failpoint } from "../../src/protocol";
import { RotationService } from "../../src/service";
import { PostgresDualTarget } from "../../src/targets/postgres";
import { localAdmin } from "./postgres";
import { VaultDouble } from "./vaultDouble";

const [vaultFile, secretName, killAt] = process.argv.slice(2);

const service = new RotationService({
    vault: new VaultDouble(vaultFile),
    logger: silentLogger,
    configSecretName: "rotation-config",
    windowDays: 30,
    targets: async (spec) => new PostgresDualTarget(spec.providerAddress, spec.credentialPair!, localAdmin),
    failpoint: (point: Failpoint) => {
        if (point === killAt) process.kill(process.pid, "SIGKILL");
    },
});

service.rotateNow(secretName).then((result) => process.stdout.write(JSON.stringify(result)));
