import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";
import { createAuth, type Auth } from "./auth.js";
import { call, type Unwrap } from "./call.js";
import { streamNotifications, type StreamHandle, type StreamHandlers } from "./stream.js";
import { createSync, type Sync, type SyncOptions } from "./sync.js";
import { memoryTokens, type TokenStore } from "./tokens.js";
import { Transport } from "./transport.js";
import { uploadMedia, type Media, type MediaPurpose, type UploadOptions } from "./upload.js";

export { CloudpostProblem, type ProblemCode, type ServerProblemCode, type ClientProblemCode } from "./problem.js";
export { localStorageTokens, memoryTokens, type TokenStore, type StoredTokens } from "./tokens.js";
export { newIdempotencyKey, findRoute, type Session } from "./transport.js";
export { apiVersion, routes, type RouteInfo } from "./generated/routes.js";
export type { paths, components, operations } from "./generated/schema.js";
export type { Auth, SignUpRequest, SignUpResult, DevMailMessage } from "./auth.js";
export type { DataOf, ApiResult } from "./call.js";
export type { Media, MediaPurpose, UploadOptions, UploadProgress } from "./upload.js";
export type { Sync, SyncOptions, SyncChanges, SyncStore, SyncPage, Profile, Post, Comment, Notification, Deleted } from "./sync.js";
export type { StreamHandlers, StreamHandle } from "./stream.js";
export { createSync } from "./sync.js";

type Schemas = components["schemas"];
export type PublicProfile = Schemas["PublicProfile"];
export type Problem = Schemas["Problem"];
export type Upload = Schemas["Upload"];
export type Tokens = Schemas["Tokens"];
export type NotificationSettings = Schemas["NotificationSettings"];
export type Device = Schemas["Device"];
export type PostPage = Schemas["PostPage"];
export type CommentPage = Schemas["CommentPage"];
export type NotificationPage = Schemas["NotificationPage"];

export const DEFAULT_BASE_URL = "http://127.0.0.1:8000";

export interface CloudpostOptions {
  /** The API's base URL; default http://127.0.0.1:8000 (`make run`). */
  baseUrl?: string;
  /** Where the session's tokens are kept; default in memory (see localStorageTokens). */
  tokens?: TokenStore;
  /** The fetch every request uses (refresh and blob uploads included); default globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface Cloudpost {
  /** The openapi-fetch client of every path in the document, with bearer, refresh, idempotency and retries. */
  api: Client<paths>;
  /** Unwraps an openapi-fetch result: returns its data or throws a CloudpostProblem. */
  call: Unwrap;
  auth: Auth;
  /** Uploads an image and waits until it is ready (see UploadOptions). */
  upload(file: Blob, purpose: MediaPurpose, options?: UploadOptions): Promise<Media>;
  /** A sync helper (cursor + local store) for GET /v1/sync. */
  sync(options?: SyncOptions): Sync;
  notifications: {
    /** The live notification stream (fetch-based Server-Sent Events with resume). */
    stream(handlers: StreamHandlers): StreamHandle;
  };
  /** The base URL, without a trailing slash. */
  baseUrl: string;
  /** The wrapped fetch cp.api uses (bearer, refresh on 401, idempotency keys, retries). */
  fetch: typeof fetch;
}

/** A base URL made absolute (a relative one, e.g. "/api" behind a dev proxy, is resolved against the page). */
function absolute(baseUrl: string): string {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  return new URL(baseUrl || "/", page).href.replace(/\/+$/, "");
}

/** The cloudpost client. */
export function createCloudpost(options: CloudpostOptions = {}): Cloudpost {
  const baseFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const transport = new Transport({
    baseUrl: absolute(options.baseUrl ?? DEFAULT_BASE_URL),
    fetch: baseFetch,
    tokens: options.tokens ?? memoryTokens(),
  });
  const api = createClient<paths>({ baseUrl: transport.baseUrl, fetch: transport.fetch });
  return {
    api,
    call,
    auth: createAuth(api, transport, call),
    upload: (file, purpose, uploadOptions) => uploadMedia(api, call, baseFetch, file, purpose, uploadOptions),
    sync: (syncOptions) => createSync({ api, call }, syncOptions),
    notifications: {
      stream: (handlers) => streamNotifications(transport, handlers),
    },
    baseUrl: transport.baseUrl,
    fetch: transport.fetch as typeof fetch,
  };
}
