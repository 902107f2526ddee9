import { useEffect, useRef, useState, type FormEvent } from "react";
import { cp } from "../api";
import { Avatar, forgetUser } from "../media";
import { navigate } from "../route";
import { ScreenTitle, Status, UploadProgress, useUi, type Progress } from "../ui";
import type { Profile } from "../types";

/** The caller's profile: name, bio, avatar upload, and deleting the account. */
export function ProfileScreen() {
  const ui = useUi();
  const [me, setMe] = useState<Profile | null>(null);
  const [displayName, setDisplayName] = useState("");
  const [bio, setBio] = useState("");
  const [status, setStatus] = useState({ text: "", error: false });
  const [progress, setProgress] = useState<Progress | null>(null);
  const [avatarStatus, setAvatarStatus] = useState({ text: "", error: false });
  const [uploading, setUploading] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    cp.call(cp.api.GET("/v1/me")).then(
      (p) => {
        setMe(p);
        setDisplayName(p.displayName);
        setBio(p.bio);
      },
      (err) => setStatus({ text: ui.report(err), error: true }),
    );
  }, [ui]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setStatus({ text: "Saving…", error: false });
    try {
      const p = await cp.call(cp.api.PATCH("/v1/me", { body: { displayName, bio } }));
      setMe(p);
      forgetUser(p.id);
      setStatus({ text: "Profile saved.", error: false });
    } catch (err) {
      setStatus({ text: ui.report(err), error: true });
    }
  }

  async function uploadAvatar(file: File | undefined) {
    if (!file) return;
    setUploading(true);
    setProgress({ loaded: 0, total: file.size });
    setAvatarStatus({ text: "Uploading your avatar…", error: false });
    try {
      const media = await cp.upload(file, "avatar", {
        onProgress: ({ loaded }: { loaded: number; total: number }) => setProgress({ loaded: Math.min(loaded, file.size), total: file.size }),
      });
      setProgress({ loaded: file.size, total: file.size });
      const p = await cp.call(cp.api.PATCH("/v1/me", { body: { imageId: media.id } }));
      setMe(p);
      forgetUser(p.id);
      setAvatarStatus({ text: "Avatar updated.", error: false });
    } catch (err) {
      setAvatarStatus({ text: ui.report(err), error: true });
    } finally {
      setUploading(false);
      if (fileInput.current) fileInput.current.value = "";
    }
  }

  return (
    <section>
      <ScreenTitle>Profile</ScreenTitle>
      {me && (
        <>
          <section className="card" aria-labelledby="avatar-title">
            <h2 id="avatar-title">Avatar</h2>
            <div className="row">
              <Avatar media={me.image} name={me.displayName} size={96} />
              <div>
                <label htmlFor="pf-avatar">Choose a new avatar (JPEG, PNG, WebP or GIF)</label>
                <input
                  id="pf-avatar"
                  ref={fileInput}
                  type="file"
                  accept="image/jpeg,image/png,image/webp,image/gif"
                  disabled={uploading}
                  onChange={(e) => uploadAvatar(e.target.files?.[0])}
                />
                <UploadProgress id="pf-progress" label="Avatar upload progress" progress={progress} />
                <Status {...avatarStatus} />
              </div>
            </div>
          </section>
          <section className="card" aria-labelledby="details-title">
            <h2 id="details-title">Details</h2>
            <p>
              Email: <span data-testid="my-email">{me.email}</span>
            </p>
            <form onSubmit={save}>
              <label htmlFor="pf-name">Display name</label>
              <input id="pf-name" required maxLength={50} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
              <label htmlFor="pf-bio">Bio</label>
              <textarea id="pf-bio" maxLength={500} rows={3} value={bio} onChange={(e) => setBio(e.target.value)} />
              <button type="submit">Save profile</button>
              <Status {...status} />
            </form>
          </section>
          <DeleteAccount email={me.email} />
        </>
      )}
      {!me && <Status {...status} />}
    </section>
  );
}

/** Deleting the account takes a second, explicit step. */
function DeleteAccount({ email }: { email: string }) {
  const ui = useUi();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState({ text: "", error: false });
  const confirmButton = useRef<HTMLButtonElement>(null);
  const startButton = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (asking) confirmButton.current?.focus();
  }, [asking]);

  async function remove() {
    setBusy(true);
    setStatus({ text: "Deleting your account…", error: false });
    try {
      await cp.auth.deleteAccount(); // DELETE /v1/me, then signed out locally
      ui.announce(`The account ${email} was deleted.`);
      navigate({ name: "signup" });
    } catch (err) {
      setStatus({ text: ui.report(err), error: true });
      setBusy(false);
    }
  }

  return (
    <section className="card danger" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete account</h2>
      {!asking ? (
        <button type="button" ref={startButton} onClick={() => setAsking(true)}>
          Delete my account…
        </button>
      ) : (
        <div role="group" aria-labelledby="delete-question">
          <p id="delete-question">
            Delete <strong>{email}</strong> with all its posts, comments, notifications and images? This cannot be undone.
          </p>
          <button type="button" ref={confirmButton} className="destructive" onClick={remove} disabled={busy}>
            Yes, delete my account
          </button>{" "}
          <button
            type="button"
            onClick={() => {
              setAsking(false);
              setTimeout(() => startButton.current?.focus());
            }}
            disabled={busy}
          >
            Cancel
          </button>
        </div>
      )}
      <Status {...status} />
    </section>
  );
}
