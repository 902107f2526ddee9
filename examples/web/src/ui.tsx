import { createContext, useContext, useEffect, useRef, type ReactNode } from "react";
import { describe, isNetworkError } from "./api";

export interface Ui {
  /** Says something in the app's polite live region. */
  announce(text: string): void;
  /** Turns a failed call into a sentence; a network failure also raises the app's "cannot reach the API" alert. */
  report(err: unknown): string;
}

export const UiContext = createContext<Ui>({ announce: () => {}, report: describe });

export function useUi(): Ui {
  return useContext(UiContext);
}

export function makeUi(announce: (t: string) => void, unreachable: () => void): Ui {
  return {
    announce,
    report(err) {
      if (isNetworkError(err)) unreachable();
      return describe(err);
    },
  };
}

/** A screen's heading, focused when the screen opens so keyboard and screen reader users land on it. */
export function ScreenTitle({ children }: { children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1} className="screen-title">
      {children}
    </h1>
  );
}

/**
 * A form's status line. Both live regions stay in the page (a region added
 * together with its text is often not read): progress goes to the polite
 * one, errors to the assertive role=alert one.
 */
export function Status({ text, error }: { text: string; error?: boolean }) {
  return (
    <>
      <p role="status" aria-live="polite" className="status">
        {error ? "" : text}
      </p>
      <p role="alert" className="status error">
        {error ? text : ""}
      </p>
    </>
  );
}

export interface Progress {
  loaded: number;
  total: number;
}

/** An upload's progress bar: a <progress> with its label, percentage and data-percent (for tests). */
export function UploadProgress({ id, label, progress }: { id: string; label: string; progress: Progress | null }) {
  if (!progress) return null;
  const max = Math.max(progress.total, 1);
  const value = Math.min(progress.loaded, max);
  const pct = Math.round((value / max) * 100);
  return (
    <div className="upload-progress">
      <label htmlFor={id}>{label}</label>
      <progress id={id} value={value} max={max} aria-valuetext={`${pct}%`} data-percent={pct}>
        {pct}%
      </progress>
      <span aria-hidden="true">{pct}%</span>
    </div>
  );
}
