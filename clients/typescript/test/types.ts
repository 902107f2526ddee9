// Compile-time checks of the public API (tsc -p test, in npm test): the names
// and types the web app uses.
import { createCloudpost, CloudpostProblem, localStorageTokens, type Post, type Media, type Session } from "../dist/index.js";
const cp = createCloudpost({ tokens: localStorageTokens("k") });
async function f() {
  const me = await cp.call(cp.api.GET("/v1/me"));
  const email: string = me.email;
  const post: Post = await cp.call(cp.api.POST("/v1/posts", { body: { body: "x", mediaIds: [] } }));
  const nothing: void = await cp.call(cp.api.DELETE("/v1/posts/{id}", { params: { path: { id: post.id } } }));
  const m: Media = await cp.upload(new Blob([]), "avatar", { onProgress: ({ loaded, total }) => {} });
  const s: Session | null = cp.auth.session();
  const off: () => void = cp.auth.onChange((x) => {});
  const h = cp.notifications.stream({ onNotification: (n) => n.postId, onUnread: (c: number) => {} });
  h.close();
  const sync = cp.sync({ onChange: (c) => c.deleted });
  const ch = await sync.pull();
  try {} catch (e) { if (CloudpostProblem.is(e, "NotFound")) e.requestId; }
  // @ts-expect-error unknown path
  cp.api.GET("/v1/nope");
  // @ts-expect-error wrong body
  cp.api.POST("/v1/posts", { body: { text: "x" } });
  return [email, nothing, m, s, off, ch];
}
f;
