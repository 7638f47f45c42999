import { useState } from "react";
import { ApiError, type CampaignDetail, type CampaignStats, get } from "../api";
import { Badge, ErrorText, Fact, PageHeader, Skeleton } from "../components/ui";
import { formatTime } from "../lib/format";
import { usePoll } from "../lib/hooks";

const POLL_MS = 1500;

export function CampaignDetailScreen({ id }: { id: string }) {
  // Polls while messages are still on their way; a settled campaign is not polled again.
  const [settled, setSettled] = useState(false);
  const campaign = usePoll(
    async () => {
      try {
        const detail = await get<CampaignDetail>(`/campaigns/${encodeURIComponent(id)}`);
        setSettled(isSettled(detail));
        return detail;
      } catch (error) {
        // No such campaign: asking again will not make one.
        if (error instanceof ApiError && error.status === 404) setSettled(true);
        throw error;
      }
    },
    POLL_MS,
    !settled,
    id,
  );
  const data = campaign.data;

  return (
    <section>
      <PageHeader title={data ? data.name : `Campaign ${id}`}>
        <a href="#/campaigns">All campaigns</a>
      </PageHeader>
      <ErrorText error={campaign.error} />
      {campaign.error && !data ? null : <CampaignBody data={data} settled={settled} />}
    </section>
  );
}

function CampaignBody({ data, settled }: { data: CampaignDetail | null; settled: boolean }) {
  return (
    <>
      <dl className="facts">
        <Fact term="Status">{data ? <Badge value={data.status} /> : null}</Fact>
        <Fact term="Channel">{data?.channel}</Fact>
        <Fact term="Created">{data ? formatTime(data.created_at) : null}</Fact>
        <Fact term="Scheduled">{data ? formatTime(data.scheduled_at) : null}</Fact>
      </dl>
      <h2>Delivery</h2>
      <StatsBar stats={data?.stats} />
      <h2>Template</h2>
      {data ? <pre className="template">{data.base_template}</pre> : <Skeleton className="skeleton-block" />}
      {data ? (
        <p>
          <a href={`#/messages?campaign_id=${data.id}`}>This campaign's messages</a>
        </p>
      ) : null}
      <p className="muted live-note">
        {data && !settled ? "Updating live while messages are on their way." : "\u00a0"}
      </p>
    </>
  );
}

/**
 * Nothing left to watch: every message in a terminal state. A scheduled campaign waits
 * for its time, possibly days, and is not polled either.
 */
export function isSettled(detail: CampaignDetail): boolean {
  if (detail.status === "scheduled") return true;
  const waiting = detail.stats.pending + detail.stats.sending;
  return detail.stats.total > 0 ? waiting === 0 : detail.status !== "sending";
}

const PARTS: (keyof Omit<CampaignStats, "total">)[] = ["pending", "sending", "sent", "failed"];

export function StatsBar({ stats }: { stats: CampaignStats | undefined }) {
  const total = stats?.total ?? 0;
  return (
    <div className="statsbar" aria-busy={!stats}>
      <div className="bar" role="img" aria-label={stats ? PARTS.map((p) => `${stats[p]} ${p}`).join(", ") : "loading"}>
        {stats && total > 0
          ? PARTS.map((p) =>
              stats[p] > 0 ? (
                <span key={p} className={`bar-${p}`} style={{ width: `${(stats[p] / total) * 100}%` }} />
              ) : null,
            )
          : null}
      </div>
      <dl className="bar-legend">
        {PARTS.map((p) => (
          <div key={p}>
            <dt>
              <span className={`swatch bar-${p}`} aria-hidden="true" /> {p}
            </dt>
            <dd data-testid={`campaign-${p}`}>{stats ? stats[p] : <Skeleton className="skeleton-word" />}</dd>
          </div>
        ))}
        <div>
          <dt>total</dt>
          <dd data-testid="campaign-total">{stats ? stats.total : <Skeleton className="skeleton-word" />}</dd>
        </div>
      </dl>
    </div>
  );
}
