/**
 * Where the pack lives, for callers that run it without a working directory to
 * resolve `policy` against: the Automation API wants an absolute path in
 * `policyPacks`. Import this, not ./index (which starts the analyzer).
 */
export const POLICY_PACK_DIR: string = __dirname;
