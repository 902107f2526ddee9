import { useEffect, useState } from "react";

// Hash routes keep the built app a set of static files (any static server,
// no rewrites) and keep `?api=` in the query string untouched.
export type Route =
  | { name: "feed" }
  | { name: "new" }
  | { name: "post"; id: string }
  | { name: "profile" }
  | { name: "notifications" }
  | { name: "signin" }
  | { name: "signup" }
  | { name: "confirm"; email: string };

export function parse(hash: string): Route {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  const q = new URLSearchParams(query);
  switch (parts[0]) {
    case "new":
      return { name: "new" };
    case "posts":
      return parts[1] ? { name: "post", id: decodeURIComponent(parts[1]) } : { name: "feed" };
    case "profile":
      return { name: "profile" };
    case "notifications":
      return { name: "notifications" };
    case "signin":
      return { name: "signin" };
    case "signup":
      return { name: "signup" };
    case "confirm":
      return { name: "confirm", email: q.get("email") ?? "" };
    default:
      return { name: "feed" };
  }
}

export function href(r: Route): string {
  switch (r.name) {
    case "post":
      return `#/posts/${encodeURIComponent(r.id)}`;
    case "confirm":
      return `#/confirm?email=${encodeURIComponent(r.email)}`;
    default:
      return `#/${r.name}`;
  }
}

export function navigate(r: Route): void {
  window.location.hash = href(r);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(window.location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}
