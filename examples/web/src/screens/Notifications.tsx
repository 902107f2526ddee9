import { useCallback, useEffect, useState } from "react";
import { cp } from "../api";
import { useUser } from "../media";
import { href } from "../route";
import { ScreenTitle, Status, useUi } from "../ui";
import { formatTime } from "./PostCard";
import type { Notification } from "../types";

/** The inbox, newest first; live notifications (from the stream) are added on top. */
export function Notifications({ latest }: { latest: Notification | null }) {
  const ui = useUi();
  const [items, setItems] = useState<Notification[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [status, setStatus] = useState({ text: "", error: false });

  const load = useCallback(
    async (from: string | null) => {
      try {
        const query: { limit: number; cursor?: string } = { limit: 20 };
        if (from) query.cursor = from;
        const page = await cp.call(cp.api.GET("/v1/notifications", { params: { query } }));
        setItems((old) => {
          const base = from ? old : [];
          const seen = new Set(base.map((n) => n.id));
          return [...base, ...page.items.filter((n) => !seen.has(n.id))];
        });
        setCursor(page.nextCursor ?? null);
      } catch (err) {
        setStatus({ text: ui.report(err), error: true });
      }
    },
    [ui],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  useEffect(() => {
    if (latest) setItems((old) => (old.some((n) => n.id === latest.id) ? old : [latest, ...old]));
  }, [latest]);

  async function markAll() {
    try {
      await cp.call(cp.api.POST("/v1/notifications/read", { body: { all: true } }));
      const now = new Date().toISOString();
      setItems((old) => old.map((n) => (n.readAt ? n : { ...n, readAt: now })));
      setStatus({ text: "All notifications marked as read.", error: false });
    } catch (err) {
      setStatus({ text: ui.report(err), error: true });
    }
  }

  async function open(n: Notification) {
    if (n.readAt) return;
    try {
      await cp.call(cp.api.POST("/v1/notifications/read", { body: { ids: [n.id] } }));
    } catch (err) {
      ui.report(err);
    }
  }

  return (
    <section>
      <div className="row">
        <ScreenTitle>Notifications</ScreenTitle>
        <button type="button" onClick={markAll} disabled={!items.some((n) => !n.readAt)}>
          Mark all as read
        </button>
      </div>
      {items.length === 0 ? (
        <p>Nothing yet. When someone comments on your posts, it shows here.</p>
      ) : (
        <ol className="notifications" aria-label="Notifications">
          {items.map((n) => (
            <li key={n.id} className={n.readAt ? "read" : "unread"}>
              <NotificationItem n={n} onOpen={() => open(n)} />
            </li>
          ))}
        </ol>
      )}
      {cursor && (
        <button type="button" onClick={() => load(cursor)}>
          Load more
        </button>
      )}
      <Status {...status} />
    </section>
  );
}

function NotificationItem({ n, onOpen }: { n: Notification; onOpen: () => void }) {
  const actor = useUser(n.actorId);
  return (
    <p>
      {!n.readAt && <span className="dot">New: </span>}
      <a href={href({ name: "post", id: n.postId })} onClick={onOpen}>
        {actor?.displayName ?? "Someone"} commented on your post
      </a>{" "}
      <time dateTime={n.createdAt}>{formatTime(n.createdAt)}</time>
    </p>
  );
}
