import { useState } from "react";
import { type ApiKey, type CreatedApiKey, del, get, post, type Session } from "../api";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Badge, DataTable, ErrorText, PageHeader, TextField } from "../components/ui";
import { formatTime } from "../lib/format";
import { useLoad, useSubmit } from "../lib/hooks";

export function ApiKeys({ session }: { session: Session }) {
  const list = useLoad(() => get<{ data: ApiKey[] }>("/api/v1/api-keys"), "api-keys");
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  return (
    <section>
      <PageHeader title="API keys" />
      {created ? (
        <NewKey created={created} onDone={() => setCreated(null)} />
      ) : (
        <CreateKeyForm
          onCreated={(key) => {
            setCreated(key);
            list.reload();
          }}
        />
      )}
      <ErrorText error={list.error} />
      <DataTable
        caption="API keys, newest first"
        columns={["Name", "Prefix", "Created", "Rate limit", "State"]}
        actions
        busy={list.loading}
        skeleton={!list.data && list.loading}
        skeletonRows={3}
        empty={list.data && list.data.data.length === 0 ? "No API keys." : null}
      >
        {list.data?.data.map((k) => {
          const mine = k.id === session.api_key.id;
          return (
            <tr key={k.id} data-testid="api-key-row">
              <td>
                {k.name} {mine ? <Badge value="info" label="this session" /> : null}
              </td>
              <td className="mono">{k.prefix}…</td>
              <td>{formatTime(k.created_at)}</td>
              <td>{k.rate_limit_per_second ? `${k.rate_limit_per_second}/s` : "default"}</td>
              <td>
                {k.revoked_at ? (
                  <Badge value="failed" label={`revoked ${formatTime(k.revoked_at)}`} />
                ) : (
                  <Badge value="sent" label="active" />
                )}
              </td>
              <td>
                {!mine && !k.revoked_at ? (
                  <button type="button" className="danger" onClick={() => setRevoking(k)}>
                    Revoke
                  </button>
                ) : null}
              </td>
            </tr>
          );
        })}
      </DataTable>
      {revoking ? (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          confirmLabel="Revoke"
          danger
          onConfirm={async () => {
            await del(`/api/v1/api-keys/${revoking.id}`);
            list.reload();
          }}
          onClose={() => setRevoking(null)}
        >
          <p>
            Requests with <code>{revoking.prefix}…</code> fail from now on, and dashboard sessions made with it end.
            This cannot be undone.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (key: CreatedApiKey) => void }) {
  const [name, setName] = useState("");
  const [rate, setRate] = useState("");
  const { busy, error, submit } = useSubmit(async () => {
    const body: { name: string; rate_limit_per_second?: number } = { name: name.trim() };
    if (rate.trim()) body.rate_limit_per_second = Number(rate);
    onCreated(await post<CreatedApiKey>("/api/v1/api-keys", body));
  });

  return (
    <form className="filters card" onSubmit={submit} aria-label="Create an API key">
      <TextField
        id="key-name"
        label="New key's name"
        grow
        required
        maxLength={100}
        value={name}
        onChange={(e) => setName(e.target.value)}
        placeholder="ci"
      />
      <TextField
        id="key-rate"
        label="Requests per second"
        type="number"
        min={1}
        inputMode="numeric"
        value={rate}
        onChange={(e) => setRate(e.target.value)}
        placeholder="default"
      />
      <button type="submit" className="primary" disabled={busy || !name.trim()}>
        {busy ? "Creating…" : "Create key"}
      </button>
      <ErrorText error={error} />
    </form>
  );
}

/** The secret, shown this once: herald keeps only its hash. */
function NewKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("Copied.");
    } catch {
      setCopied("Copying was refused: select the key and copy it by hand.");
    }
  };
  return (
    <section className="card warning" aria-labelledby="new-key-title">
      <h2 id="new-key-title">Key {created.name} created</h2>
      <p>
        <strong>Copy it now: it is shown only this once.</strong> herald stores only its hash, so a lost key cannot be
        recovered, only revoked and replaced.
      </p>
      <div className="secret">
        <code data-testid="new-key-secret">{created.key}</code>
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p role="status" className="muted">
        {copied ?? "\u00a0"}
      </p>
      <button type="button" className="primary" onClick={onDone}>
        I have stored it
      </button>
    </section>
  );
}
