import { useEffect, useRef, useState, type FormEvent } from "react";
import { cp } from "../api";
import { navigate } from "../route";
import { ScreenTitle, Status, UploadProgress, useUi, type Progress } from "../ui";

const ACCEPT = "image/jpeg,image/png,image/webp,image/gif";
const MAX_IMAGES = 10;

/**
 * Write a post with up to 10 images. Each image goes straight to blob
 * storage (cp.upload: presigned request, XHR progress, then the server
 * processes it); the post is created with the ready media ids.
 */
export function NewPost() {
  const ui = useUi();
  const [body, setBody] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState({ text: "", error: false });
  const abort = useRef<AbortController | null>(null);
  const previews = usePreviews(files);

  useEffect(() => () => abort.current?.abort(), []);

  function choose(list: FileList | null) {
    const chosen = Array.from(list ?? []).slice(0, MAX_IMAGES);
    setFiles(chosen);
    setProgress(null);
    setStatus({ text: chosen.length ? `${chosen.length} image${chosen.length > 1 ? "s" : ""} chosen.` : "", error: false });
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    const ctl = new AbortController();
    abort.current = ctl;
    try {
      const total = files.reduce((n, f) => n + f.size, 0);
      let done = 0;
      const mediaIds: string[] = [];
      if (files.length) setProgress({ loaded: 0, total });
      for (const [i, file] of files.entries()) {
        setStatus({ text: `Uploading image ${i + 1} of ${files.length}…`, error: false });
        const media = await cp.upload(file, "post", {
          signal: ctl.signal,
          onProgress: ({ loaded }: { loaded: number; total: number }) => setProgress({ loaded: done + Math.min(loaded, file.size), total }),
        });
        done += file.size;
        setProgress({ loaded: done, total });
        mediaIds.push(media.id);
      }
      setStatus({ text: "Publishing…", error: false });
      await cp.call(cp.api.POST("/v1/posts", { body: mediaIds.length ? { body, mediaIds } : { body } }));
      ui.announce("Post published.");
      navigate({ name: "feed" });
    } catch (err) {
      setStatus({ text: ui.report(err), error: true });
      setBusy(false);
    }
  }

  return (
    <section className="card">
      <ScreenTitle>New post</ScreenTitle>
      <form onSubmit={submit}>
        <label htmlFor="np-body">What's new?</label>
        <textarea id="np-body" required maxLength={5000} rows={4} value={body} onChange={(e) => setBody(e.target.value)} />
        <label htmlFor="np-images">Images (up to {MAX_IMAGES}; JPEG, PNG, WebP or GIF)</label>
        <input id="np-images" type="file" accept={ACCEPT} multiple disabled={busy} onChange={(e) => choose(e.target.files)} />
        {previews.length > 0 && (
          <ul className="previews" aria-label="Chosen images">
            {previews.map((p) => (
              <li key={p.url}>
                <img src={p.url} alt={`Chosen image ${p.name}`} width={96} height={96} />
              </li>
            ))}
          </ul>
        )}
        <UploadProgress id="np-progress" label="Upload progress" progress={progress} />
        <button type="submit" disabled={busy}>
          {busy ? "Publishing…" : "Publish"}
        </button>
        {busy && (
          <button type="button" onClick={() => abort.current?.abort()}>
            Cancel upload
          </button>
        )}
        <Status {...status} />
      </form>
    </section>
  );
}

/** Object URLs of the chosen files, revoked when they change. */
function usePreviews(files: File[]): { url: string; name: string }[] {
  const [list, setList] = useState<{ url: string; name: string }[]>([]);
  useEffect(() => {
    const next = files.map((f) => ({ url: URL.createObjectURL(f), name: f.name }));
    setList(next);
    return () => next.forEach((p) => URL.revokeObjectURL(p.url));
  }, [files]);
  return list;
}
