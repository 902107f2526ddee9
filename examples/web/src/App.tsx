import { useCallback, useEffect, useMemo, useState } from "react";
import { cp, isNetworkError } from "./api";
import { apiUrl, pollSeconds } from "./config";
import { href, navigate, useRoute } from "./route";
import { makeUi, UiContext } from "./ui";
import { SignIn, SignUp, Confirm } from "./screens/Auth";
import { Feed } from "./screens/Feed";
import { NewPost } from "./screens/NewPost";
import { PostScreen } from "./screens/PostScreen";
import { ProfileScreen } from "./screens/Profile";
import { Notifications } from "./screens/Notifications";
import type { Session } from "@cloudpost/client";
import type { Notification } from "./types";

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null>(() => cp.auth.session());
  const [unreachable, setUnreachable] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const [unread, setUnread] = useState<number | null>(null);
  const [live, setLive] = useState<"off" | "live" | "polling">("off");
  const [latest, setLatest] = useState<Notification | null>(null);

  const ui = useMemo(() => makeUi(setAnnouncement, () => setUnreachable(true)), []);

  // Follow sign-in, refresh, sign-out (also in other tabs) and a refused refresh.
  useEffect(() => cp.auth.onChange(setSession), []);

  // Can this page reach the API at all? A CORS refusal looks like a network error to a page.
  useEffect(() => {
    cp.call(cp.api.GET("/healthz")).then(
      () => setUnreachable(false),
      (err: unknown) => isNetworkError(err) && setUnreachable(true),
    );
  }, []);

  const signedIn = !!session;
  const userId = session?.userId ?? "";

  // Notifications: the live stream moves the unread badge; if the stream
  // fails, poll the inbox instead.
  useEffect(() => {
    if (!signedIn) {
      setUnread(null);
      setLive("off");
      return;
    }
    let poll: ReturnType<typeof setInterval> | undefined;
    let stopped = false;
    const refresh = async () => {
      try {
        const page = await cp.call(cp.api.GET("/v1/notifications", { params: { query: { limit: 1 } } }));
        if (!stopped) setUnread(page.unreadCount);
      } catch (err) {
        ui.report(err);
      }
    };
    const startPolling = () => {
      if (poll || stopped) return;
      setLive("polling");
      void refresh();
      poll = setInterval(refresh, pollSeconds * 1000);
    };
    const stopPolling = () => {
      if (poll) clearInterval(poll);
      poll = undefined;
    };
    const stream = cp.notifications.stream({
      onOpen: () => {
        stopPolling();
        setLive("live");
      },
      onUnread: (n) => {
        setUnread(n);
        setLive("live");
      },
      onNotification: (n) => {
        setLatest(n);
        setAnnouncement("New notification: someone commented on your post.");
      },
      onReset: () => void refresh(),
      onEnd: () => setLive("off"),
      // The stream retries by itself; meanwhile the badge is polled.
      onError: () => startPolling(),
    });
    return () => {
      stopped = true;
      stream.close();
      if (poll) clearInterval(poll);
    };
  }, [signedIn, userId, ui]);

  const signOut = useCallback(async () => {
    try {
      await cp.auth.signOut();
    } catch (err) {
      ui.report(err);
    }
    setAnnouncement("Signed out.");
    navigate({ name: "signin" });
  }, [ui]);

  let screen;
  if (!signedIn) {
    screen =
      route.name === "signup" ? (
        <SignUp />
      ) : route.name === "confirm" ? (
        <Confirm email={route.email} />
      ) : (
        <SignIn />
      );
  } else {
    switch (route.name) {
      case "new":
        screen = <NewPost />;
        break;
      case "post":
        screen = <PostScreen id={route.id} key={route.id} />;
        break;
      case "profile":
        screen = <ProfileScreen />;
        break;
      case "notifications":
        screen = <Notifications latest={latest} />;
        break;
      default:
        screen = <Feed />;
    }
  }

  const current = (name: string) => (route.name === name ? "page" : undefined);

  return (
    <UiContext.Provider value={ui}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href({ name: "feed" })}>
          cloudpost
        </a>
        {signedIn ? (
          <nav aria-label="Main">
            <a href={href({ name: "feed" })} aria-current={current("feed")}>
              Feed
            </a>
            <a href={href({ name: "new" })} aria-current={current("new")}>
              New post
            </a>
            <a href={href({ name: "notifications" })} aria-current={current("notifications")} id="nav-notifications">
              Notifications{" "}
              <span
                className={unread ? "badge" : "badge zero"}
                data-testid="unread-badge"
                data-unread={unread ?? 0}
                data-live={live}
                aria-label={`${unread ?? 0} unread`}
              >
                {unread ?? 0}
              </span>
            </a>
            <a href={href({ name: "profile" })} aria-current={current("profile")}>
              Profile
            </a>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </nav>
        ) : (
          <nav aria-label="Account">
            <a href={href({ name: "signin" })} aria-current={current("signin")}>
              Sign in
            </a>
            <a href={href({ name: "signup" })} aria-current={current("signup")}>
              Sign up
            </a>
          </nav>
        )}
      </header>
      {unreachable && (
        <div role="alert" className="banner" id="api-unreachable">
          Cannot reach the API at {apiUrl}. Is <code>make run</code> running, and is this page's origin (
          {window.location.origin}) in <code>CLOUDPOST_CORS_ORIGINS</code>?
        </div>
      )}
      <main id="main">{screen}</main>
      <div role="status" aria-live="polite" className="flash" id="announcer">
        {announcement}
      </div>
      <footer className="foot">
        API: <code>{apiUrl}</code>
        {signedIn && (
          <span className="live-state" data-testid="live-state">
            {" "}
            · notifications {live === "live" ? "live" : live === "polling" ? `polled every ${pollSeconds} s` : "off"}
          </span>
        )}
      </footer>
    </UiContext.Provider>
  );
}
