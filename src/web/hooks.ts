import { useCallback, useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, isAbort } from './api';
import type { Page } from './types';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (next: T | ((prev: T | undefined) => T)) => void;
}

/** GETs `path` (null: nothing yet) and reloads whenever it changes. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (path === null) return;
    const ctrl = new AbortController();
    setLoading(true);
    setError(undefined);
    api
      .get<T>(path, { signal: ctrl.signal })
      .then((d) => {
        setDataState(d);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (isAbort(err)) return;
        setError(err);
        setLoading(false);
      });
    return () => ctrl.abort();
  }, [path, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const setData = useCallback((next: T | ((prev: T | undefined) => T)) => {
    setDataState((prev) => (typeof next === 'function' ? (next as (p: T | undefined) => T)(prev) : next));
  }, []);
  return { data, error, loading, reload, setData };
}

export interface Paged<T> {
  items: T[];
  error: unknown;
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
  update: (fn: (items: T[]) => T[]) => void;
}

/** A cursor-paginated list: the first page for `path` (which already carries its query), then "Load more". */
export function usePaged<T>(path: string | null): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [tick, setTick] = useState(0);
  const generation = useRef(0);

  useEffect(() => {
    if (path === null) return;
    const ctrl = new AbortController();
    const gen = ++generation.current;
    setLoading(true);
    setError(undefined);
    api
      .get<Page<T>>(path, { signal: ctrl.signal })
      .then((page) => {
        if (gen !== generation.current) return;
        setItems(page.items);
        setCursor(page.nextCursor);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (isAbort(err)) return;
        setError(err);
        setItems([]);
        setCursor(null);
        setLoading(false);
      });
    return () => ctrl.abort();
  }, [path, tick]);

  const loadMore = useCallback(() => {
    if (!path || !cursor || loadingMore) return;
    const gen = generation.current;
    setLoadingMore(true);
    const sep = path.includes('?') ? '&' : '?';
    api
      .get<Page<T>>(`${path}${sep}cursor=${encodeURIComponent(cursor)}`)
      .then((page) => {
        if (gen !== generation.current) return;
        setItems((prev) => [...prev, ...page.items]);
        setCursor(page.nextCursor);
      })
      .catch((err: unknown) => setError(err))
      .finally(() => setLoadingMore(false));
  }, [path, cursor, loadingMore]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const update = useCallback((fn: (items: T[]) => T[]) => setItems(fn), []);
  return { items, error, loading, loadingMore, hasMore: cursor !== null, loadMore, reload, update };
}

/** Sets the document title as "<title> · <tenant> · Keydesk". */
export function useTitle(...parts: (string | undefined | null)[]): void {
  const title = [...parts.filter(Boolean), 'Keydesk'].join(' · ');
  useEffect(() => {
    document.title = title;
  }, [title]);
}

/** Runs `fn` when "/" is pressed outside a text field. */
export function useSlashKey(fn: () => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
      const el = e.target as HTMLElement | null;
      if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
      e.preventDefault();
      ref.current();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

/**
 * A list page's filters, kept in the address so that a link or the back button brings them back:
 * `set` changes some (an empty value removes one) and replaces the history entry rather than adding one.
 */
export function useFilterParams(): [URLSearchParams, (changes: Record<string, string | undefined>) => void] {
  const [params, setParams] = useSearchParams();
  const set = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };
  return [params, set];
}

/** The text of a search box, applied (`apply`) a moment after the last key unless it is what `current` already says. */
export function useTypedSearch(current: string, apply: (q: string) => void): [string, (text: string) => void] {
  const [search, setSearch] = useState(current);
  useEffect(() => {
    if (search.trim() === current) return;
    const timer = setTimeout(() => apply(search.trim()), 300);
    return () => clearTimeout(timer);
  }, [search]); // eslint-disable-line react-hooks/exhaustive-deps -- only the typed text restarts the timer
  return [search, setSearch];
}

/**
 * Actions with a busy flag and one shared error: `run(key, fn)` clears the error, marks `key` busy,
 * awaits `fn` and keeps what it threw; busy ends either way. `busy` names the action running.
 */
export function useKeyedTask() {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (key: string, fn: () => Promise<void>) => {
    setBusy(key);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  return { busy, error, setError, run };
}

/** useKeyedTask for one action: `busy` is whether it runs. */
export function useTask() {
  const task = useKeyedTask();
  return { busy: task.busy !== null, error: task.error, setError: task.setError, run: (fn: () => Promise<void>) => task.run('', fn) };
}
