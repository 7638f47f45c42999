import { type FormEvent, useState } from "react";
import { ApiError, errorMessage, get, type Preferences, put } from "../api";
import { ErrorText, PageHeader } from "../components/ui";
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
        <div className="field grow">
          <label htmlFor="pref-user">User id</label>
          <input
            id="pref-user"
            required
            value={userId}
            onChange={(e) => setUserId(e.target.value)}
            spellCheck={false}
          />
        </div>
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
          <label key={c} className="inline">
            <input
              type="checkbox"
              checked={channels[c] !== false}
              onChange={(e) => setChannels((s) => ({ ...s, [c]: e.target.checked }))}
            />{" "}
            {c}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor="pref-categories">Opted-out categories</label>
        <input
          id="pref-categories"
          value={categories}
          onChange={(e) => setCategories(e.target.value)}
          placeholder="marketing, digest"
        />
      </div>
      <fieldset>
        <legend>Quiet hours</legend>
        <label className="inline">
          <input type="checkbox" checked={quiet} onChange={(e) => setQuiet(e.target.checked)} /> Hold back
          non-transactional messages
        </label>
        <div className="grid2">
          <div className="field">
            <label htmlFor="pref-start">From</label>
            <input
              id="pref-start"
              type="time"
              disabled={!quiet}
              value={start}
              onChange={(e) => setStart(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="pref-end">Until</label>
            <input id="pref-end" type="time" disabled={!quiet} value={end} onChange={(e) => setEnd(e.target.value)} />
          </div>
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
