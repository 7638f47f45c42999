import { type FormEvent, useState } from "react";
import { ApiError, errorMessage, get, type Preferences, put } from "../api";
import { Checkbox, ErrorText, PageHeader, TextField } from "../components/ui";
import { formatTime } from "../lib/format";
import { CHANNELS } from "./Messages";

type Channel = "sms" | "whatsapp" | "email" | "push";

export function PreferencesScreen() {
  const [userId, setUserId] = useState("");
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const lookUp = async (event: FormEvent) => {
    event.preventDefault();
    setLoading(true);
    setError(null);
    setPrefs(null);
    try {
      setPrefs(await get<Preferences>(`/api/v1/preferences/user/${encodeURIComponent(userId.trim())}`));
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? `No user ${userId.trim()}: ${e.message}` : errorMessage(e));
    } finally {
      setLoading(false);
    }
  };

  return (
    <section>
      <PageHeader title="User preferences" />
      <form className="filters" onSubmit={lookUp} aria-label="Look up a user">
        <TextField
          id="pref-user"
          label="User id"
          grow
          required
          value={userId}
          onChange={(e) => setUserId(e.target.value)}
          spellCheck={false}
        />
        <button type="submit" className="primary" disabled={loading || !userId.trim()}>
          {loading ? "Looking up…" : "Look up"}
        </button>
      </form>
      <ErrorText error={error} />
      {prefs ? <PreferencesForm key={prefs.user_id} initial={prefs} onSaved={setPrefs} /> : null}
      {!prefs && !error && !loading ? (
        <p className="muted">Look up a user by the id your application gives them.</p>
      ) : null}
    </section>
  );
}

function PreferencesForm({ initial, onSaved }: { initial: Preferences; onSaved: (p: Preferences) => void }) {
  const [channels, setChannels] = useState(initial.channels);
  const [categories, setCategories] = useState(initial.opted_out_categories.join(", "));
  const [quiet, setQuiet] = useState(initial.quiet_hours !== null);
  const [start, setStart] = useState(initial.quiet_hours?.start ?? "22:00");
  const [end, setEnd] = useState(initial.quiet_hours?.end ?? "07:00");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const stored = await put<Preferences>(`/api/v1/preferences/user/${encodeURIComponent(initial.user_id)}`, {
        channels,
        opted_out_categories: categories
          .split(",")
          .map((c) => c.trim())
          .filter(Boolean),
        quiet_hours: quiet ? { start, end } : null,
      });
      setSaved(true);
      onSaved(stored);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="prefs-title">
      <h2 id="prefs-title">Preferences of {initial.user_id}</h2>
      <p className="muted">
        {initial.updated_at ? `Last set ${formatTime(initial.updated_at)}.` : "Never set: the defaults apply."}
      </p>
      <fieldset>
        <legend>Channels on</legend>
        {(CHANNELS as Channel[]).map((c) => (
          <Checkbox key={c} checked={channels[c] !== false} onChange={(on) => setChannels((s) => ({ ...s, [c]: on }))}>
            {c}
          </Checkbox>
        ))}
      </fieldset>
      <TextField
        id="pref-categories"
        label="Opted-out categories"
        value={categories}
        onChange={(e) => setCategories(e.target.value)}
        placeholder="marketing, digest"
      />
      <fieldset>
        <legend>Quiet hours</legend>
        <Checkbox checked={quiet} onChange={setQuiet}>
          Hold back non-transactional messages
        </Checkbox>
        <div className="grid2">
          <TextField
            id="pref-start"
            label="From"
            type="time"
            disabled={!quiet}
            value={start}
            onChange={(e) => setStart(e.target.value)}
          />
          <TextField
            id="pref-end"
            label="Until"
            type="time"
            disabled={!quiet}
            value={end}
            onChange={(e) => setEnd(e.target.value)}
          />
        </div>
      </fieldset>
      <ErrorText error={error} />
      {saved ? (
        <p className="notice" role="status">
          Saved.
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Saving…" : "Save preferences"}
      </button>
    </form>
  );
}
