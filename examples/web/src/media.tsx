import { useEffect, useState } from "react";
import { cp } from "./api";
import type { Media, Post, PublicProfile } from "./types";

// Renditions the image pipeline makes (see Media.urls in the OpenAPI
// document): thumb is a 128x128 cover crop, small 320 and medium 1080 wide,
// large at most 2048 on the long edge. None is upscaled, so a small original
// has narrower files than these nominal widths; the browser still picks the
// smallest candidate that covers the displayed size.
export const VARIANT_WIDTHS = { thumb: 128, small: 320, medium: 1080, large: 2048 } as const;
type Variant = keyof typeof VARIANT_WIDTHS;

function srcset(m: Media, variants: Variant[]): string {
  return variants
    .filter((v) => m.urls[v])
    .map((v) => `${m.urls[v]} ${VARIANT_WIDTHS[v]}w`)
    .join(", ");
}

function fallback(m: Media, order: Variant[]): string | undefined {
  for (const v of order) if (m.urls[v]) return m.urls[v];
  return m.urls.original;
}

/** A description of a post's image from the post (media items carry no alt text of their own). */
export function altFor(post: Post, index: number, count: number): string {
  const text = post.body.trim().replace(/\s+/g, " ");
  const short = text.length > 120 ? `${text.slice(0, 117)}…` : text;
  return count > 1 ? `Image ${index + 1} of ${count} of the post: ${short}` : `Image of the post: ${short}`;
}

/**
 * A post's images. One image takes the column's width (small, medium or
 * large by displayed width and pixel density); several are square tiles in
 * a grid, where the square thumb fits small tiles (it is a cover crop like
 * the tile), then small and medium.
 */
export function PostImages({ post }: { post: Post }) {
  const media = post.media.filter((m) => m.status === "ready");
  if (media.length === 0) return null;
  const single = media.length === 1;
  const cols = media.length === 2 || media.length === 4 ? 2 : 3;
  // The layout (styles.css): main column 640px with 16px card padding and a
  // 1px border, so content is 606px wide; below 672px it is the viewport minus 66px.
  const content = "(max-width: 672px) calc(100vw - 66px), 606px";
  const sizes = single
    ? content
    : cols === 2
      ? "(max-width: 672px) calc(50vw - 37px), 299px"
      : "(max-width: 672px) calc(33vw - 27px), 198px";
  return (
    <ul className={single ? "images single" : `images grid cols-${cols}`} aria-label={single ? undefined : `${media.length} images`}>
      {media.map((m, i) => (
        <li key={m.id}>
          <a href={m.urls.large ?? m.urls.original ?? "#"} target="_blank" rel="noreferrer" title="Open full size">
            <img
              src={fallback(m, ["medium", "small", "large"])}
              srcSet={srcset(m, single ? ["small", "medium", "large"] : ["thumb", "small", "medium"])}
              sizes={sizes}
              alt={altFor(post, i, media.length)}
              loading={i < 2 ? "eager" : "lazy"}
              decoding="async"
              data-media-id={m.id}
            />
          </a>
        </li>
      ))}
    </ul>
  );
}

/** An avatar: the 128x128 thumb covers every size shown (at most 96 CSS px). */
export function Avatar({ media, name, size }: { media: Media | null | undefined; name: string; size: number }) {
  const style = { width: size, height: size };
  if (!media || media.status !== "ready" || !media.urls.thumb) {
    return (
      <span className="avatar placeholder" style={style} aria-hidden="true">
        {name.slice(0, 1).toUpperCase() || "?"}
      </span>
    );
  }
  return (
    <img
      className="avatar"
      style={style}
      src={media.urls.thumb}
      srcSet={`${media.urls.thumb} ${VARIANT_WIDTHS.thumb}w${media.urls.small ? `, ${media.urls.small} ${VARIANT_WIDTHS.small}w` : ""}`}
      sizes={`${size}px`}
      alt={`Avatar of ${name}`}
      data-media-id={media.id}
    />
  );
}

// Public profiles by id, fetched once per page load (names and avatars of authors).
const users = new Map<string, Promise<PublicProfile | null>>();

export function forgetUser(id: string) {
  users.delete(id);
}

export function useUser(id: string): PublicProfile | null {
  const [user, setUser] = useState<PublicProfile | null>(null);
  useEffect(() => {
    if (!id) return;
    let p = users.get(id);
    if (!p) {
      p = cp.call(cp.api.GET("/v1/users/{id}", { params: { path: { id } } })).catch(() => null) as Promise<PublicProfile | null>;
      users.set(id, p);
    }
    let alive = true;
    p.then((u) => alive && setUser(u));
    return () => {
      alive = false;
    };
  }, [id]);
  return user;
}
