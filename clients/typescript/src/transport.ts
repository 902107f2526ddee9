import { routes, type RouteInfo } from "./generated/routes.js";
import { CloudpostProblem, isAbortError, retryAfterSeconds } from "./problem.js";
import type { StoredTokens, TokenStore } from "./tokens.js";

/** The signed-in session as the app sees it. */
export interface Session {
  /** The access token's subject: the user id. */
  userId: string;
  accessToken: string;
  refreshToken: string;
  idToken?: string;
  /** When the access token expires, ms since the epoch. */
  expiresAt: number;
}

type FetchFn = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** How many times a failed request is sent again (network error, 503, 409 in progress). */
export const MAX_RETRIES = 2;
/** The longest Retry-After the client waits for by itself, in seconds. */
const MAX_RETRY_AFTER = 2;
/** Refresh before sending when the access token expires within this many ms. */
const EXPIRY_MARGIN = 10_000;

const RETRYABLE_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/** A random UUID (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function uuid(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A new Idempotency-Key value: a UUID as a structured-field string ("..."), as the document describes. */
export function newIdempotencyKey(): string {
  return `"${uuid()}"`;
}

/** Waits ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function backoff(attempt: number): number {
  return 250 * 2 ** (attempt - 1) + Math.floor(Math.random() * 100);
}

/** The payload of a JWT (no verification: only to read `sub` and `exp`). */
function jwtPayload(token: string): Record<string, unknown> {
  try {
    const part = token.split(".")[1] ?? "";
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return v && typeof v === "object" ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function toSession(t: StoredTokens | null): Session | null {
  if (!t) return null;
  const sub = jwtPayload(t.accessToken).sub;
  return {
    userId: typeof sub === "string" ? sub : "",
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    idToken: t.idToken,
    expiresAt: t.expiresAt,
  };
}

interface CompiledRoute extends RouteInfo {
  segments: string[];
  literals: number;
}

const compiled: CompiledRoute[] = routes.map((r) => {
  const segments = r.path.split("/");
  return { ...r, segments, literals: segments.filter((s) => !s.startsWith("{")).length };
});

/** The document's operation for a method and path (literal segments win over parameters). */
export function findRoute(method: string, path: string): RouteInfo | undefined {
  const parts = path.split("/");
  let best: CompiledRoute | undefined;
  for (const r of compiled) {
    if (r.method !== method || r.segments.length !== parts.length) continue;
    if (!r.segments.every((s, i) => s === parts[i] || (s.startsWith("{") && parts[i] !== ""))) continue;
    if (!best || r.literals > best.literals) best = r;
  }
  return best;
}

export interface TransportOptions {
  baseUrl: string;
  fetch: FetchFn;
  tokens: TokenStore;
}

/**
 * The one fetch every API request goes through: bearer token, refresh on
 * 401 (one refresh in flight), Idempotency-Key on the operations that take
 * one, and retries after network errors and 503.
 */
export class Transport {
  readonly baseUrl: string;
  readonly baseFetch: FetchFn;
  readonly tokens: TokenStore;
  private readonly origin: string;
  private readonly prefix: string;
  private refreshing: Promise<StoredTokens | null> | null = null;
  private readonly listeners = new Set<(s: Session | null) => void>();

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.baseFetch = options.fetch;
    this.tokens = options.tokens;
    const u = new URL(this.baseUrl);
    this.origin = u.origin;
    this.prefix = u.pathname.replace(/\/+$/, "");
    this.tokens.subscribe?.(() => this.emit());
  }

  /** The fetch to give openapi-fetch (and used by the helpers). */
  readonly fetch: FetchFn = (input, init) => this.send(new Request(input, init));

  session(): Session | null {
    return toSession(this.tokens.get());
  }

  onChange(fn: (s: Session | null) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    const s = this.session();
    for (const fn of [...this.listeners]) {
      try {
        fn(s);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  /** Stores the tokens of a sign-in (or null) and tells the listeners. */
  setTokens(t: StoredTokens | null): void {
    this.tokens.set(t);
    this.emit();
  }

  /** The route of a URL of this API, if it is one. */
  route(method: string, url: string): RouteInfo | undefined {
    const u = new URL(url);
    if (u.origin !== this.origin || !u.pathname.startsWith(this.prefix)) return undefined;
    return findRoute(method, u.pathname.slice(this.prefix.length) || "/");
  }

  /**
   * Refreshes the tokens; concurrent callers share one request. Resolves to
   * the new tokens, or null when signed out (no session, or the refresh
   * token was refused: then the session is cleared and listeners told).
   * Rejects with a CloudpostProblem when the refresh could not be done for
   * another reason (network, 429, 5xx): the session stays.
   */
  refresh(): Promise<StoredTokens | null> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<StoredTokens | null> {
    const cur = this.tokens.get();
    if (!cur) return null;
    const url = `${this.baseUrl}/v1/auth/refresh`;
    let res: Response;
    try {
      res = await this.baseFetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refreshToken: cur.refreshToken }),
      });
    } catch (err) {
      throw CloudpostProblem.network(err, url);
    }
    if (!res.ok) {
      const problem = await CloudpostProblem.fromResponse(res);
      if (res.status === 400 || res.status === 401 || res.status === 403) {
        // Refused: signed out (unless someone signed in again meanwhile).
        if (this.tokens.get()?.refreshToken === cur.refreshToken) this.setTokens(null);
        return this.tokens.get();
      }
      throw problem;
    }
    const data = (await res.json()) as {
      accessToken: string;
      idToken?: string;
      refreshToken?: string;
      expiresIn: number;
    };
    const now = this.tokens.get();
    if (now?.refreshToken !== cur.refreshToken) return now; // signed out or in meanwhile
    const next: StoredTokens = {
      accessToken: data.accessToken,
      idToken: data.idToken,
      refreshToken: data.refreshToken || cur.refreshToken,
      expiresAt: Date.now() + data.expiresIn * 1000,
    };
    this.setTokens(next);
    return next;
  }

  /** Fresh tokens after usedToken got a 401: a refresh, unless one already replaced it. */
  private async tokensAfter401(usedToken: string): Promise<StoredTokens | null> {
    const cur = this.tokens.get();
    if (!cur) return null;
    if (cur.accessToken !== usedToken) return cur;
    return this.refresh();
  }

  private async send(original: Request): Promise<Response> {
    const method = original.method.toUpperCase();
    const route = this.route(method, original.url);
    const headers = new Headers(original.headers);
    if (route?.idempotent && !headers.has("Idempotency-Key")) headers.set("Idempotency-Key", newIdempotencyKey());
    const keyed = headers.has("Idempotency-Key");
    const retryable = keyed || RETRYABLE_METHODS.has(method);
    const bearer = !!route?.bearer && !headers.has("Authorization");
    const body = original.body === null ? undefined : await original.arrayBuffer();
    const signal = original.signal;

    let attempt = 0;
    let refreshed = false;
    for (;;) {
      let usedToken: string | undefined;
      if (bearer) {
        let t = this.tokens.get();
        if (t && !refreshed && t.expiresAt - EXPIRY_MARGIN < Date.now()) {
          try {
            t = await this.refresh();
            refreshed = t !== null;
          } catch {
            // try the old token; a 401 refreshes again
          }
        }
        if (t) {
          headers.set("Authorization", `Bearer ${t.accessToken}`);
          usedToken = t.accessToken;
        } else {
          headers.delete("Authorization");
        }
      }
      let response: Response;
      try {
        response = await this.baseFetch(original.url, {
          method,
          headers,
          body,
          signal,
          redirect: original.redirect,
          cache: original.cache,
          credentials: original.credentials,
          mode: original.mode,
          referrerPolicy: original.referrerPolicy,
        });
      } catch (err) {
        if (signal.aborted || isAbortError(err)) throw err;
        if (retryable && attempt < MAX_RETRIES) {
          attempt++;
          await sleep(backoff(attempt), signal);
          continue;
        }
        throw CloudpostProblem.network(err, original.url);
      }
      if (response.status === 401 && usedToken !== undefined && !refreshed) {
        const t = await this.tokensAfter401(usedToken);
        if (t) {
          refreshed = true;
          await response.body?.cancel().catch(() => {});
          continue;
        }
        return response;
      }
      const inProgress = keyed && response.status === 409 && response.headers.has("Retry-After");
      if (retryable && attempt < MAX_RETRIES && (response.status === 503 || inProgress)) {
        const after = retryAfterSeconds(response);
        if (after === undefined || after <= MAX_RETRY_AFTER) {
          attempt++;
          await response.body?.cancel().catch(() => {});
          await sleep(after !== undefined ? Math.max(after * 1000, 100) : backoff(attempt), signal);
          continue;
        }
      }
      return response;
    }
  }
}
