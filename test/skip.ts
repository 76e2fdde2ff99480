/**
 * A skipped test that says why and how to run it. Mocha reports it as pending, never as
 * passing; the line printed next to it tells the reader whether that is expected here.
 */
export function skipBecause(ctx: Mocha.Context, why: string, howToRun: string): never {
    console.log(`      skipped: ${why}. To run it: ${howToRun}`);
    ctx.skip();
}
