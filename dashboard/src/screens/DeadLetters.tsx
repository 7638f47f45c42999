import { Fragment, useEffect, useState } from "react";
import { type DeadLetter, errorMessage, get, type Page, post, query } from "../api";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { DataTable, Empty, ErrorText, Fact, PageHeader, RefreshButton, SelectField, TextField } from "../components/ui";
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
        <RefreshButton onClick={list.reload} />
      </PageHeader>
      <form
        className="filters"
        aria-label="Filter dead letters"
        onSubmit={(e) => {
          e.preventDefault();
          setAppliedProvider(provider.trim());
        }}
      >
        <SelectField
          id="dl-channel"
          label="Channel"
          any
          options={CHANNELS}
          value={channel}
          onChange={(e) => setChannel(e.target.value)}
        />
        <TextField
          id="dl-provider"
          label="Provider"
          value={provider}
          onChange={(e) => setProvider(e.target.value)}
          placeholder="mock"
        />
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
      <DataTable
        caption="Failed messages, newest first"
        columns={[
          <input
            type="checkbox"
            aria-label="Select all shown"
            checked={allSelected}
            onChange={() => setSelected(allSelected ? new Set() : new Set(letters.map((l) => l.id)))}
          />,
          "Message",
          "Recipient",
          "Error",
          "Failed",
        ]}
        actions
        busy={list.loading}
        skeleton={!list.data && list.loading}
      >
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
                    <Fact term="Id" valueClassName="mono">
                      {l.id}
                    </Fact>
                    <Fact term="Channel">{l.channel}</Fact>
                    <Fact term="Provider">{l.provider ?? "—"}</Fact>
                    <Fact term="From">{l.from ?? "—"}</Fact>
                    <Fact term="Retries">{l.retry_count}</Fact>
                    <Fact term="Created">{formatTime(l.created_at)}</Fact>
                    <Fact term="Last error" className="wide">
                      {l.last_error ?? "—"}
                    </Fact>
                  </dl>
                  <a href={`#/messages/${l.id}`}>Open its timeline</a>
                </td>
              </tr>
            ) : null}
          </Fragment>
        ))}
      </DataTable>
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
