import { useState } from "react";
import { del, get, type Page, post, put, type Template } from "../api";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { SmsCounter } from "../components/SmsCounter";
import { Checkbox, DataTable, ErrorText, PageHeader, SelectField, TextField } from "../components/ui";
import { formatTime } from "../lib/format";
import { useLoad, useSubmit } from "../lib/hooks";
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
      <DataTable
        caption="Templates"
        columns={["Name", "Type", "Version", "Category", "Updated"]}
        actions
        busy={list.loading}
        skeleton={!list.data && list.loading}
        empty={list.data && list.data.data.length === 0 ? "No templates yet." : null}
      >
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
      </DataTable>
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
  const set = (key: keyof Draft) => (e: { target: { value: string } }) =>
    setDraft((d) => ({ ...d, [key]: e.target.value }));
  const hasSubject = draft.type === "email" || draft.type === "push";

  const { busy, error, submit } = useSubmit(async () => {
    const body = {
      name: draft.name.trim(),
      type: draft.type,
      subject: hasSubject && draft.subject ? draft.subject : undefined,
      body: draft.body,
      variables: parseVariables(draft.variables),
      category: draft.category.trim() || undefined,
      transactional: draft.transactional,
    };
    if (id) await put(`/api/v1/templates/${id}`, body);
    else await post("/api/v1/templates", body);
    onDone();
  });

  return (
    <form className="card" onSubmit={submit} aria-labelledby="template-form-title">
      <h2 id="template-form-title">{id ? `Edit ${initial.name}` : "New template"}</h2>
      <div className="grid2">
        <TextField id="tpl-name" label="Name" required value={draft.name} onChange={set("name")} />
        <SelectField id="tpl-type" label="Type" options={CHANNELS} value={draft.type} onChange={set("type")} />
      </div>
      {hasSubject ? (
        <TextField
          id="tpl-subject"
          label={draft.type === "push" ? "Title" : "Subject"}
          value={draft.subject}
          onChange={set("subject")}
        />
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
        <TextField
          id="tpl-vars"
          label="Variables"
          value={draft.variables}
          onChange={set("variables")}
          aria-describedby="tpl-vars-hint"
          placeholder="order_id, first_name?"
        >
          <span className="hint" id="tpl-vars-hint">
            Comma-separated; every placeholder must be declared. A trailing ? makes one optional.
          </span>
        </TextField>
        <TextField
          id="tpl-category"
          label="Category"
          value={draft.category}
          onChange={set("category")}
          placeholder="marketing"
        />
      </div>
      <Checkbox checked={draft.transactional} onChange={(transactional) => setDraft((d) => ({ ...d, transactional }))}>
        Transactional (sent despite opt-outs and quiet hours)
      </Checkbox>
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
