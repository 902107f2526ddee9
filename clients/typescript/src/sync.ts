import type { Client } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";
import type { Unwrap } from "./call.js";

type Schemas = components["schemas"];
export type SyncPage = Schemas["Sync"];
export type Profile = Schemas["Profile"];
export type Post = Schemas["Post"];
export type Comment = Schemas["Comment"];
export type Notification = Schemas["Notification"];
export type Deleted = SyncPage["deleted"][number];

/** What the caller has, as the sync feed told it. */
export interface SyncStore {
  profile: Profile | null;
  posts: Map<string, Post>;
  comments: Map<string, Comment>;
  notifications: Map<string, Notification>;
}

/** What one pull() changed (every page until hasMore was false). */
export interface SyncChanges {
  /** The server sent a full snapshot: the store was replaced. */
  full: boolean;
  /** The profile, when it changed. */
  profile: Profile | null;
  posts: Post[];
  comments: Comment[];
  notifications: Notification[];
  deleted: Deleted[];
  /** The cursor after this pull (save it to resume). */
  cursor: string;
}

export interface SyncOptions {
  /** A cursor saved from an earlier sync; without one the first pull is full. */
  cursor?: string | null;
  /** Called after a pull that changed something. */
  onChange?: (changes: SyncChanges, sync: Sync) => void;
  /** Stop a pull (rejects with an AbortError). */
  signal?: AbortSignal;
}

export interface Sync {
  /** GET /v1/sync from the cursor, again while hasMore, applying each page to the store. */
  pull(): Promise<SyncChanges>;
  /** The cursor to continue from (null before the first pull). */
  readonly cursor: string | null;
  /** The local store. */
  readonly store: SyncStore;
  /** Forgets the cursor and empties the store (the next pull is full). */
  reset(): void;
}

function emptyStore(): SyncStore {
  return { profile: null, posts: new Map(), comments: new Map(), notifications: new Map() };
}

function isEmpty(c: SyncChanges): boolean {
  return !c.full && !c.profile && !c.posts.length && !c.comments.length && !c.notifications.length && !c.deleted.length;
}

/** The sync helper of a client (the same as cp.sync(options)): keeps the cursor and a store; see Sync. */
export function createSync(client: { api: Client<paths>; call: Unwrap }, options: SyncOptions = {}): Sync {
  const { api, call } = client;
  let cursor: string | null = options.cursor ?? null;
  let store = emptyStore();
  let running: Promise<SyncChanges> | null = null;
  let generation = 0;

  function apply(page: SyncPage, changes: SyncChanges) {
    if (page.full && !changes.full) {
      // A snapshot: it replaces the store (its continuation pages add to it).
      store.profile = null;
      store.posts.clear();
      store.comments.clear();
      store.notifications.clear();
      changes.full = true;
    }
    if (page.profile) {
      store.profile = page.profile;
      changes.profile = page.profile;
    }
    for (const p of page.posts) store.posts.set(p.id, p);
    for (const c of page.comments) store.comments.set(c.id, c);
    for (const n of page.notifications) store.notifications.set(n.id, n);
    for (const d of page.deleted) {
      if (d.type === "post") store.posts.delete(d.id);
      else if (d.type === "comment") store.comments.delete(d.id);
      else if (d.type === "notification") store.notifications.delete(d.id);
      else if (d.type === "profile" && store.profile?.id === d.id) store.profile = null;
    }
    changes.posts.push(...page.posts);
    changes.comments.push(...page.comments);
    changes.notifications.push(...page.notifications);
    changes.deleted.push(...page.deleted);
  }

  async function run(): Promise<SyncChanges> {
    const gen = generation;
    const changes: SyncChanges = {
      full: false,
      profile: null,
      posts: [],
      comments: [],
      notifications: [],
      deleted: [],
      cursor: cursor ?? "",
    };
    for (;;) {
      const query = cursor ? { cursor } : {};
      const page = await call(api.GET("/v1/sync", { params: { query }, signal: options.signal }));
      if (gen !== generation) throw new DOMException("sync was reset", "AbortError");
      apply(page, changes);
      cursor = page.cursor;
      changes.cursor = page.cursor;
      if (!page.hasMore) break;
    }
    if (!isEmpty(changes)) options.onChange?.(changes, sync);
    return changes;
  }

  const sync: Sync = {
    pull() {
      running ??= run().finally(() => {
        running = null;
      });
      return running;
    },
    get cursor() {
      return cursor;
    },
    get store() {
      return store;
    },
    reset() {
      generation++;
      cursor = null;
      store = emptyStore();
      running = null;
    },
  };
  return sync;
}
