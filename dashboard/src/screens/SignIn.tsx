import { useState } from "react";
import { ApiError, errorMessage, type Session, signIn } from "../api";
import { TextField } from "../components/ui";
import { useSubmit } from "../lib/hooks";

export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState("");
  const { busy, error, submit } = useSubmit(
    async () => {
      const session = await signIn(key.trim());
      setKey("");
      onSignedIn(session);
    },
    (e) =>
      e instanceof ApiError && e.status === 401 ? `That API key was not accepted: ${e.message}` : errorMessage(e),
  );

  return (
    <main className="center signin">
      <form onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to herald</h1>
        <p className="hint">
          Paste an API key (<code>hrld_…</code>). It is exchanged for a session cookie and never stored by the browser.
        </p>
        <TextField
          id="api-key"
          label="API key"
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
