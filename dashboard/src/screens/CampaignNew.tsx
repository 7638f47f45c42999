import { type FormEvent, useEffect, useState } from "react";
import { type Campaign, type Customer, errorMessage, get, type Page, post, type Preview, query } from "../api";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { SmsCounter } from "../components/SmsCounter";
import { Checkbox, ErrorText, PageHeader, SelectField, Skeleton, TextField } from "../components/ui";
import { useLoad } from "../lib/hooks";
import { maskRecipient } from "../lib/mask";
import { navigate } from "../lib/router";
import { CAMPAIGN_CHANNELS } from "./Campaigns";

const CUSTOMER_PAGE = 500;
const PREVIEW_DEBOUNCE_MS = 300;

function customerLabel(c: Customer): string {
  const name = [c.first_name, c.last_name].filter(Boolean).join(" ") || "(no name)";
  return `${name} · ${maskRecipient(c.phone)} · #${c.id}`;
}

export function CampaignNew() {
  const [name, setName] = useState("");
  const [channel, setChannel] = useState("sms");
  const [template, setTemplate] = useState("Hi {first_name|there}, ");
  const [draft, setDraft] = useState<Campaign | null>(null);
  const [saving, setSaving] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const customers = useLoad(
    () => get<Page<Customer>>(`/api/v1/customers${query({ limit: CUSTOMER_PAGE })}`),
    "customers",
  );

  const saveDraft = async (event?: FormEvent) => {
    event?.preventDefault();
    setSaving(true);
    setFormError(null);
    try {
      setDraft(await post<Campaign>("/campaigns", { name, channel, base_template: template }));
    } catch (e) {
      setFormError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <section>
      <PageHeader title="New campaign">
        <a href="#/campaigns">All campaigns</a>
      </PageHeader>
      <form className="card" onSubmit={saveDraft} aria-labelledby="compose-title">
        <h2 id="compose-title">1. Compose</h2>
        <TextField
          id="campaign-name"
          label="Name"
          required
          maxLength={200}
          value={name}
          disabled={draft !== null}
          onChange={(e) => setName(e.target.value)}
        />
        <SelectField
          id="campaign-channel-new"
          label="Channel"
          options={CAMPAIGN_CHANNELS}
          value={channel}
          disabled={draft !== null}
          onChange={(e) => setChannel(e.target.value)}
        />
        <div className="field">
          <label htmlFor="campaign-template">Template</label>
          <textarea
            id="campaign-template"
            rows={5}
            required
            value={template}
            onChange={(e) => setTemplate(e.target.value)}
            aria-describedby="template-hint template-counter"
          />
          <span className="hint" id="template-hint">
            Placeholders: {"{first_name}"}, {"{last_name}"}, {"{location}"}, {"{preferred_product}"},{" "}
            {"{attributes.key}"}; {"{field|fallback}"} for a missing value. The count below is for the template as
            typed; the preview counts the rendered message.
          </span>
          {channel === "sms" ? (
            <SmsCounter text={template} id="template-counter" />
          ) : (
            <span id="template-counter" className="sms-counter">
              {Array.from(template).length} characters
            </span>
          )}
        </div>
        <ErrorText error={formError} />
        {draft ? (
          <p className="muted">
            Saved as draft #{draft.id}.{" "}
            {draft.base_template !== template
              ? "The template changed since: sending saves it as a new draft first."
              : ""}
          </p>
        ) : (
          <button type="submit" className="primary" disabled={saving || !name.trim() || !template.trim()}>
            {saving ? "Saving…" : "Save draft and preview"}
          </button>
        )}
      </form>
      <PreviewPanel
        draft={draft}
        template={template}
        customers={customers.data?.data ?? null}
        customersError={customers.error}
      />
      <SendPanel
        draft={draft}
        template={template}
        customers={customers.data?.data ?? null}
        moreCustomers={customers.data?.next_cursor != null}
        onResave={async () => {
          const fresh = await post<Campaign>("/campaigns", { name, channel, base_template: template });
          setDraft(fresh);
          return fresh;
        }}
      />
    </section>
  );
}

function PreviewPanel({
  draft,
  template,
  customers,
  customersError,
}: {
  draft: Campaign | null;
  template: string;
  customers: Customer[] | null;
  customersError: string | null;
}) {
  const [customerId, setCustomerId] = useState<string>("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!customerId && customers && customers.length > 0) setCustomerId(String(customers[0].id));
  }, [customers, customerId]);

  // Re-render the preview as the template or the customer changes, a moment after typing stops.
  useEffect(() => {
    if (!draft || !customerId || !template.trim()) return;
    let live = true;
    setBusy(true);
    const timer = setTimeout(() => {
      post<Preview>(`/campaigns/${draft.id}/personalized-preview`, {
        customer_id: Number(customerId),
        override_template: template,
      }).then(
        (result) => {
          if (!live) return;
          setPreview(result);
          setError(null);
          setBusy(false);
        },
        (e) => {
          if (!live) return;
          setError(errorMessage(e));
          setBusy(false);
        },
      );
    }, PREVIEW_DEBOUNCE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [draft, customerId, template]);

  return (
    <section className="card" aria-labelledby="preview-title">
      <h2 id="preview-title">2. Preview</h2>
      {!draft ? (
        <p className="muted">Save the draft to preview it for a customer.</p>
      ) : (
        <>
          <div className="field">
            <label htmlFor="preview-customer">Customer</label>
            {customers ? (
              <select id="preview-customer" value={customerId} onChange={(e) => setCustomerId(e.target.value)}>
                {customers.map((c) => (
                  <option key={c.id} value={c.id}>
                    {customerLabel(c)}
                  </option>
                ))}
              </select>
            ) : (
              <Skeleton className="skeleton-input" />
            )}
          </div>
          <ErrorText error={customersError} />
          {customers && customers.length === 0 ? (
            <p className="empty">No customers yet: add some with the API to preview.</p>
          ) : null}
          <ErrorText error={error} />
          <div className="preview" aria-live="polite" aria-busy={busy} data-testid="preview">
            {preview ? (
              <>
                <p className="preview-for">
                  For {preview.customer.first_name ?? "(no first name)"} (#{preview.customer.id})
                </p>
                <p className="preview-text">{preview.rendered_message}</p>
                <p className="muted">
                  {preview.length.characters} characters · {preview.length.encoding} · {preview.length.segments}{" "}
                  {preview.length.segments === 1 ? "segment" : "segments"}
                </p>
              </>
            ) : (
              <Skeleton className="skeleton-block" />
            )}
          </div>
        </>
      )}
    </section>
  );
}

function SendPanel({
  draft,
  template,
  customers,
  moreCustomers,
  onResave,
}: {
  draft: Campaign | null;
  template: string;
  customers: Customer[] | null;
  moreCustomers: boolean;
  onResave: () => Promise<Campaign>;
}) {
  const [audience, setAudience] = useState<"all" | "selected">("all");
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [confirming, setConfirming] = useState(false);

  const toggle = (id: number) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const send = async () => {
    const campaign = draft && draft.base_template === template ? draft : await onResave();
    // "All" is decided by herald at the time of the send: every customer of the account.
    if (audience === "selected" && selected.size === 0) throw new Error("There is no customer to send to.");
    const body = audience === "all" ? { all_customers: true } : { customer_ids: Array.from(selected) };
    await post(`/campaigns/${campaign.id}/send`, body);
    navigate(`/campaigns/${campaign.id}`);
  };

  const count =
    audience === "all"
      ? customers
        ? `all ${customers.length}${moreCustomers ? "+" : ""}`
        : "all"
      : String(selected.size);
  return (
    <section className="card" aria-labelledby="send-title">
      <h2 id="send-title">3. Send</h2>
      <fieldset disabled={!draft}>
        <legend>Send to</legend>
        <label className="inline">
          <input type="radio" name="audience" checked={audience === "all"} onChange={() => setAudience("all")} /> All
          customers
        </label>
        <label className="inline">
          <input
            type="radio"
            name="audience"
            checked={audience === "selected"}
            onChange={() => setAudience("selected")}
          />{" "}
          Selected customers
        </label>
      </fieldset>
      {audience === "selected" && customers ? (
        <ul className="checklist" aria-label="Customers">
          {customers.map((c) => (
            <li key={c.id}>
              <Checkbox checked={selected.has(c.id)} onChange={() => toggle(c.id)}>
                {customerLabel(c)}
              </Checkbox>
            </li>
          ))}
        </ul>
      ) : null}
      <button
        type="button"
        className="primary"
        disabled={!draft || (audience === "selected" && selected.size === 0)}
        onClick={() => setConfirming(true)}
      >
        Send…
      </button>
      {confirming ? (
        <ConfirmDialog
          title="Send this campaign?"
          confirmLabel="Send now"
          onConfirm={send}
          onClose={() => setConfirming(false)}
        >
          <p>One message goes to each of {count} customers. This cannot be undone.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
