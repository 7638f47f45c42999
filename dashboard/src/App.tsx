import { useEffect, useState } from "react";
import { currentSession, errorMessage, type Session, setUnauthorizedHandler, signOut } from "./api";
import { Layout } from "./components/Layout";
import { ErrorText } from "./components/ui";
import { match, useRoute } from "./lib/router";
import { ApiKeys } from "./screens/ApiKeys";
import { CampaignDetailScreen } from "./screens/CampaignDetail";
import { CampaignNew } from "./screens/CampaignNew";
import { Campaigns } from "./screens/Campaigns";
import { DeadLetters } from "./screens/DeadLetters";
import { MessageDetail } from "./screens/MessageDetail";
import { Messages } from "./screens/Messages";
import { Overview } from "./screens/Overview";
import { PreferencesScreen } from "./screens/Preferences";
import { SignIn } from "./screens/SignIn";
import { Templates } from "./screens/Templates";

type SessionState =
  | { kind: "checking" }
  | { kind: "signed-out" }
  | { kind: "signed-in"; session: Session }
  | { kind: "error"; message: string };

export function App() {
  const [state, setState] = useState<SessionState>({ kind: "checking" });

  useEffect(() => {
    setUnauthorizedHandler(() => setState({ kind: "signed-out" }));
    currentSession().then(
      (session) => setState(session ? { kind: "signed-in", session } : { kind: "signed-out" }),
      (error) => setState({ kind: "error", message: errorMessage(error) }),
    );
  }, []);

  switch (state.kind) {
    case "checking":
      return (
        <main className="center" aria-busy="true">
          <p role="status">Checking your session…</p>
        </main>
      );
    case "error":
      return (
        <main className="center">
          <h1>herald</h1>
          <ErrorText error={`Could not reach herald: ${state.message}`} />
          <button type="button" onClick={() => window.location.reload()}>
            Try again
          </button>
        </main>
      );
    case "signed-out":
      return <SignIn onSignedIn={(session) => setState({ kind: "signed-in", session })} />;
    case "signed-in":
      return (
        <Layout
          session={state.session}
          onSignOut={async () => {
            await signOut().catch(() => undefined);
            setState({ kind: "signed-out" });
          }}
        >
          <Screen session={state.session} />
        </Layout>
      );
  }
}

function Screen({ session }: { session: Session }) {
  const { path, params } = useRoute();
  let m: Record<string, string> | null;
  if (path === "/overview") return <Overview />;
  if (path === "/campaigns") return <Campaigns />;
  if (path === "/campaigns/new") return <CampaignNew />;
  if ((m = match("/campaigns/:id", path))) return <CampaignDetailScreen id={m.id} />;
  if (path === "/messages") return <Messages params={params} />;
  if ((m = match("/messages/:id", path))) return <MessageDetail id={m.id} />;
  if (path === "/dead-letters") return <DeadLetters />;
  if (path === "/templates") return <Templates />;
  if (path === "/preferences") return <PreferencesScreen />;
  if (path === "/api-keys") return <ApiKeys session={session} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at <code>#{path}</code>. <a href="#/overview">Go to the overview</a>.
      </p>
    </section>
  );
}
