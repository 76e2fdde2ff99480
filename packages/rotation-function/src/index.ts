import { app } from "@azure/functions";
import { eventGridHandler, httpHandler, timerHandler } from "./handlers";
import type { Logger } from "./log";
import { productionServices } from "./production";
import type { RotationService } from "./service";
import { parseSettings } from "./settings";

/**
 * Entry point of the rotation function app (esbuild bundles this file). Settings
 * are validated on the first invocation rather than at import, so a bad setting
 * shows up as a failed invocation naming the setting instead of a host that
 * cannot index its functions.
 */
let services: ((logger: Logger) => RotationService) | undefined;
const serviceFor = (logger: Logger): RotationService => (services ??= productionServices(parseSettings(process.env)))(logger);

app.eventGrid("secretNearExpiry", { handler: eventGridHandler(serviceFor) });

app.timer("rotationSafetyNet", { schedule: "%ROTATION_SCHEDULE%", handler: timerHandler(serviceFor) });

app.http("rotateSecret", {
    methods: ["POST"],
    authLevel: "function",
    route: "rotate",
    handler: httpHandler(serviceFor),
});
