import type { Client } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";
import type { Unwrap } from "./call.js";
import { CloudpostProblem, isAbortError } from "./problem.js";
import { MAX_RETRIES, sleep } from "./transport.js";

export type Media = components["schemas"]["Media"];
export type MediaPurpose = components["schemas"]["UploadRequest"]["purpose"];
type PresignedUpload = components["schemas"]["Upload"]["upload"];

export interface UploadProgress {
  loaded: number;
  total: number;
}

export interface UploadOptions {
  /** Progress of the bytes sent to blob storage (browsers: as they go; Node: at start and end). */
  onProgress?: (progress: UploadProgress) => void;
  /** Aborts the upload and the wait for `ready` (rejects with the signal's reason, an AbortError). */
  signal?: AbortSignal;
  /** The content type to declare; default file.type. */
  contentType?: string;
  /** How long to wait for the item to become ready, ms (default 120 000; then a "Timeout" problem). */
  timeoutMs?: number;
}

interface SendResult {
  status: number;
  response: Response;
}

// Headers a browser sets itself (XMLHttpRequest and fetch refuse them).
const FORBIDDEN = new Set(["host", "content-length", "connection", "expect", "transfer-encoding"]);

function progressSafe(fn: ((p: UploadProgress) => void) | undefined, p: UploadProgress) {
  try {
    fn?.(p);
  } catch {
    // a throwing progress callback must not break the upload
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The upload was aborted.", "AbortError");
}

function sendWithXHR(
  up: PresignedUpload,
  body: Blob | FormData,
  total: number,
  options: UploadOptions,
): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const { signal, onProgress } = options;
    if (signal?.aborted) return reject(abortError(signal));
    const xhr = new XMLHttpRequest();
    xhr.open(up.method, up.url);
    if (up.method === "PUT") {
      for (const [k, v] of Object.entries(up.headers ?? {})) {
        if (!FORBIDDEN.has(k.toLowerCase())) xhr.setRequestHeader(k, v);
      }
    }
    xhr.upload.onprogress = (e) => progressSafe(onProgress, { loaded: e.loaded, total: e.lengthComputable ? e.total : total });
    const onAbort = () => xhr.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbort);
    xhr.onload = () => {
      done();
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
        const i = line.indexOf(":");
        if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      const status = xhr.status;
      const noBody = status === 204 || status === 205 || status === 304;
      resolve({ status, response: new Response(noBody ? null : xhr.responseText, { status, headers }) });
    };
    xhr.onerror = () => {
      done();
      reject(new TypeError(`upload to blob storage failed (${up.method} ${new URL(up.url).host})`));
    };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => {
      done();
      reject(signal ? abortError(signal) : new DOMException("The upload was aborted.", "AbortError"));
    };
    xhr.send(body);
  });
}

async function sendWithFetch(
  fetchFn: typeof fetch,
  up: PresignedUpload,
  body: Blob | FormData,
  total: number,
  options: UploadOptions,
): Promise<SendResult> {
  progressSafe(options.onProgress, { loaded: 0, total });
  const headers = new Headers();
  if (up.method === "PUT") {
    for (const [k, v] of Object.entries(up.headers ?? {})) {
      if (!FORBIDDEN.has(k.toLowerCase())) headers.set(k, v);
    }
  }
  const response = await fetchFn(up.url, { method: up.method, headers, body, signal: options.signal });
  if (response.ok || response.status === 412) progressSafe(options.onProgress, { loaded: total, total });
  return { status: response.status, response };
}

/**
 * Sends the bytes to blob storage as the presigned request says: PUT with
 * every signed header, or a multipart POST with the fields before the file.
 * Network errors and 5xx are retried (the request writes once: a 412 means
 * an earlier attempt already delivered the bytes).
 */
async function sendBytes(fetchFn: typeof fetch, up: PresignedUpload, file: Blob, options: UploadOptions) {
  const total = file.size;
  const useXHR = typeof XMLHttpRequest !== "undefined";
  for (let attempt = 0; ; attempt++) {
    let body: Blob | FormData = file;
    if (up.method === "POST") {
      const form = new FormData();
      for (const [k, v] of Object.entries(up.fields ?? {})) form.append(k, v);
      form.append("file", file);
      body = form;
    }
    let result: SendResult;
    try {
      result = useXHR ? await sendWithXHR(up, body, total, options) : await sendWithFetch(fetchFn, up, body, total, options);
    } catch (err) {
      if (options.signal?.aborted || isAbortError(err)) throw err;
      if (attempt < MAX_RETRIES) {
        await sleep(300 * 2 ** attempt, options.signal);
        continue;
      }
      throw CloudpostProblem.network(err, up.url);
    }
    const { status, response } = result;
    if ((status >= 200 && status < 300) || status === 412) return;
    if (status >= 500 && attempt < MAX_RETRIES) {
      await response.body?.cancel().catch(() => {});
      await sleep(300 * 2 ** attempt, options.signal);
      continue;
    }
    const problem = await CloudpostProblem.fromResponse(response);
    const fromApi = problem.body && typeof problem.body === "object" && "code" in problem.body;
    throw fromApi
      ? problem
      : new CloudpostProblem({
          code: "UploadFailed",
          status,
          title: "Blob storage refused the upload",
          detail: problem.detail,
          requestId: problem.requestId ?? response.headers.get("x-amz-request-id") ?? undefined,
          body: problem.body,
        });
  }
}

export async function uploadMedia(
  api: Client<paths>,
  call: Unwrap,
  fetchFn: typeof fetch,
  file: Blob,
  purpose: MediaPurpose,
  options: UploadOptions = {},
): Promise<Media> {
  const { signal } = options;
  const contentType = options.contentType ?? file.type;
  const created = await call(
    api.POST("/v1/uploads", { body: { purpose, contentType, size: file.size }, signal }),
  );
  const id = created.mediaId;
  await sendBytes(fetchFn, created.upload, file, options);
  let media = await call(api.POST("/v1/media/{id}/complete", { params: { path: { id } }, signal }));
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let delay = 150;
  while (media.status === "pending") {
    if (Date.now() >= deadline) {
      throw new CloudpostProblem({
        code: "Timeout",
        status: 0,
        title: "The upload was not processed in time",
        detail: `media ${id} still pending after ${timeoutMs} ms`,
      });
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), signal);
    delay = Math.min(delay * 1.6, 2000);
    media = await call(api.GET("/v1/media/{id}", { params: { path: { id } }, signal }));
  }
  if (media.status === "failed") {
    throw new CloudpostProblem({
      code: "MediaFailed",
      status: 422,
      title: "The image could not be processed",
      detail: media.failureReason ?? "failed",
      body: media,
    });
  }
  return media;
}
