// The polling delay: the base interval while requests succeed, doubling on each error up
// to a ceiling, back to the base after the next success.

export const MAX_BACKOFF_MS = 30_000;

export function nextDelay(baseMs: number, currentMs: number, ok: boolean, maxMs = MAX_BACKOFF_MS): number {
  if (ok) return baseMs;
  return Math.min(Math.max(currentMs, baseMs) * 2, maxMs);
}
