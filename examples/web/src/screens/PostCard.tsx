import { Avatar, PostImages, useUser } from "../media";
import { href } from "../route";
import type { Post } from "../types";

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** One post: author, text, images, and a link to its comments. */
export function PostCard({ post, link = true }: { post: Post; link?: boolean }) {
  const author = useUser(post.authorId);
  const name = author?.displayName ?? "…";
  return (
    <article className="card post" aria-labelledby={`post-${post.id}-author`} data-post-id={post.id}>
      <header className="post-head">
        <Avatar media={author?.image} name={name} size={40} />
        <div>
          <span className="author" id={`post-${post.id}-author`}>
            {name}
          </span>
          <br />
          <time dateTime={post.createdAt}>{formatTime(post.createdAt)}</time>
        </div>
      </header>
      <p className="body">{post.body}</p>
      <PostImages post={post} />
      {link && (
        <p className="post-foot">
          <a href={href({ name: "post", id: post.id })}>
            {post.commentCount === 1 ? "1 comment" : `${post.commentCount} comments`}
            <span className="sr-only"> on the post by {name}</span>
          </a>
        </p>
      )}
    </article>
  );
}
