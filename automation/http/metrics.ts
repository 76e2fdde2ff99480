import type { Request, RequestHandler, Response } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { isFinalEvent, type EventHub } from "../domain/eventHub";
import { OPERATION_KINDS, OPERATION_STATES, TERMINAL_STATES, type Operation, type OperationKind, type OperationState } from "../domain/ports";

/**
 * Prometheus metrics on a registry of its own (not prom-client's global one),
 * so several apps can live in one process, as they do in tests.
 */

export interface OperationCounts {
    /** Operations currently in the store, by kind and state. */
    byKindAndState: Array<{ kind: OperationKind; state: OperationState; count: number }>;
    /** Operations waiting to run. */
    queueDepth: number;
}

export interface Metrics {
    readonly registry: Registry;
    /** Records one finished operation's duration (startedAt to finishedAt). */
    observeOperation(op: Operation): void;
    /** Times every HTTP request, labelled by route template (the OpenAPI path, not the raw one) to bound cardinality. */
    httpMiddleware(): RequestHandler;
    /** Records one finished request (what httpMiddleware does), for a caller that already timed it. */
    observeHttp(req: Request, res: Response, seconds: number): void;
}

export interface MetricsOptions {
    /** Read at scrape time, so the figures always come from the durable store. */
    operationCounts?: () => OperationCounts | Promise<OperationCounts>;
    /** Process metrics (CPU, memory, event loop); off in tests that create many apps. */
    defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
    const registry = new Registry();
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "kvp_" });

    const source = options.operationCounts;
    new Gauge({
        name: "kvp_operations",
        help: "Operations in the store, by kind and state",
        labelNames: ["kind", "state"] as const,
        registers: [registry],
        async collect() {
            this.reset();
            if (!source) return;
            const counts = await source();
            // Every combination is reported, zeros included, so rates and alerts see a continuous series.
            for (const kind of OPERATION_KINDS) for (const state of OPERATION_STATES) this.set({ kind, state }, 0);
            for (const c of counts.byKindAndState) this.set({ kind: c.kind, state: c.state }, c.count);
        },
    });
    new Gauge({
        name: "kvp_queue_depth",
        help: "Operations queued and waiting for a worker",
        registers: [registry],
        async collect() {
            if (source) this.set((await source()).queueDepth);
        },
    });
    const opDuration = new Histogram({
        name: "kvp_operation_duration_seconds",
        help: "Duration of finished operations, from start to terminal state",
        labelNames: ["kind", "state"] as const,
        // Provisioning runs for minutes (Cosmos DB, RBAC propagation); previews for seconds.
        buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
        registers: [registry],
    });
    const opFinished = new Counter({
        name: "kvp_operations_finished_total",
        help: "Operations that reached a terminal state since the process started",
        labelNames: ["kind", "state"] as const,
        registers: [registry],
    });
    const httpDuration = new Histogram({
        name: "kvp_http_request_duration_seconds",
        help: "HTTP request duration by method, route template and status",
        labelNames: ["method", "route", "status"] as const,
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
    });

    return {
        registry,
        observeOperation(op) {
            if (!TERMINAL_STATES.has(op.state)) return;
            opFinished.inc({ kind: op.kind, state: op.state });
            if (op.startedAt && op.finishedAt) {
                const seconds = (Date.parse(op.finishedAt) - Date.parse(op.startedAt)) / 1000;
                if (seconds >= 0) opDuration.observe({ kind: op.kind, state: op.state }, seconds);
            }
        },
        httpMiddleware() {
            return (req, res, next) => {
                const start = process.hrtime.bigint();
                res.on("finish", () => this.observeHttp(req, res, Number(process.hrtime.bigint() - start) / 1e9));
                next();
            };
        },
        observeHttp(req, res, seconds) {
            // The OpenAPI path the route declared (set when it matched), so a route has one label whatever the answer.
            const route = typeof res.locals.route === "string" ? res.locals.route : "unmatched";
            httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
        },
    };
}

/**
 * Feeds the duration histogram from the hub's final state events. The event does
 * not carry the kind, so the finished operation is read back from the store.
 */
export function observeFinishedOperations(
    hub: Pick<EventHub, "subscribeAll">,
    load: (operationId: string) => Promise<Operation | undefined>,
    metrics: Pick<Metrics, "observeOperation">,
): () => void {
    return hub.subscribeAll((event) => {
        if (!isFinalEvent(event)) return;
        // Metrics are best effort: a failed read must never disturb the worker publishing the event.
        load(event.operationId).then((op) => op && metrics.observeOperation(op), () => undefined);
    });
}
