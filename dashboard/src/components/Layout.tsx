import { type ReactNode, useEffect, useRef, useState } from "react";
import type { Session } from "../api";
import { useRoute } from "../lib/router";

const LINKS = [
  ["/overview", "Overview"],
  ["/campaigns", "Campaigns"],
  ["/messages", "Messages"],
  ["/dead-letters", "Dead letters"],
  ["/templates", "Templates"],
  ["/preferences", "Preferences"],
  ["/api-keys", "API keys"],
] as const;

export function Layout({
  session,
  onSignOut,
  children,
}: {
  session: Session;
  onSignOut: () => void;
  children: ReactNode;
}) {
  const { path } = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const mainRef = useRef<HTMLElement>(null);

  // A new screen: close the phone menu and move focus to its heading, as a page load would.
  useEffect(() => {
    setMenuOpen(false);
    mainRef.current?.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
  }, [path]);

  const section = "/" + path.split("/")[1];
  return (
    <div className="shell">
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          mainRef.current?.querySelector<HTMLElement>("h1")?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="#/overview">
          herald
        </a>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" className={menuOpen ? "nav open" : "nav"}>
          <ul>
            {LINKS.map(([href, label]) => (
              <li key={href}>
                <a href={`#${href}`} aria-current={section === href ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="session">
          <span className="key-name" title={`Signed in with API key ${session.api_key.prefix}…`}>
            {session.api_key.name}
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={mainRef}>
        {children}
      </main>
    </div>
  );
}
