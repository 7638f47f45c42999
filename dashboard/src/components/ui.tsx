import { type ReactNode, useEffect } from "react";

const TONES: Record<string, string> = {
  // Campaigns and messages
  draft: "neutral",
  scheduled: "info",
  pending: "info",
  sending: "info",
  sent: "good",
  delivered: "good",
  read: "good",
  failed: "bad",
  undelivered: "bad",
  suppressed: "neutral",
  cancelled: "neutral",
  // Circuit breakers
  closed: "good",
  half_open: "warn",
  open: "bad",
  info: "info",
};

export function Badge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge badge-${TONES[value] ?? "neutral"}`}>{label ?? value.replace("_", " ")}</span>;
}

/** A fixed-size placeholder: the real content takes the same room, so nothing jumps. */
export function Skeleton({ className = "" }: { className?: string }) {
  return <span className={`skeleton ${className}`} aria-hidden="true" />;
}

export function ErrorText({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** Skeleton rows for a table whose data is on its way. */
export function SkeletonRows({ columns, rows = 5 }: { columns: number; rows?: number }) {
  return (
    <>
      {Array.from({ length: rows }, (_, r) => (
        <tr key={r} className="skeleton-row" aria-hidden="true">
          {Array.from({ length: columns }, (_, c) => (
            <td key={c}>
              <Skeleton />
            </td>
          ))}
        </tr>
      ))}
    </>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · herald`;
  }, [title]);
  return (
    <div className="page-header">
      <h1 tabIndex={-1}>{title}</h1>
      {children ? <div className="page-actions">{children}</div> : null}
    </div>
  );
}

/** One fact of a description list; a skeleton of a word's width until its value is known. */
export function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children ?? <Skeleton className="skeleton-word" />}</dd>
    </div>
  );
}
