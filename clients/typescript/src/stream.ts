import type { Notification } from "./sync.js";
import { CloudpostProblem, retryAfterSeconds } from "./problem.js";
import { sleep, type Transport } from "./transport.js";

export interface StreamHandlers {
  /** A notification (replayed ones first after a resume, oldest first). */
  onNotification?: (notification: Notification) => void;
  /** The unread count: at once after each (re)connection and whenever it changes. */
  onUnread?: (unreadCount: number) => void;
  /** More was missed than a resume replays: read GET /v1/notifications again. */
  onReset?: (reason: string) => void;
  /** The session ended (sign-out, password reset, account deletion): the stream stops for good. */
  onEnd?: (reason: string) => void;
  /** A (re)connection failed. The stream keeps retrying, except when signed out (401) or refused (4xx). */
  onError?: (error: CloudpostProblem) => void;
  /** The stream is open (also after each reconnection). */
  onOpen?: () => void;
  /** Resume after this notification id (the first connection sends it as Last-Event-ID). */
  lastEventId?: string;
}

export interface StreamHandle {
  /** Stops the stream (no reconnection). */
  close(): void;
  /** The id of the last notification received (send it as lastEventId to resume later). */
  readonly lastEventId: string | undefined;
  /** True once closed (by close(), an `end` event, or a refusal). */
  readonly closed: boolean;
}

const MAX_DELAY = 30_000;

interface SSEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** Reads a text/event-stream body, calling onEvent per event; onRetry for `retry:` fields. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (e: SSEvent) => boolean | void,
  onRetry: (ms: number) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  let stop = false;
  const line = (l: string) => {
    if (l === "") {
      if (data.length) stop = onEvent({ event: event || "message", data: data.join("\n"), id }) === true;
      event = "";
      data = [];
      id = undefined;
      return;
    }
    if (l.startsWith(":")) return;
    const i = l.indexOf(":");
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? "" : l.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) id = value;
    else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      // Lines end with \r\n, \n or \r; keep a trailing \r (its \n may come next).
      let m: RegExpExecArray | null;
      const re = /\r\n|\n|\r(?=[^\n])/g;
      let start = 0;
      while ((m = re.exec(buf))) {
        line(buf.slice(start, m.index));
        start = m.index + m[0].length;
        if (stop) return;
      }
      buf = buf.slice(start);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * GET /v1/notifications/stream with the bearer token, read with fetch (no
 * EventSource needed), reconnecting with Last-Event-ID after the server's
 * retry delay until close() or an `end` event.
 */
export function streamNotifications(transport: Transport, handlers: StreamHandlers): StreamHandle {
  const stopper = new AbortController();
  let closed = false;
  let lastEventId = handlers.lastEventId || undefined;
  let retryMs = 2000;
  let failures = 0;

  const safe = <A extends unknown[]>(fn: ((...a: A) => void) | undefined, ...args: A) => {
    try {
      fn?.(...args);
    } catch (err) {
      setTimeout(() => {
        throw err;
      });
    }
  };
  let unsubscribe = () => {};
  const close = () => {
    closed = true;
    stopper.abort();
    unsubscribe();
  };
  // Signed out here (sign-out, refused refresh): the stream stops too.
  unsubscribe = transport.onChange((session) => {
    if (!session) close();
  });
  const fail = (p: CloudpostProblem) => safe(handlers.onError, p);

  const dispatch = (e: SSEvent): boolean => {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(e.data) as Record<string, unknown>;
    } catch {
      fail(new CloudpostProblem({ code: "Invalid", status: 0, title: "Malformed stream event", detail: e.data.slice(0, 200) }));
      return false;
    }
    switch (e.event) {
      case "notification":
        safe(handlers.onNotification, payload as unknown as Notification);
        if (e.id) lastEventId = e.id;
        return false;
      case "unread":
        safe(handlers.onUnread, Number(payload.unreadCount ?? 0));
        return false;
      case "reset":
        // Resuming from the old id would only reset again: the app reloads the inbox.
        lastEventId = undefined;
        safe(handlers.onReset, String(payload.reason ?? ""));
        return false;
      case "end":
        close();
        safe(handlers.onEnd, String(payload.reason ?? ""));
        return true;
      default:
        return false;
    }
  };

  const url = `${transport.baseUrl}/v1/notifications/stream`;

  (async () => {
    while (!closed) {
      let wait = retryMs;
      try {
        if (!transport.session()) {
          fail(new CloudpostProblem({ code: "Unauthenticated", status: 401, title: "Signed out", detail: "the notification stream needs a session" }));
          close();
          break;
        }
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        // Last-Event-ID, as EventSource sends it (the server's CORS allows it).
        if (lastEventId) headers["Last-Event-ID"] = lastEventId;
        const res = await transport.fetch(url, { headers, signal: stopper.signal, cache: "no-store" });
        if (!res.ok || !res.body) {
          const problem = await CloudpostProblem.fromResponse(res);
          fail(problem);
          if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
            close(); // signed out (the refresh failed), refused, or no stream here (404 on Lambda)
            break;
          }
          failures++;
          const after = retryAfterSeconds(res);
          wait = after !== undefined ? after * 1000 : Math.min(retryMs * 2 ** failures, MAX_DELAY);
        } else {
          failures = 0;
          safe(handlers.onOpen);
          await readEvents(res.body, dispatch, (ms) => {
            retryMs = ms;
          });
          wait = retryMs;
        }
      } catch (err) {
        if (closed || stopper.signal.aborted) break;
        failures++;
        wait = Math.min(retryMs * 2 ** failures, MAX_DELAY);
        fail(err instanceof CloudpostProblem ? err : CloudpostProblem.network(err, url));
      }
      if (closed) break;
      try {
        await sleep(wait, stopper.signal);
      } catch {
        break;
      }
    }
  })();

  return {
    close,
    get lastEventId() {
      return lastEventId;
    },
    get closed() {
      return closed;
    },
  };
}
