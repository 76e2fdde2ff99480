// Loaded after tsx (Pulumi.yaml nodeargs, bench:program). Pulumi's SDK records `new Error().stack`
// for every output promise and resource registration; tsx turns Node's source maps on, so each of
// those stacks gets mapped frame by frame, which nearly doubled program evaluation time.
// Program errors surface as RunError messages, so unmapped stack positions cost nothing real.
process.setSourceMapsEnabled(false);
