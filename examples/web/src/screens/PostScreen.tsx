import { useCallback, useEffect, useState, type FormEvent } from "react";
import { cp } from "../api";
import { Avatar, useUser } from "../media";
import { href } from "../route";
import { ScreenTitle, Status, useUi } from "../ui";
import { PostCard, formatTime } from "./PostCard";
import type { Comment, Post } from "../types";

/** A post with its comments (oldest first, paged) and a form to add one. */
export function PostScreen({ id }: { id: string }) {
  const ui = useUi();
  const [post, setPost] = useState<Post | null>(null);
  const [comments, setComments] = useState<Comment[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [status, setStatus] = useState({ text: "", error: false });
  const [body, setBody] = useState("");
  const [sending, setSending] = useState(false);
  const [formStatus, setFormStatus] = useState({ text: "", error: false });

  const loadComments = useCallback(
    async (from: string | null) => {
      const query: { limit: number; cursor?: string } = { limit: 50 };
      if (from) query.cursor = from;
      const page = await cp.call(cp.api.GET("/v1/posts/{id}/comments", { params: { path: { id }, query } }));
      setComments((old) => {
        const base = from ? old : [];
        const seen = new Set(base.map((c) => c.id));
        return [...base, ...page.items.filter((c) => !seen.has(c.id))];
      });
      setCursor(page.nextCursor ?? null);
    },
    [id],
  );

  useEffect(() => {
    let alive = true;
    (async () => {
      try {
        const p = await cp.call(cp.api.GET("/v1/posts/{id}", { params: { path: { id } } }));
        if (!alive) return;
        setPost(p);
        await loadComments(null);
        setStatus({ text: "", error: false });
      } catch (err) {
        if (alive) setStatus({ text: ui.report(err), error: true });
      } finally {
        if (alive) setLoading(false);
      }
    })();
    return () => {
      alive = false;
    };
  }, [id, loadComments, ui]);

  async function more() {
    try {
      await loadComments(cursor);
    } catch (err) {
      setStatus({ text: ui.report(err), error: true });
    }
  }

  async function send(e: FormEvent) {
    e.preventDefault();
    setSending(true);
    setFormStatus({ text: "Sending…", error: false });
    try {
      const c = await cp.call(cp.api.POST("/v1/posts/{id}/comments", { params: { path: { id } }, body: { body } }));
      setComments((old) => (cursor ? old : [...old, c]));
      setPost((p) => (p ? { ...p, commentCount: p.commentCount + 1 } : p));
      setBody("");
      setFormStatus({ text: "Comment added.", error: false });
    } catch (err) {
      setFormStatus({ text: ui.report(err), error: true });
    } finally {
      setSending(false);
    }
  }

  return (
    <section>
      <ScreenTitle>Post</ScreenTitle>
      <p>
        <a href={href({ name: "feed" })}>← Back to the feed</a>
      </p>
      {loading && <p>Loading…</p>}
      {post && <PostCard post={post} link={false} />}
      {post && (
        <section aria-labelledby="comments-title" className="card">
          <h2 id="comments-title">Comments ({post.commentCount})</h2>
          {comments.length === 0 ? (
            <p>No comments yet.</p>
          ) : (
            <ol className="comments">
              {comments.map((c) => (
                <li key={c.id}>
                  <CommentItem comment={c} />
                </li>
              ))}
            </ol>
          )}
          {cursor && (
            <button type="button" onClick={more}>
              Load more comments
            </button>
          )}
          <form onSubmit={send}>
            <label htmlFor="cm-body">Add a comment</label>
            <textarea id="cm-body" required maxLength={2000} rows={3} value={body} onChange={(e) => setBody(e.target.value)} />
            <button type="submit" disabled={sending}>
              Comment
            </button>
            <Status {...formStatus} />
          </form>
        </section>
      )}
      <Status {...status} />
    </section>
  );
}

function CommentItem({ comment }: { comment: Comment }) {
  const author = useUser(comment.authorId);
  const name = author?.displayName ?? "…";
  return (
    <article className="comment" data-comment-id={comment.id}>
      <Avatar media={author?.image} name={name} size={32} />
      <div>
        <span className="author">{name}</span> <time dateTime={comment.createdAt}>{formatTime(comment.createdAt)}</time>
        <p>{comment.body}</p>
      </div>
    </article>
  );
}
