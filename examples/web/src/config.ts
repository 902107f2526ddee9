// Where the API is: `?api=` at run time wins, then VITE_CLOUDPOST_API_URL at
// build time, then `make run`'s http://127.0.0.1:8000.
const DEFAULT_API = "http://127.0.0.1:8000";

// `?api=` is honoured only by the dev server and by builds made with
// VITE_CLOUDPOST_API_PARAM=1 (the browser tests): in a deployed app, a
// crafted link to it would otherwise send the user's password and tokens to
// a server of the link's choosing.
const apiParamAllowed = import.meta.env.DEV || import.meta.env.VITE_CLOUDPOST_API_PARAM === "1";

function fromQuery(name: string): string | null {
  try {
    return new URLSearchParams(window.location.search).get(name);
  } catch {
    return null;
  }
}

export const apiUrl: string = (
  (apiParamAllowed ? fromQuery("api") : null) ||
  (import.meta.env.VITE_CLOUDPOST_API_URL as string | undefined) ||
  DEFAULT_API
).replace(/\/+$/, "");

/** Feed page size (`?limit=` lets a demo or a test show paging with few posts). */
export const pageSize: number = (() => {
  const n = Number(fromQuery("limit"));
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 10;
})();

/** Seconds between notification polls when the live stream is not available. */
export const pollSeconds: number = (() => {
  const n = Number(fromQuery("poll"));
  return Number.isFinite(n) && n >= 1 ? n : 15;
})();
