import { vi } from "vitest";

export interface Call {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

type Handler = (call: Call) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

/**
 * Stubs `fetch` with handlers keyed by "METHOD /path" (the query string is not part of the
 * key); records every call. An unmatched request is a 404 so a test fails visibly.
 */
export function stubFetch(routes: Record<string, Handler>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? "GET";
      const call: Call = {
        method,
        url,
        body: init.body ? JSON.parse(String(init.body)) : undefined,
        headers: (init.headers ?? {}) as Record<string, string>,
      };
      calls.push(call);
      const path = url.split("?")[0];
      const handler = routes[`${method} ${path}`];
      const answer = handler
        ? await handler(call)
        : { status: 404, body: { error: { code: "NOT_FOUND", message: `no stub for ${method} ${path}` } } };
      return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
        status: answer.status,
        headers: { "Content-Type": "application/json" },
      });
    }),
  );
  return calls;
}

export const SESSION = {
  csrf_token: "csrf-123",
  expires_at: "2026-12-05T18:00:00Z",
  api_key: { id: "key-1", name: "bootstrap", prefix: "hrld_abcdefg" },
};

export const OVERVIEW = {
  generated_at: "2026-12-05T10:00:00Z",
  window_seconds: 300,
  accepted: 120,
  sent: 110,
  failed: 3,
  per_minute: { accepted: 24, sent: 22, failed: 0.6 },
  queue: { depth: 7, oldest_waiting_at: "2026-12-05T09:59:58Z", oldest_waiting_age_seconds: 1.5 },
  dead_letters: 2,
  providers: [{ name: "mock", channel: "sms", breaker: "half_open" }],
  providers_known: true,
};

export const unauthorized = {
  status: 401,
  body: { error: { code: "UNAUTHORIZED", message: "unknown or revoked API key" } },
};
