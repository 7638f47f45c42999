import { type FormEvent, useEffect, useState } from "react";
import { errorMessage, get, type MessageSummary, type Page, query } from "../api";
import { Badge, DataTable, ErrorText, PageHeader, SelectField, TextField } from "../components/ui";
import { formatTime, shortId, UUID_PATTERN } from "../lib/format";
import { maskRecipient } from "../lib/mask";
import { navigate } from "../lib/router";

export const MESSAGE_STATUSES = [
  "pending",
  "scheduled",
  "sending",
  "sent",
  "delivered",
  "read",
  "undelivered",
  "failed",
  "suppressed",
  "cancelled",
];
export const CHANNELS = ["sms", "whatsapp", "email", "push"];

/** The search is exact: a phone number typed with spaces or dashes is sent in E.164. */
export function normalizeRecipient(text: string): string {
  const trimmed = text.trim();
  return /^\+?[0-9 ()-]+$/.test(trimmed) ? trimmed.replace(/[ ()-]/g, "") : trimmed;
}

interface Filters {
  recipient: string;
  status: string;
  channel: string;
  campaign_id: string;
}

export function Messages({ params }: { params: URLSearchParams }) {
  const [id, setId] = useState("");
  const [idError, setIdError] = useState<string | null>(null);
  const [filters, setFilters] = useState<Filters>({
    recipient: params.get("recipient") ?? "",
    status: params.get("status") ?? "",
    channel: params.get("channel") ?? "",
    campaign_id: params.get("campaign_id") ?? "",
  });
  const [results, setResults] = useState<MessageSummary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const openById = (event: FormEvent) => {
    event.preventDefault();
    const wanted = id.trim();
    if (!UUID_PATTERN.test(wanted)) {
      setIdError("A message id is a UUID, like 0192f7c4-5d1e-7a3b-9c2d-4e5f6a7b8c9d.");
      return;
    }
    setIdError(null);
    navigate(`/messages/${wanted}`);
  };

  const search = async (more: boolean) => {
    setLoading(true);
    setError(null);
    try {
      const wanted = { ...filters, recipient: normalizeRecipient(filters.recipient) };
      const page = await get<Page<MessageSummary>>(
        `/api/v1/notifications${query({ ...wanted, limit: 50, cursor: more ? cursor : null })}`,
      );
      setResults((current) => (more && current ? [...current, ...page.data] : page.data));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  };

  // The newest messages (of the campaign, when linked from one) before any search.
  useEffect(() => void search(false), []);

  const set = (key: keyof Filters) => (e: { target: { value: string } }) =>
    setFilters((f) => ({ ...f, [key]: e.target.value }));

  return (
    <section>
      <PageHeader title="Messages" />
      <form className="filters" onSubmit={openById} aria-label="Find a message by id">
        <TextField
          id="message-id"
          label="Message id"
          grow
          value={id}
          onChange={(e) => setId(e.target.value)}
          spellCheck={false}
          placeholder="uuid"
        />
        <button type="submit">Open</button>
      </form>
      <ErrorText error={idError} />
      <form
        className="filters"
        aria-label="Search messages"
        onSubmit={(e) => {
          e.preventDefault();
          void search(false);
        }}
      >
        <TextField
          id="message-recipient"
          label="Recipient (exact)"
          grow
          value={filters.recipient}
          onChange={set("recipient")}
          placeholder="+254712345678"
        />
        <SelectField
          id="message-status"
          label="Status"
          any
          options={MESSAGE_STATUSES}
          value={filters.status}
          onChange={set("status")}
        />
        <SelectField
          id="message-channel"
          label="Channel"
          any
          options={CHANNELS}
          value={filters.channel}
          onChange={set("channel")}
        />
        <TextField
          id="message-campaign"
          label="Campaign id"
          inputMode="numeric"
          value={filters.campaign_id}
          onChange={set("campaign_id")}
        />
        <button type="submit" className="primary" disabled={loading}>
          Search
        </button>
      </form>
      <ErrorText error={error} />
      {results !== null || loading ? (
        <DataTable
          caption="Messages, newest first"
          columns={["Message", "Recipient", "Status", "Channel", "Attempts", "Created"]}
          busy={loading}
          skeleton={loading && !results}
          empty={results && results.length === 0 ? "No message matches." : null}
        >
          {results?.map((m) => (
            <tr key={m.id}>
              <td>
                <a href={`#/messages/${m.id}`} className="mono">
                  {shortId(m.id)}
                </a>
              </td>
              <td className="mono">{maskRecipient(m.recipient)}</td>
              <td>
                <Badge value={m.status} />
              </td>
              <td>{m.channel}</td>
              <td>{m.attempts}</td>
              <td>{formatTime(m.created_at)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      {cursor ? (
        <button type="button" className="load-more" onClick={() => void search(true)} disabled={loading}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
