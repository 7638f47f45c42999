import { useState } from "react";
import { get, type Notification } from "../api";
import { Badge, ErrorText, Fact, PageHeader, RefreshButton, Skeleton } from "../components/ui";
import { formatTime } from "../lib/format";
import { useLoad } from "../lib/hooks";
import { maskRecipient } from "../lib/mask";

export function MessageDetail({ id }: { id: string }) {
  const message = useLoad(() => get<Notification>(`/api/v1/notifications/${encodeURIComponent(id)}`), id);
  const [reveal, setReveal] = useState(false);
  const m = message.data;

  return (
    <section>
      <PageHeader title="Message">
        <RefreshButton onClick={message.reload} />
        <a href="#/messages">Search messages</a>
      </PageHeader>
      <p className="mono muted">{id}</p>
      <ErrorText error={message.error} />
      {message.error && !m ? null : (
        <>
          <dl className="facts">
            <Fact term="Status">{m ? <Badge value={m.status} /> : null}</Fact>
            <Fact term="Channel">{m?.channel}</Fact>
            <Fact term="To">
              {m ? (
                <>
                  <span className="mono">{reveal ? m.to : maskRecipient(m.to)}</span>{" "}
                  <button type="button" className="link" onClick={() => setReveal(!reveal)} aria-pressed={reveal}>
                    {reveal ? "Hide" : "Show"}
                  </button>
                </>
              ) : null}
            </Fact>
            <Fact term="Provider">{m ? (m.provider ?? "—") : null}</Fact>
            <Fact term="Attempts">{m ? `${m.attempts} (${m.retry_count} retried)` : null}</Fact>
            <Fact term="Segments">{m ? (m.segments ?? "—") : null}</Fact>
            <Fact term="Created">{m ? formatTime(m.created_at) : null}</Fact>
            <Fact term="Sent">{m ? formatTime(m.sent_at) : null}</Fact>
            <Fact term="Next attempt">{m ? formatTime(m.next_attempt_at) : null}</Fact>
          </dl>
          {m?.last_error ? (
            <p className="error-box">
              <strong>Last error:</strong> {m.last_error}
            </p>
          ) : null}
          <h2>Body</h2>
          {m ? (
            <pre className="template">{m.subject ? `${m.subject}\n\n${m.body}` : m.body}</pre>
          ) : (
            <Skeleton className="skeleton-block" />
          )}
          <h2>Timeline</h2>
          {m ? (
            m.events.length === 0 ? (
              <p className="empty">No events recorded.</p>
            ) : (
              <ol className="timeline" data-testid="timeline">
                {m.events.map((e, i) => (
                  <li key={i} className={`timeline-${e.type}`}>
                    <time dateTime={e.at}>{formatTime(e.at)}</time> <strong>{e.type.replace(/_/g, " ")}</strong>{" "}
                    <Badge value={e.status} />
                    {e.detail ? <span className="detail">{e.detail}</span> : null}
                  </li>
                ))}
              </ol>
            )
          ) : (
            <Skeleton className="skeleton-block" />
          )}
        </>
      )}
    </section>
  );
}
