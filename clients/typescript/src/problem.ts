import type { components } from "./generated/schema.js";

/** The problem codes the server sends (the document's Problem.code). */
export type ServerProblemCode = components["schemas"]["Problem"]["code"];

/** Codes the client adds for failures without a problem document. */
export type ClientProblemCode = "NetworkError" | "MediaFailed" | "Timeout" | "UploadFailed" | "HttpError";

export type ProblemCode = ServerProblemCode | ClientProblemCode;

/** What the server's codes are for each status, for error bodies that are not problems. */
const codeByStatus: Record<number, ServerProblemCode> = {
  400: "Invalid",
  401: "Unauthenticated",
  403: "Forbidden",
  404: "NotFound",
  405: "Invalid",
  409: "Conflict",
  412: "PreconditionFailed",
  413: "TooLarge",
  415: "UnsupportedMediaType",
  422: "Unprocessable",
  429: "TooManyRequests",
  500: "Internal",
  502: "Unavailable",
  503: "Unavailable",
  504: "Unavailable",
};

export interface ProblemInit {
  code: ProblemCode | (string & {});
  status: number;
  title?: string;
  detail?: string;
  type?: string;
  requestId?: string;
  retryAfter?: number;
  body?: unknown;
  cause?: unknown;
}

/**
 * An error of the API as a typed object: the RFC 9457 problem the server
 * answered (code, status, title, detail, requestId), or one the client made
 * for a failure without an answer (code "NetworkError", status 0).
 */
export class CloudpostProblem extends Error {
  readonly code: ProblemCode | (string & {});
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  readonly requestId?: string;
  readonly retryAfter?: number;
  readonly body?: unknown;

  constructor(init: ProblemInit) {
    const title = init.title ?? init.code;
    const detail = init.detail ?? "";
    super(detail ? `${title}: ${detail}` : title, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "CloudpostProblem";
    this.code = init.code;
    this.status = init.status;
    this.title = title;
    this.detail = detail;
    this.type = init.type ?? "about:blank";
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.body = init.body;
  }

  /** True when err is a CloudpostProblem (of that code, if given). */
  static is(err: unknown, code?: ProblemCode | (string & {})): err is CloudpostProblem {
    return err instanceof CloudpostProblem && (code === undefined || err.code === code);
  }

  /**
   * The problem of an error response. body is the parsed body when the
   * caller already read it (openapi-fetch's `error`); otherwise it is read.
   */
  static async fromResponse(response: Response, body?: unknown): Promise<CloudpostProblem> {
    if (body === undefined && !response.bodyUsed) {
      try {
        const text = await response.text();
        try {
          body = JSON.parse(text);
        } catch {
          body = text || undefined;
        }
      } catch {
        body = undefined;
      }
    }
    return CloudpostProblem.fromBody(response, body);
  }

  /** Like fromResponse with the body already read. */
  static fromBody(response: Response, body: unknown): CloudpostProblem {
    const p = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
    const status = typeof p.status === "number" ? p.status : response.status;
    return new CloudpostProblem({
      code: str(p.code) ?? codeByStatus[response.status] ?? (response.status >= 500 ? "Internal" : "HttpError"),
      status,
      title: str(p.title) ?? (response.statusText || `HTTP ${response.status}`),
      detail: str(p.detail) ?? (typeof body === "string" ? body.slice(0, 500) : ""),
      type: str(p.type),
      requestId: str(p.requestId) ?? response.headers.get("X-Request-Id") ?? undefined,
      retryAfter: retryAfterSeconds(response),
      body,
    });
  }

  /** The problem of a request that got no answer. */
  static network(cause: unknown, url?: string): CloudpostProblem {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new CloudpostProblem({
      code: "NetworkError",
      status: 0,
      title: "Cannot reach the API",
      detail: url ? `${reason} (${url})` : reason,
      cause,
    });
  }
}

/** Retry-After in seconds (a number of seconds or an HTTP date), if any. */
export function retryAfterSeconds(response: Response): number | undefined {
  const h = response.headers.get("Retry-After");
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim());
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** True for the error an aborted fetch or a signal's reason throws. */
export function isAbortError(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    ((err as { name?: string }).name === "AbortError" || (err as { name?: string }).name === "TimeoutError")
  );
}
