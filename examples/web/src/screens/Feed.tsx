import { useCallback, useEffect, useRef, useState } from "react";
import { cp } from "../api";
import { pageSize } from "../config";
import { href } from "../route";
import { PostCard } from "./PostCard";
import { ScreenTitle, Status, useUi } from "../ui";
import type { Post } from "../types";

/**
 * Everyone's posts, newest first, paged with the API's keyset cursors: an
 * IntersectionObserver loads the next page when the end of the list scrolls
 * into view, and a "Load more" button does the same for keyboard users.
 */
export function Feed() {
  const ui = useUi();
  const [posts, setPosts] = useState<Post[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined); // undefined: first page not read; null: end
  const [loading, setLoading] = useState(false);
  const [status, setStatus] = useState({ text: "", error: false });
  const busy = useRef(false);
  const sentinel = useRef<HTMLDivElement>(null);

  const load = useCallback(
    async (from: string | null | undefined, reset = false) => {
      if (busy.current || from === null) return;
      busy.current = true;
      setLoading(true);
      setStatus({ text: "Loading posts…", error: false });
      try {
        const query: { limit: number; cursor?: string } = { limit: pageSize };
        if (from) query.cursor = from;
        const page = await cp.call(cp.api.GET("/v1/posts", { params: { query } }));
        setPosts((old) => {
          const base = reset ? [] : old;
          const seen = new Set(base.map((p) => p.id));
          return [...base, ...page.items.filter((p) => !seen.has(p.id))];
        });
        setCursor(page.nextCursor ?? null);
        setStatus({
          text: page.nextCursor ? `${page.items.length} more posts loaded.` : page.items.length || !reset ? "You're all caught up." : "",
          error: false,
        });
      } catch (err) {
        setStatus({ text: ui.report(err), error: true });
      } finally {
        busy.current = false;
        setLoading(false);
      }
    },
    [ui],
  );

  useEffect(() => {
    void load(undefined, true);
  }, [load]);

  // Infinite scroll: load the next page when the sentinel comes near the viewport.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || cursor === undefined || cursor === null) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) void load(cursor);
      },
      { rootMargin: "400px 0px" },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [cursor, load]);

  return (
    <section>
      <div className="row">
        <ScreenTitle>Feed</ScreenTitle>
        <button type="button" onClick={() => load(undefined, true)} disabled={loading}>
          Refresh
        </button>
      </div>
      {cursor !== undefined && posts.length === 0 && (
        <p>
          No posts yet. <a href={href({ name: "new" })}>Write the first one</a>.
        </p>
      )}
      <ol className="posts" aria-label="Posts" aria-busy={loading}>
        {posts.map((p) => (
          <li key={p.id}>
            <PostCard post={p} />
          </li>
        ))}
      </ol>
      <div ref={sentinel} className="sentinel" aria-hidden="true" />
      {cursor ? (
        <button type="button" className="load-more" onClick={() => load(cursor)} disabled={loading}>
          {loading ? "Loading…" : "Load more"}
        </button>
      ) : null}
      <Status {...status} />
    </section>
  );
}
