import * as pulumi from "@pulumi/pulumi";

/**
 * KQL for the Key Vault log alerts, over the AzureDiagnostics table the vaults'
 * diagnostic settings write to. Only numbers are ever interpolated, and only after
 * a check, so no configured value can change a query's meaning.
 *
 * Columns that AzureDiagnostics only grows once some vault logs them (the identity
 * claims, httpStatusCode_d) are read through column_ifexists, so a query stays valid
 * on a workspace that has not yet seen such a record.
 */

/** A threshold as a KQL literal: a finite, non-negative number, never a string. */
export function kqlNumber(field: string, value: number): string {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
        throw new pulumi.RunError(`Monitoring: ${field} ${JSON.stringify(value)} is invalid; must be a finite, non-negative number`);
    }
    return String(value);
}

const KEY_VAULT_RECORDS = `AzureDiagnostics
| where ResourceProvider == "MICROSOFT.KEYVAULT"`;

/** Who called: the user principal name when there is one, else the caller's object id. */
const CALLER = `coalesce(tostring(column_ifexists("identity_claim_upn_s", "")), tostring(column_ifexists("identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g", "")), tostring(column_ifexists("identity_claim_oid_g", "")), "unknown")`;

/** Failed operations per operation, caller IP and identity, above `threshold` in the rule's window. */
export function failedOperationsQuery(threshold: number): string {
    return `let threshold = ${kqlNumber("thresholds.failedOperations", threshold)};
${KEY_VAULT_RECORDS}
| where ResultType != "Success"
| extend Caller = ${CALLER}
| summarize FailedOperations = count() by OperationName, CallerIPAddress, Caller, _ResourceId
| where FailedOperations > threshold`;
}

/** The unusual-access query: more than `threshold` requests from one caller IP in a 5-minute bin. */
export function unusualAccessQuery(threshold: number): string {
    return `let threshold = ${kqlNumber("thresholds.unusualAccessPerCallerIp", threshold)};
${KEY_VAULT_RECORDS}
| summarize AccessCount = count() by CallerIPAddress, _ResourceId, bin(TimeGenerated, 5m)
| where AccessCount > threshold
| project TimeGenerated, CallerIPAddress, _ResourceId, AccessCount`;
}

/**
 * Refused requests (HTTP 401/403) above `threshold` per caller IP in the rule's window.
 * A 401 without any identity is the SDKs' normal first, unauthenticated request of the
 * bearer-challenge handshake; only a 401 that presented a token counts, as does every 403.
 */
export function failedAuthorizationsQuery(threshold: number): string {
    return `let threshold = ${kqlNumber("thresholds.failedAuthorizations", threshold)};
${KEY_VAULT_RECORDS}
| extend Status = toint(column_ifexists("httpStatusCode_d", real(null))), Caller = ${CALLER}
| where Status in (401, 403) or ResultSignature in ("Unauthorized", "Forbidden")
| where Status == 403 or ResultSignature == "Forbidden" or Caller != "unknown"
| summarize FailedAuthorizations = count() by CallerIPAddress, _ResourceId
| where FailedAuthorizations > threshold`;
}
