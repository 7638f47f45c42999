import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { errorMessage } from "../api";
import { nextDelay } from "./backoff";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  /** When the last successful answer arrived (ms since epoch). */
  updatedAt: number | null;
  reload: () => void;
}

/** Loads `load()` when `key` changes; the previous data stays shown while reloading. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{
    data: T | null;
    error: string | null;
    loading: boolean;
    updatedAt: number | null;
  }>({ data: null, error: null, loading: true, updatedAt: null });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    loadRef.current().then(
      (data) => live && setState({ data, error: null, loading: false, updatedAt: Date.now() }),
      (error) => live && setState((s) => ({ ...s, error: errorMessage(error), loading: false })),
    );
    return () => {
      live = false;
    };
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

export interface Polled<T> extends Loaded<T> {
  /** The delay before the next request: the base interval, or longer after errors. */
  delayMs: number;
}

/**
 * Polls `load()` every `baseMs` while `active`, doubling the delay after each error (up to
 * 30 s), and not at all while the tab is hidden (one request as soon as it shows again).
 */
export function usePoll<T>(load: () => Promise<T>, baseMs: number, active = true, key = ""): Polled<T> {
  const [state, setState] = useState<{
    data: T | null;
    error: string | null;
    loading: boolean;
    updatedAt: number | null;
    delayMs: number;
  }>({ data: null, error: null, loading: true, updatedAt: null, delayMs: baseMs });
  const loadRef = useRef(load);
  loadRef.current = load;
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = baseMs;
    let inFlight = false;

    const tick = async () => {
      timer = undefined;
      if (document.hidden || inFlight) return;
      inFlight = true;
      try {
        const data = await loadRef.current();
        if (!live) return;
        delay = nextDelay(baseMs, delay, true);
        setState({ data, error: null, loading: false, updatedAt: Date.now(), delayMs: delay });
      } catch (error) {
        if (!live) return;
        delay = nextDelay(baseMs, delay, false);
        setState((s) => ({ ...s, error: errorMessage(error), loading: false, delayMs: delay }));
      } finally {
        inFlight = false;
      }
      if (live && active && !document.hidden) timer = setTimeout(tick, delay);
    };
    const onVisibility = () => {
      if (document.hidden) {
        if (timer) clearTimeout(timer);
        timer = undefined;
      } else if (!timer && active) {
        void tick();
      }
    };
    void tick();
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [baseMs, active, key, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

/** The current time, re-read every second (for "updated 3 s ago"). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export interface Submitting {
  busy: boolean;
  error: string | null;
  submit: (event: FormEvent) => Promise<void>;
}

/**
 * A form's submit handler: busy from submission on (the form is expected to go away once
 * `action` succeeds), and on failure the error, described by `describe`, and usable again.
 */
export function useSubmit(
  action: () => Promise<void>,
  describe: (error: unknown) => string = errorMessage,
): Submitting {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(describe(e));
      setBusy(false);
    }
  };
  return { busy, error, submit };
}
