// Where the API is: `?api=` at run time wins, then VITE_CLOUDPOST_API_URL at
// build time, then `make run`'s http://127.0.0.1:8000.
const DEFAULT_API = "http://127.0.0.1:8000";

function fromQuery(name: string): string | null {
  try {
    return new URLSearchParams(window.location.search).get(name);
  } catch {
    return null;
  }
}

export const apiUrl: string = (
  fromQuery("api") ||
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
