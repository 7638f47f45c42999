import { type FormEvent, useState } from "react";
import { ApiError, type Session, signIn } from "../api";

export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(key.trim());
      setKey("");
      onSignedIn(session);
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 401
          ? `That API key was not accepted: ${e.message}`
          : e instanceof Error
            ? e.message
            : String(e),
      );
      setBusy(false);
    }
  };

  return (
    <main className="center signin">
      <form onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to herald</h1>
        <p className="hint">
          Paste an API key (<code>hrld_…</code>). It is exchanged for a session cookie and never stored by the browser.
        </p>
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            required
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "signin-error" : undefined}
          />
        </div>
        {error ? (
          <p className="error" id="signin-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
