import { type FormEvent, useState } from "react";
import { del, errorMessage, get, type Page, post, put, type Template } from "../api";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { SmsCounter } from "../components/SmsCounter";
import { Empty, ErrorText, PageHeader, SkeletonRows } from "../components/ui";
import { formatTime } from "../lib/format";
import { useLoad } from "../lib/hooks";
import { CHANNELS } from "./Messages";

interface Draft {
  name: string;
  type: string;
  subject: string;
  body: string;
  variables: string;
  category: string;
  transactional: boolean;
}

const EMPTY: Draft = {
  name: "",
  type: "sms",
  subject: "",
  body: "",
  variables: "",
  category: "",
  transactional: false,
};

function toDraft(t: Template): Draft {
  return {
    name: t.name,
    type: t.type,
    subject: t.subject ?? "",
    body: t.body,
    variables: t.variables.map((v) => (v.required ? v.name : `${v.name}?`)).join(", "),
    category: t.category ?? "",
    transactional: t.transactional,
  };
}

/** `order_id, first_name?`: a trailing `?` marks an optional variable. */
export function parseVariables(text: string): { name: string; required: boolean }[] {
  return text
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => (v.endsWith("?") ? { name: v.slice(0, -1).trim(), required: false } : { name: v, required: true }));
}

export function Templates() {
  const list = useLoad(() => get<Page<Template>>("/api/v1/templates?limit=500"), "templates");
  const [editing, setEditing] = useState<{ id: string | null; draft: Draft } | null>(null);
  const [deleting, setDeleting] = useState<Template | null>(null);

  return (
    <section>
      <PageHeader title="Templates">
        <button type="button" className="primary" onClick={() => setEditing({ id: null, draft: EMPTY })}>
          New template
        </button>
      </PageHeader>
      {editing ? (
        <TemplateForm
          key={editing.id ?? "new"}
          id={editing.id}
          initial={editing.draft}
          onDone={() => {
            setEditing(null);
            list.reload();
          }}
        />
      ) : null}
      <ErrorText error={list.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Templates</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Version</th>
              <th scope="col">Category</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody aria-busy={list.loading}>
            {!list.data && list.loading ? <SkeletonRows columns={6} /> : null}
            {list.data?.data.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{t.type}</td>
                <td>v{t.version}</td>
                <td>
                  {t.category ?? "—"}
                  {t.transactional ? " (transactional)" : ""}
                </td>
                <td>{formatTime(t.updated_at)}</td>
                <td className="actions">
                  <button type="button" onClick={() => setEditing({ id: t.id, draft: toDraft(t) })}>
                    Edit
                  </button>
                  <button type="button" className="danger" onClick={() => setDeleting(t)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {list.data && list.data.data.length === 0 ? <Empty>No templates yet.</Empty> : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete template ${deleting.name}?`}
          confirmLabel="Delete"
          danger
          onConfirm={async () => {
            await del(`/api/v1/templates/${deleting.id}`);
            list.reload();
          }}
          onClose={() => setDeleting(null)}
        >
          <p>Sends naming it are refused from now on; messages already sent keep their version.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function TemplateForm({ id, initial, onDone }: { id: string | null; initial: Draft; onDone: () => void }) {
  const [draft, setDraft] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof Draft) => (e: { target: { value: string } }) =>
    setDraft((d) => ({ ...d, [key]: e.target.value }));
  const hasSubject = draft.type === "email" || draft.type === "push";

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      name: draft.name.trim(),
      type: draft.type,
      subject: hasSubject && draft.subject ? draft.subject : undefined,
      body: draft.body,
      variables: parseVariables(draft.variables),
      category: draft.category.trim() || undefined,
      transactional: draft.transactional,
    };
    try {
      if (id) await put(`/api/v1/templates/${id}`, body);
      else await post("/api/v1/templates", body);
      onDone();
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="template-form-title">
      <h2 id="template-form-title">{id ? `Edit ${initial.name}` : "New template"}</h2>
      <div className="grid2">
        <div className="field">
          <label htmlFor="tpl-name">Name</label>
          <input id="tpl-name" required value={draft.name} onChange={set("name")} />
        </div>
        <div className="field">
          <label htmlFor="tpl-type">Type</label>
          <select id="tpl-type" value={draft.type} onChange={set("type")}>
            {CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </div>
      </div>
      {hasSubject ? (
        <div className="field">
          <label htmlFor="tpl-subject">{draft.type === "push" ? "Title" : "Subject"}</label>
          <input id="tpl-subject" value={draft.subject} onChange={set("subject")} />
        </div>
      ) : null}
      <div className="field">
        <label htmlFor="tpl-body">Body</label>
        <textarea
          id="tpl-body"
          rows={4}
          required
          value={draft.body}
          onChange={set("body")}
          aria-describedby="tpl-counter"
        />
        {draft.type === "sms" ? <SmsCounter text={draft.body} id="tpl-counter" /> : null}
      </div>
      <div className="grid2">
        <div className="field">
          <label htmlFor="tpl-vars">Variables</label>
          <input
            id="tpl-vars"
            value={draft.variables}
            onChange={set("variables")}
            aria-describedby="tpl-vars-hint"
            placeholder="order_id, first_name?"
          />
          <span className="hint" id="tpl-vars-hint">
            Comma-separated; every placeholder must be declared. A trailing ? makes one optional.
          </span>
        </div>
        <div className="field">
          <label htmlFor="tpl-category">Category</label>
          <input id="tpl-category" value={draft.category} onChange={set("category")} placeholder="marketing" />
        </div>
      </div>
      <label className="inline">
        <input
          type="checkbox"
          checked={draft.transactional}
          onChange={(e) => setDraft((d) => ({ ...d, transactional: e.target.checked }))}
        />{" "}
        Transactional (sent despite opt-outs and quiet hours)
      </label>
      <ErrorText error={error} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : id ? "Save as next version" : "Create"}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
