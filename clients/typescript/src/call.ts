import { CloudpostProblem, isAbortError } from "./problem.js";

/** What an openapi-fetch call resolves to (success or error). */
export interface ApiResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** The success data of an openapi-fetch result; void for bodiless answers (204). */
export type DataOf<R extends ApiResult> =
  [Exclude<R["data"], undefined>] extends [never] ? void : Exclude<R["data"], undefined>;

export type Unwrap = <R extends ApiResult>(result: Promise<R>) => Promise<DataOf<R>>;

/**
 * Unwraps an openapi-fetch result: its data, or a thrown CloudpostProblem
 * (from the problem body and X-Request-Id; NetworkError when the request
 * got no answer). Aborts are rethrown as they are.
 */
export const call: Unwrap = async (result) => {
  let r: ApiResult;
  try {
    r = await result;
  } catch (err) {
    if (err instanceof TypeError && !isAbortError(err)) throw CloudpostProblem.network(err);
    throw err;
  }
  if (!r.response.ok || r.error !== undefined) throw CloudpostProblem.fromBody(r.response, r.error);
  return r.data as never;
};
