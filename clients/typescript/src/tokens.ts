/** What a TokenStore keeps: the tokens of one signed-in session. */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  idToken?: string;
  /** When the access token expires, ms since the epoch. */
  expiresAt: number;
}

/**
 * Where the session's tokens live. Synchronous on purpose: the sign-in state
 * (`cp.auth.session()`) can be read while rendering.
 */
export interface TokenStore {
  get(): StoredTokens | null;
  set(tokens: StoredTokens | null): void;
  /** Calls fn when the tokens were changed elsewhere (e.g. another browser tab). */
  subscribe?(fn: () => void): () => void;
}

/** Tokens in memory (the default): gone when the process or page ends. */
export function memoryTokens(initial: StoredTokens | null = null): TokenStore {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (t) => {
      tokens = t;
    },
  };
}

function valid(v: unknown): v is StoredTokens {
  const t = v as StoredTokens;
  return !!t && typeof t === "object" && typeof t.accessToken === "string" && typeof t.refreshToken === "string";
}

/**
 * Tokens in the browser's localStorage under key, shared by the tabs of the
 * origin: a sign-in, refresh or sign-out in one tab is seen by the others.
 * Falls back to memory when localStorage is not available.
 */
export function localStorageTokens(key = "cloudpost.session"): TokenStore {
  const storage: Storage | undefined = (() => {
    try {
      return typeof localStorage !== "undefined" ? localStorage : undefined;
    } catch {
      return undefined; // access denied (e.g. sandboxed iframe)
    }
  })();
  if (!storage) return memoryTokens();
  return {
    get() {
      try {
        const raw = storage.getItem(key);
        if (!raw) return null;
        const v: unknown = JSON.parse(raw);
        return valid(v) ? v : null;
      } catch {
        return null;
      }
    },
    set(tokens) {
      try {
        if (tokens) storage.setItem(key, JSON.stringify(tokens));
        else storage.removeItem(key);
      } catch {
        // quota or privacy mode: the session lives until the page closes
      }
    },
    subscribe(fn) {
      if (typeof addEventListener !== "function") return () => {};
      const onStorage = (e: StorageEvent) => {
        if (e.key === key || e.key === null) fn();
      };
      addEventListener("storage", onStorage);
      return () => removeEventListener("storage", onStorage);
    },
  };
}
