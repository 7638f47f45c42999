import { useEffect, useRef } from "react";
import { get, type Overview as OverviewData } from "../api";
import { Badge, ErrorText, PageHeader, Skeleton } from "../components/ui";
import { formatAge, formatRate } from "../lib/format";
import { useNow, usePoll } from "../lib/hooks";

export const OVERVIEW_POLL_MS = 2000;
/** Set once the overview's numbers are first on screen (end-to-end tests read it). */
export const FIRST_RENDER_MARK = "herald:overview-numbers";

export function Overview() {
  const overview = usePoll(() => get<OverviewData>("/api/v1/overview"), OVERVIEW_POLL_MS);
  const data = overview.data;
  const marked = useRef(false);
  useEffect(() => {
    if (data && !marked.current) {
      marked.current = true;
      if (performance.getEntriesByName(FIRST_RENDER_MARK).length === 0) performance.mark(FIRST_RENDER_MARK);
    }
  }, [data]);

  return (
    <section aria-labelledby="overview-title">
      <PageHeader title="Overview">
        <Freshness updatedAt={overview.updatedAt} error={overview.error} delayMs={overview.delayMs} />
      </PageHeader>
      {overview.error ? <ErrorText error={`Could not refresh: ${overview.error}`} /> : null}
      <p className="hint">
        {data ? `Counts over the last ${Math.round(data.window_seconds / 60)} minutes.` : "\u00a0"}
      </p>
      <div className="stats" aria-busy={!data}>
        <Stat label="Accepted" value={data?.accepted} rate={data?.per_minute.accepted} />
        <Stat label="Sent" value={data?.sent} rate={data?.per_minute.sent} />
        <Stat
          label="Failed"
          value={data?.failed}
          rate={data?.per_minute.failed}
          tone={data && data.failed > 0 ? "bad" : undefined}
        />
        <Stat label="Queue depth" value={data?.queue.depth} />
        <Stat label="Oldest waiting" value={data ? formatAge(data.queue.oldest_waiting_age_seconds) : undefined} />
        <Stat
          label="Dead letters"
          value={data?.dead_letters}
          tone={data && data.dead_letters > 0 ? "warn" : undefined}
          href="#/dead-letters"
        />
      </div>
      <h2>Providers</h2>
      <div className="providers">
        {!data ? (
          <Skeleton className="skeleton-line" />
        ) : !data.providers_known ? (
          <p className="empty">This herald process runs no workers, so it knows no breaker states.</p>
        ) : data.providers.length === 0 ? (
          <p className="empty">No providers are configured.</p>
        ) : (
          <ul className="provider-list">
            {data.providers.map((p) => (
              <li key={`${p.channel}/${p.name}`}>
                <span className="provider-name">{p.name}</span> <span className="muted">{p.channel}</span>{" "}
                <Badge value={p.breaker} label={`breaker ${p.breaker.replace("_", " ")}`} />
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

function Stat({
  label,
  value,
  rate,
  tone,
  href,
}: {
  label: string;
  value: number | string | undefined;
  rate?: number;
  tone?: string;
  href?: string;
}) {
  const body = (
    <>
      <span className="stat-label">{label}</span>
      <span className="stat-value" data-testid={`stat-${label.toLowerCase().replace(/ /g, "-")}`}>
        {value === undefined ? <Skeleton className="skeleton-number" /> : value}
      </span>
      <span className="stat-rate">{rate === undefined ? "\u00a0" : `${formatRate(rate)} / min`}</span>
    </>
  );
  const className = `stat${tone ? ` stat-${tone}` : ""}`;
  return href ? (
    <a className={className} href={href}>
      {body}
    </a>
  ) : (
    <div className={className}>{body}</div>
  );
}

function Freshness({ updatedAt, error, delayMs }: { updatedAt: number | null; error: string | null; delayMs: number }) {
  const now = useNow();
  if (updatedAt === null) return <span className="freshness muted">Loading…</span>;
  const ago = Math.max(0, Math.round((now - updatedAt) / 1000));
  return (
    <span className="freshness muted" aria-live="off">
      Updated {ago} s ago{error ? ` · retrying in ${Math.round(delayMs / 1000)} s` : ""}
    </span>
  );
}
