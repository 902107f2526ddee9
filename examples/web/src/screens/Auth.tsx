import { useEffect, useState, type FormEvent } from "react";
import { cp, CloudpostProblem } from "../api";
import { href, navigate } from "../route";
import { ScreenTitle, Status, useUi } from "../ui";

// The password typed at sign-up, kept in memory only, so that confirming
// the code can sign in at once.
let pendingSignUp: { email: string; password: string } | null = null;

export function SignUp() {
  const ui = useUi();
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState({ text: "", error: false });

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setStatus({ text: "Creating your account…", error: false });
    try {
      await cp.auth.signUp({ email, password, displayName });
      pendingSignUp = { email, password };
      ui.announce("Account created. Enter the confirmation code.");
      navigate({ name: "confirm", email });
    } catch (err) {
      setStatus({ text: ui.report(err), error: true });
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="signup-title" className="card narrow">
      <ScreenTitle>
        <span id="signup-title">Sign up</span>
      </ScreenTitle>
      <form onSubmit={submit}>
        <label htmlFor="su-name">Display name</label>
        <input id="su-name" required maxLength={50} autoComplete="nickname" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
        <label htmlFor="su-email">Email</label>
        <input id="su-email" type="email" required maxLength={254} autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="su-password">Password</label>
        <input
          id="su-password"
          type="password"
          required
          minLength={8}
          maxLength={256}
          autoComplete="new-password"
          aria-describedby="su-password-hint"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <p id="su-password-hint" className="hint">
          At least 8 characters, with a letter and a digit.
        </p>
        <button type="submit" disabled={busy}>
          Create account
        </button>
        <Status {...status} />
      </form>
      <p>
        Already have an account? <a href={href({ name: "signin" })}>Sign in</a>
      </p>
    </section>
  );
}

/** The newest code in the dev mailbox (local identity provider only), or null. */
async function codeFromDevMail(email: string): Promise<string | null> {
  const messages = await cp.auth.devMail(email);
  return messages[0]?.code ?? null;
}

export function Confirm({ email: initialEmail }: { email: string }) {
  const ui = useUi();
  const [email, setEmail] = useState(initialEmail);
  const [code, setCode] = useState("");
  const [local, setLocal] = useState<"checking" | "yes" | "no">("checking");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState({ text: "", error: false });

  // Local mode: the local identity provider "mails" codes to GET /v1/dev/mail.
  useEffect(() => {
    if (!email) {
      setLocal("no");
      return;
    }
    let alive = true;
    codeFromDevMail(email).then(
      (c) => {
        if (!alive) return;
        if (c) {
          setCode(c);
          setLocal("yes");
        } else setLocal("no");
      },
      () => alive && setLocal("no"),
    );
    return () => {
      alive = false;
    };
    // Only for the address the screen opened with.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setStatus({ text: "Confirming…", error: false });
    try {
      await cp.auth.confirm({ email, code });
      if (pendingSignUp && pendingSignUp.email === email) {
        setStatus({ text: "Confirmed. Signing in…", error: false });
        const { password } = pendingSignUp;
        pendingSignUp = null;
        await cp.auth.signIn(email, password);
        ui.announce("Welcome! You are signed in.");
        navigate({ name: "feed" });
      } else {
        ui.announce("Account confirmed. Sign in.");
        navigate({ name: "signin" });
      }
    } catch (err) {
      setStatus({ text: ui.report(err), error: true });
      setBusy(false);
    }
  }

  return (
    <section className="card narrow">
      <ScreenTitle>Confirm your email</ScreenTitle>
      {local === "yes" ? (
        <p className="local-note" data-testid="local-mode">
          Local mode: code read from the dev mailbox (<code>GET /v1/dev/mail</code> of the local identity provider).
        </p>
      ) : local === "no" ? (
        <p>Enter the code we mailed to {email || "you"}.</p>
      ) : (
        <p>Looking for the code…</p>
      )}
      <form onSubmit={submit}>
        <label htmlFor="cf-email">Email</label>
        <input id="cf-email" type="email" required autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="cf-code">Confirmation code</label>
        <input id="cf-code" required maxLength={16} inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} />
        <button type="submit" disabled={busy}>
          Confirm
        </button>
        <Status {...status} />
      </form>
    </section>
  );
}

export function SignIn() {
  const ui = useUi();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState({ text: "", error: false });
  const [unconfirmed, setUnconfirmed] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setUnconfirmed(false);
    setStatus({ text: "Signing in…", error: false });
    try {
      await cp.auth.signIn(email, password);
      ui.announce("Signed in.");
      navigate({ name: "feed" });
    } catch (err) {
      if (CloudpostProblem.is(err, "UserNotConfirmed")) {
        pendingSignUp = { email, password };
        setUnconfirmed(true);
      }
      setStatus({ text: ui.report(err), error: true });
      setBusy(false);
    }
  }

  return (
    <section className="card narrow">
      <ScreenTitle>Sign in</ScreenTitle>
      <form onSubmit={submit}>
        <label htmlFor="si-email">Email</label>
        <input id="si-email" type="email" required autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="si-password">Password</label>
        <input id="si-password" type="password" required autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <Status {...status} />
      </form>
      {unconfirmed && (
        <p>
          This account is not confirmed yet: <a href={href({ name: "confirm", email })}>confirm it</a>.
        </p>
      )}
      <p>
        New here? <a href={href({ name: "signup" })}>Create an account</a>
      </p>
    </section>
  );
}
