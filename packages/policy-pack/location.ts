/**
 * Where the pack lives and what it is called, for callers that run it without loading it:
 * the Automation API wants an absolute path in `policyPacks`, and the server's offline engine
 * reports violations under the pack's name. Import this, not ./index (which starts the analyzer).
 */
export const POLICY_PACK_DIR: string = __dirname;

/** The name the pack registers under; violations carry it as policyPackName. */
export const POLICY_PACK_NAME = "keyvault-baseline";
