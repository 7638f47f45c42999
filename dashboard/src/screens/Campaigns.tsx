import { useState } from "react";
import { type CampaignList, get, query } from "../api";
import { Badge, DataTable, ErrorText, PageHeader, SelectField } from "../components/ui";
import { formatTime } from "../lib/format";
import { usePoll } from "../lib/hooks";

const PAGE_SIZE = 20;
const LIVE_MS = 3000;
export const CAMPAIGN_STATUSES = ["draft", "scheduled", "sending", "sent", "failed"];
export const CAMPAIGN_CHANNELS = ["sms", "whatsapp"];

export function Campaigns() {
  const [status, setStatus] = useState("");
  const [channel, setChannel] = useState("");
  const [page, setPage] = useState(1);
  // Pages of one snapshot never shift when campaigns are created meanwhile.
  const [snapshot, setSnapshot] = useState<number | null>(null);
  const path = `/campaigns${query({ page, page_size: PAGE_SIZE, status, channel, snapshot: page > 1 ? snapshot : null })}`;
  // Statuses change while a campaign on the page sends: refresh the page until none does.
  const [sending, setSending] = useState(false);
  const list = usePoll(
    async () => {
      const result = await get<CampaignList>(path);
      if (page === 1) setSnapshot(result.pagination.snapshot);
      setSending(result.data.some((c) => c.status === "sending"));
      return result;
    },
    LIVE_MS,
    sending,
    path,
  );

  const filter = (set: (v: string) => void) => (value: string) => {
    set(value);
    setPage(1);
  };
  const pagination = list.data?.pagination;

  return (
    <section>
      <PageHeader title="Campaigns">
        <a className="button primary" href="#/campaigns/new">
          New campaign
        </a>
      </PageHeader>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter campaigns">
        <SelectField
          id="campaign-status"
          label="Status"
          any
          options={CAMPAIGN_STATUSES}
          value={status}
          onChange={(e) => filter(setStatus)(e.target.value)}
        />
        <SelectField
          id="campaign-channel"
          label="Channel"
          any
          options={CAMPAIGN_CHANNELS}
          value={channel}
          onChange={(e) => filter(setChannel)(e.target.value)}
        />
      </form>
      <ErrorText error={list.error} />
      <DataTable
        caption="Campaigns, newest first"
        columns={["Name", "Status", "Channel", "Created"]}
        busy={list.loading}
        skeleton={!list.data && list.loading}
        empty={
          list.data && list.data.data.length === 0 ? (
            <>
              {status || channel ? "No campaign matches these filters." : "No campaigns yet. "}
              {!status && !channel ? <a href="#/campaigns/new">Create the first one</a> : null}
            </>
          ) : null
        }
      >
        {list.data?.data.map((c) => (
          <tr key={c.id}>
            <td>
              <a href={`#/campaigns/${c.id}`}>{c.name}</a>
            </td>
            <td>
              <Badge value={c.status} />
            </td>
            <td>{c.channel}</td>
            <td>{formatTime(c.created_at)}</td>
          </tr>
        ))}
      </DataTable>
      {pagination && pagination.total_pages > 1 ? (
        <nav className="pager" aria-label="Campaign pages">
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Previous
          </button>
          <span>
            Page {pagination.page} of {pagination.total_pages} ({pagination.total_count} campaigns)
          </span>
          <button type="button" disabled={!pagination.next} onClick={() => setPage(page + 1)}>
            Next
          </button>
        </nav>
      ) : null}
    </section>
  );
}
