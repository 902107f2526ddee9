import type { Client } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";
import type { Session, Transport } from "./transport.js";
import type { Unwrap } from "./call.js";

type Schemas = components["schemas"];
export type SignUpRequest = Schemas["SignUpRequest"];
export type SignUpResult = Schemas["SignUpResult"];
export type DevMailMessage = Schemas["DevMail"]["messages"][number];

export interface Auth {
  /** POST /v1/auth/signup: a confirmation code is mailed (see devMail in local mode). */
  signUp(body: SignUpRequest): Promise<SignUpResult>;
  /** POST /v1/auth/confirm with the mailed code. */
  confirm(body: { email: string; code: string }): Promise<void>;
  /** POST /v1/auth/signin; stores the tokens and tells the listeners. */
  signIn(email: string, password: string): Promise<Session>;
  /**
   * POST /v1/auth/signout (revokes every refresh token of the account; with
   * deviceId, removes that push device first), then clears the local
   * session. The local sign-out happens even when the server cannot be reached.
   */
  signOut(options?: { deviceId?: string }): Promise<void>;
  /** The current session, or null when signed out. */
  session(): Session | null;
  /** Calls fn with the new session (or null) whenever it changes; returns the unsubscribe function. */
  onChange(fn: (session: Session | null) => void): () => void;
  /** Refreshes the tokens now (shares a refresh already in flight); null when signed out. */
  refresh(): Promise<Session | null>;
  /** DELETE /v1/me (the account and everything it owns), then signed out. */
  deleteAccount(): Promise<void>;
  /** GET /v1/dev/mail: the local identity provider's outbox for email, newest first. */
  devMail(email: string): Promise<DevMailMessage[]>;
}

export function createAuth(api: Client<paths>, transport: Transport, call: Unwrap): Auth {
  const session = () => transport.session();
  return {
    signUp: (body) => call(api.POST("/v1/auth/signup", { body })),
    async confirm(body) {
      await call(api.POST("/v1/auth/confirm", { body }));
    },
    async signIn(email, password) {
      const t = await call(api.POST("/v1/auth/signin", { body: { email, password } }));
      transport.setTokens({
        accessToken: t.accessToken,
        refreshToken: t.refreshToken,
        idToken: t.idToken,
        expiresAt: Date.now() + t.expiresIn * 1000,
      });
      return session()!;
    },
    async signOut(options = {}) {
      const cur = transport.tokens.get();
      try {
        if (cur) {
          const body: Schemas["SignOutRequest"] = { refreshToken: cur.refreshToken };
          if (options.deviceId) body.deviceId = options.deviceId;
          await call(api.POST("/v1/auth/signout", { body }));
        }
      } catch {
        // Signed out locally anyway: the server may be unreachable, or the
        // session already ended there.
      } finally {
        if (transport.tokens.get() !== null) transport.setTokens(null);
      }
    },
    session,
    onChange: (fn) => transport.onChange(fn),
    async refresh() {
      await transport.refresh();
      return session();
    },
    async deleteAccount() {
      await call(api.DELETE("/v1/me"));
      transport.setTokens(null);
    },
    async devMail(email) {
      const d = await call(api.GET("/v1/dev/mail", { params: { query: { to: email } } }));
      return d.messages;
    },
  };
}
