import { Fragment, useEffect, useState } from "react";
import { type DeadLetter, errorMessage, get, type Page, post, query } from "../api";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Empty, ErrorText, PageHeader, SkeletonRows } from "../components/ui";
import { formatTime, shortId } from "../lib/format";
import { useLoad } from "../lib/hooks";
import { maskRecipient } from "../lib/mask";
import { CHANNELS } from "./Messages";

const PAGE = 100;

type Pending = { kind: "one"; letter: DeadLetter } | { kind: "selection"; ids: string[] };

export function DeadLetters() {
  const [channel, setChannel] = useState("");
  const [provider, setProvider] = useState("");
  const [appliedProvider, setAppliedProvider] = useState("");
  const filters = { channel, provider: appliedProvider, limit: PAGE };
  const path = `/api/v1/dead-letters${query(filters)}`;
  const list = useLoad(() => get<Page<DeadLetter>>(path), path);
  // Pages after the first, fetched on request; a new first page starts over.
  const [later, setLater] = useState<{ letters: DeadLetter[]; cursor: string | null; error: string | null }>({
    letters: [],
    cursor: null,
    error: null,
  });
  useEffect(() => setLater({ letters: [], cursor: list.data?.next_cursor ?? null, error: null }), [list.data]);
  const loadMore = async () => {
    try {
      const next = await get<Page<DeadLetter>>(`/api/v1/dead-letters${query({ ...filters, cursor: later.cursor })}`);
      setLater((l) => ({ letters: [...l.letters, ...next.data], cursor: next.next_cursor, error: null }));
    } catch (e) {
      setLater((l) => ({ ...l, error: errorMessage(e) }));
    }
  };
  const [replayed, setReplayed] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [expanded, setExpanded] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const letters = [...(list.data?.data ?? []), ...later.letters].filter((l) => !replayed.has(l.id));
  const markReplayed = (ids: string[]) => {
    setReplayed((current) => new Set([...current, ...ids]));
    setSelected((current) => new Set([...current].filter((id) => !ids.includes(id))));
  };

  const replay = async () => {
    if (!pending) return;
    if (pending.kind === "one") {
      await post(`/api/v1/dead-letters/${pending.letter.id}/replay`);
      markReplayed([pending.letter.id]);
      setNotice(`Message ${shortId(pending.letter.id)} is pending again and will be sent.`);
    } else {
      const result = await post<{ replayed: number; ids: string[] }>("/api/v1/dead-letters/replay", {
        ids: pending.ids,
      });
      markReplayed(result.ids);
      setNotice(`${result.replayed} of ${pending.ids.length} messages are pending again.`);
    }
  };

  const toggle = (id: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allSelected = letters.length > 0 && letters.every((l) => selected.has(l.id));

  return (
    <section>
      <PageHeader title="Dead letters">
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </PageHeader>
      <form
        className="filters"
        aria-label="Filter dead letters"
        onSubmit={(e) => {
          e.preventDefault();
          setAppliedProvider(provider.trim());
        }}
      >
        <div className="field">
          <label htmlFor="dl-channel">Channel</label>
          <select id="dl-channel" value={channel} onChange={(e) => setChannel(e.target.value)}>
            <option value="">Any</option>
            {CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="dl-provider">Provider</label>
          <input id="dl-provider" value={provider} onChange={(e) => setProvider(e.target.value)} placeholder="mock" />
        </div>
        <button type="submit">Filter</button>
        <button
          type="button"
          className="primary"
          disabled={selected.size === 0}
          onClick={() => setPending({ kind: "selection", ids: Array.from(selected) })}
        >
          Replay selected ({selected.size})
        </button>
      </form>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorText error={list.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Failed messages, newest first</caption>
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all shown"
                  checked={allSelected}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(letters.map((l) => l.id)))}
                />
              </th>
              <th scope="col">Message</th>
              <th scope="col">Recipient</th>
              <th scope="col">Error</th>
              <th scope="col">Failed</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody aria-busy={list.loading}>
            {!list.data && list.loading ? <SkeletonRows columns={6} /> : null}
            {letters.map((l) => (
              <Fragment key={l.id}>
                <tr data-testid="dead-letter">
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select ${l.id}`}
                      checked={selected.has(l.id)}
                      onChange={() => toggle(l.id)}
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      className="link mono"
                      aria-expanded={expanded === l.id}
                      aria-controls={`dl-${l.id}`}
                      onClick={() => setExpanded(expanded === l.id ? null : l.id)}
                    >
                      {shortId(l.id)}
                    </button>
                  </td>
                  <td className="mono">{maskRecipient(l.to)}</td>
                  <td className="truncate">{l.last_error ?? "—"}</td>
                  <td>{formatTime(l.failed_at)}</td>
                  <td>
                    <button type="button" onClick={() => setPending({ kind: "one", letter: l })}>
                      Replay
                    </button>
                  </td>
                </tr>
                {expanded === l.id ? (
                  <tr id={`dl-${l.id}`} className="expanded">
                    <td colSpan={6}>
                      <dl className="facts">
                        <div>
                          <dt>Id</dt>
                          <dd className="mono">{l.id}</dd>
                        </div>
                        <div>
                          <dt>Channel</dt>
                          <dd>{l.channel}</dd>
                        </div>
                        <div>
                          <dt>Provider</dt>
                          <dd>{l.provider ?? "—"}</dd>
                        </div>
                        <div>
                          <dt>From</dt>
                          <dd>{l.from ?? "—"}</dd>
                        </div>
                        <div>
                          <dt>Retries</dt>
                          <dd>{l.retry_count}</dd>
                        </div>
                        <div>
                          <dt>Created</dt>
                          <dd>{formatTime(l.created_at)}</dd>
                        </div>
                        <div className="wide">
                          <dt>Last error</dt>
                          <dd>{l.last_error ?? "—"}</dd>
                        </div>
                      </dl>
                      <a href={`#/messages/${l.id}`}>Open its timeline</a>
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <ErrorText error={later.error} />
      {later.cursor ? (
        <button type="button" className="load-more" onClick={() => void loadMore()}>
          Load more
        </button>
      ) : null}
      {list.data && letters.length === 0 ? (
        <Empty>
          No dead letters{channel || appliedProvider ? " match these filters" : ""}. Everything failed was replayed or
          nothing failed.
        </Empty>
      ) : null}
      {pending ? (
        <ConfirmDialog
          title={pending.kind === "one" ? "Replay this message?" : `Replay ${pending.ids.length} messages?`}
          confirmLabel="Replay"
          onConfirm={replay}
          onClose={() => setPending(null)}
        >
          <p>
            {pending.kind === "one"
              ? `Message ${pending.letter.id} to ${maskRecipient(pending.letter.to)} goes back to pending and is sent again.`
              : "They go back to pending and are sent again. A recipient may get a message twice if the provider had in fact delivered it."}
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
