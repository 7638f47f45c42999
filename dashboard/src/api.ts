// herald's API on the same origin, authenticated by the session cookie. The CSRF token
// lives in this module's memory only; a reload asks `GET /api/v1/session` for it again.

export interface ApiKeyBrief {
  id: string;
  name: string;
  prefix: string;
}

export interface Session {
  csrf_token: string;
  expires_at: string;
  api_key: ApiKeyBrief;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

/** Called on any 401: the session is gone, the app returns to sign-in. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "herald did not answer (network error)");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const json = text ? safeParse(text) : undefined;
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const failure = new ApiError(
      response.status,
      error?.code ?? "HTTP_" + response.status,
      error?.message ?? `herald answered ${response.status} ${response.statusText}`.trim(),
    );
    if (response.status === 401 && path !== SESSION_PATH) {
      csrfToken = null;
      onUnauthorized();
    }
    throw failure;
  }
  return json as T;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const SESSION_PATH = "/api/v1/session";

export async function signIn(apiKey: string): Promise<Session> {
  const session = await request<Session>("POST", SESSION_PATH, { api_key: apiKey });
  csrfToken = session.csrf_token;
  return session;
}

/** The current session, or null when the cookie is missing or expired. */
export async function currentSession(): Promise<Session | null> {
  try {
    const session = await request<Session>("GET", SESSION_PATH);
    csrfToken = session.csrf_token;
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signOut(): Promise<void> {
  try {
    await request<void>("DELETE", SESSION_PATH);
  } finally {
    csrfToken = null;
  }
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => request<T>("PUT", path, body);
export const del = (path: string) => request<void>("DELETE", path);

/** A query string of the given parameters, leaving out empty ones. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

// ---- Response shapes (see crates/herald/src/api/*.rs and dashboard-contract.md) ----

export type Breaker = "closed" | "half_open" | "open";

export interface Overview {
  generated_at: string;
  window_seconds: number;
  accepted: number;
  sent: number;
  failed: number;
  per_minute: { accepted: number; sent: number; failed: number };
  queue: { depth: number; oldest_waiting_at: string | null; oldest_waiting_age_seconds: number | null };
  dead_letters: number;
  providers: { name: string; channel: string; breaker: Breaker }[];
  providers_known: boolean;
}

export type CampaignStatus = "draft" | "scheduled" | "sending" | "sent" | "failed";

export interface CampaignSummary {
  id: number;
  name: string;
  channel: string;
  status: CampaignStatus;
  scheduled_at: string | null;
  created_at: string;
}

export interface CampaignList {
  data: CampaignSummary[];
  pagination: {
    page: number;
    page_size: number;
    total_count: number;
    total_pages: number;
    snapshot: number;
    next: string | null;
    prev: string | null;
  };
}

export interface CampaignStats {
  total: number;
  pending: number;
  sending: number;
  sent: number;
  failed: number;
}

export interface Campaign extends CampaignSummary {
  base_template: string;
  updated_at: string;
}

export interface CampaignDetail extends Campaign {
  stats: CampaignStats;
}

export interface Customer {
  id: number;
  phone: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Preview {
  rendered_message: string;
  used_template: string;
  customer: { id: number; first_name: string | null };
  length: { characters: number; encoding: string; units: number; segments: number };
}

export interface MessageSummary {
  id: string;
  status: string;
  channel: string;
  recipient: string;
  user_id: string | null;
  campaign_id: number | null;
  attempts: number;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface TimelineEntry {
  type: string;
  status: string;
  detail: string | null;
  at: string;
}

export interface Notification {
  id: string;
  channel: string;
  to: string;
  from: string | null;
  body: string;
  subject: string | null;
  status: string;
  user_id: string | null;
  attempts: number;
  retry_count: number;
  segments: number | null;
  last_error: string | null;
  provider: string | null;
  provider_message_id: string | null;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
  events: TimelineEntry[];
}

export interface DeadLetter {
  id: string;
  channel: string;
  to: string;
  from: string | null;
  last_error: string | null;
  retry_count: number;
  provider: string | null;
  created_at: string;
  failed_at: string;
}

export interface Template {
  id: string;
  name: string;
  type: string;
  version: number;
  subject: string | null;
  body: string;
  html: string | null;
  variables: { name: string; required: boolean }[];
  category: string | null;
  transactional: boolean;
  created_at: string;
  updated_at: string;
}

export interface Preferences {
  user_id: string;
  channels: { sms?: boolean; whatsapp?: boolean; email?: boolean; push?: boolean };
  opted_out_categories: string[];
  quiet_hours: { start: string; end: string } | null;
  updated_at: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
  rate_limit_per_second: number | null;
}

export interface CreatedApiKey extends ApiKey {
  key: string;
}
