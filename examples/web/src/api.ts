// The one cloudpost client of the app. Everything that talks to the API goes
// through it (@cloudpost/client): typed routes, bearer + refresh, retries with
// Idempotency-Key, direct uploads with progress and the live notification stream.
import { createCloudpost, CloudpostProblem, localStorageTokens } from "@cloudpost/client";
import { apiUrl } from "./config";

export const cp = createCloudpost({ baseUrl: apiUrl, tokens: localStorageTokens() });

export { CloudpostProblem };

/** True when the browser could not reach the API at all (down, or refused by CORS). */
export function isNetworkError(err: unknown): boolean {
  return err instanceof CloudpostProblem && (err.code === "NetworkError" || err.status === 0);
}

/** A sentence for a failed call, for a status region. */
export function describe(err: unknown): string {
  if (err instanceof CloudpostProblem) {
    if (isNetworkError(err)) return `Cannot reach the API at ${apiUrl}.`;
    const text = err.detail || err.title || err.code;
    return err.requestId ? `${text} (request ${err.requestId})` : text;
  }
  if (err instanceof DOMException && err.name === "AbortError") return "Cancelled.";
  return err instanceof Error ? err.message : String(err);
}
