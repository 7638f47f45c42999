// A hash router: herald's API owns real paths such as `/campaigns`, so the dashboard's
// locations live after the `#` (`#/campaigns/7`), which never reaches the server.
import { useEffect, useState } from "react";

export interface Route {
  /** The path without `#` and query, e.g. `/campaigns/7`. */
  path: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#/, "") || "/overview";
  const [path, search = ""] = text.split("?", 2);
  return { path: path === "/" || path === "" ? "/overview" : path, params: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const update = () => setHash(window.location.hash);
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return parseHash(hash);
}

export function navigate(path: string): void {
  window.location.hash = path;
}

/** Matches `/campaigns/:id` style patterns; returns the named parts or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const have = path.split("/");
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return params;
}
