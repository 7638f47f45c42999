import { type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, useEffect } from "react";

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
export function Fact({
  term,
  className,
  valueClassName,
  children,
}: {
  term: string;
  className?: string;
  valueClassName?: string;
  children: ReactNode;
}) {
  return (
    <div className={className}>
      <dt>{term}</dt>
      <dd className={valueClassName}>{children ?? <Skeleton className="skeleton-word" />}</dd>
    </div>
  );
}

/** A page header's Refresh button. */
export function RefreshButton({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" onClick={onClick}>
      Refresh
    </button>
  );
}

/**
 * A table in its scrolling box: a caption for screen readers, column headers, skeleton rows
 * while the first data is on its way, and an empty state under it.
 */
export function DataTable({
  caption,
  columns,
  actions = false,
  busy,
  skeleton,
  skeletonRows,
  empty,
  children,
}: {
  caption: string;
  columns: ReactNode[];
  /** A last column of buttons, headed "Actions" for screen readers only. */
  actions?: boolean;
  /** Whether data is loading (`aria-busy` on the body). */
  busy: boolean;
  /** Whether to show skeleton rows (no data yet). */
  skeleton: boolean;
  skeletonRows?: number;
  /** Shown under the table when it is set. */
  empty?: ReactNode;
  children: ReactNode;
}) {
  const headers = actions ? [...columns, <span className="visually-hidden">Actions</span>] : columns;
  return (
    <>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{caption}</caption>
          <thead>
            <tr>
              {headers.map((header, i) => (
                <th key={i} scope="col">
                  {header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody aria-busy={busy}>
            {skeleton ? <SkeletonRows columns={headers.length} rows={skeletonRows} /> : null}
            {children}
          </tbody>
        </table>
      </div>
      {empty ? <Empty>{empty}</Empty> : null}
    </>
  );
}

/** A labelled text input in a form field. */
export function TextField({
  id,
  label,
  grow = false,
  children,
  ...input
}: { id: string; label: ReactNode; grow?: boolean; children?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <div className={grow ? "field grow" : "field"}>
      <label htmlFor={id}>{label}</label>
      <input id={id} {...input} />
      {children}
    </div>
  );
}

/** A labelled select of plain options, with an "Any" option (value "") first when `any` is set. */
export function SelectField({
  id,
  label,
  options,
  any = false,
  ...select
}: { id: string; label: ReactNode; options: string[]; any?: boolean } & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} {...select}>
        {any ? <option value="">Any</option> : null}
        {options.map((option) => (
          <option key={option}>{option}</option>
        ))}
      </select>
    </div>
  );
}

/** A checkbox with its label text after it. */
export function Checkbox({
  checked,
  onChange,
  children,
}: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  children: ReactNode;
}) {
  return (
    <label className="inline">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {children}
    </label>
  );
}
