// Preloaded after tsx for the Pulumi program (Pulumi.yaml nodeargs; bench:program uses the same flags).
//
// Source maps off: Pulumi's SDK records `new Error().stack` for every output promise and resource
// registration, and tsx turns Node's source maps on, so each of those stacks was mapped frame by
// frame, which nearly doubled program evaluation time.
process.setSourceMapsEnabled(false);

// One stack frame instead of ten: the SDK formats a stack for every promise it creates
// (runtime/debuggable.js, ~5,000 per prod run) and reads it only when PULUMI_DEBUG_PROMISE_LEAKS
// is set. Capturing and formatting ten frames each was ~70 ms of every run (npm run bench:program).
// Program errors are RunErrors whose message says what is wrong; an unexpected error still shows
// the frame that threw it. KVP_STACK_TRACE_LIMIT=<n> (or PULUMI_DEBUG_PROMISE_LEAKS) restores more.
const requested = Number(process.env.KVP_STACK_TRACE_LIMIT);
Error.stackTraceLimit = Number.isInteger(requested) && requested >= 0 ? requested : process.env.PULUMI_DEBUG_PROMISE_LEAKS ? 10 : 1;
