//! Messages (the job rows) and their timelines.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, MessageId, MessageStatus};
use serde_json::json;
use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::{to_millis, SqliteStore};
use crate::store::queries;
use crate::store::rows as from_row;
use crate::{
    model::{
        AttemptOutcome, ClaimedMessage, DeadLetterFilter, IdempotencyClaim, KeyedMessage, LeaseSweep,
        Message, MessageEventKind, NewMessage, OutboxEvent, SweptLeases, UNCOUNTED_LEASE_DETAIL,
    },
    ports::StoreResult,
    store::{batch, lease_failure_events, parse_column, swept, OutcomeEffect},
};

async fn insert_event(
    tx: &mut Transaction<'_, Sqlite>,
    message_id: MessageId,
    kind: MessageEventKind,
    status: MessageStatus,
    detail: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO message_events (message_id, kind, status, detail, at) VALUES (?, ?, ?, ?, ?)")
        .bind(message_id.to_string())
        .bind(kind)
        .bind(status)
        .bind(detail)
        .bind(to_millis(at))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Inserts a `pending` message (its row is its `accepted` timeline entry) and, with a key,
/// completes that key, inside the caller's transaction.
async fn insert_message_in(tx: &mut Transaction<'_, Sqlite>, message: &NewMessage) -> StoreResult<()> {
    let at = to_millis(message.created_at);
    sqlx::query(
        "INSERT INTO messages (id, account_id, channel, recipient, sender, body, subject, content,
                                   user_id, reference, idempotency_key, client_metadata, segments,
                                   template_id, template_version, status, next_attempt_at,
                                   created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
    )
    .bind(message.id.to_string())
    .bind(message.account_id.to_string())
    .bind(message.channel)
    .bind(message.recipient.as_str())
    .bind(&message.sender)
    .bind(&message.body)
    .bind(&message.content.subject)
    .bind(message.content.stored_json().map(|json| json.to_string()))
    .bind(&message.user_id)
    .bind(&message.tags.reference)
    .bind(&message.tags.idempotency_key)
    .bind(message.tags.metadata.as_ref().map(serde_json::Value::to_string))
    .bind(message.segments())
    .bind(message.template.map(|t| t.id.to_string()))
    .bind(message.template.map(|t| i64::from(t.version)))
    .bind(at)
    .bind(at)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    if let Some(response) = &message.idempotency {
        queries::sqlite::complete_key(tx, message.account_id, Some(message.id), response).await?;
    }
    queries::sqlite::apply_holds(tx, &[message]).await
}

pub(in crate::store) async fn insert_message(store: &SqliteStore, message: &NewMessage) -> StoreResult<()> {
    let mut tx = store.pool.begin().await?;
    insert_message_in(&mut tx, message).await?;
    tx.commit().await?;
    Ok(())
}

pub(in crate::store) async fn insert_messages(
    store: &SqliteStore,
    batch: &[KeyedMessage],
) -> StoreResult<Vec<IdempotencyClaim>> {
    // One transaction and a handful of set-based statements for the whole batch: one
    // commit (one fsync), and no per-message round trips to SQLite's thread.
    let mut tx = store.pool.begin().await?;
    let claimants = batch::claimants(batch);
    let claims: Vec<serde_json::Value> = claimants
        .iter()
        .filter_map(|&i| {
            let (item, claim) = (&batch[i], batch[i].claim.as_ref()?);
            Some(json!({
                "a": item.message.account_id.to_string(),
                "k": item.message.idempotency.as_ref()?.key,
                "f": hex(&claim.fingerprint),
                "now": to_millis(claim.now),
                "exp": to_millis(claim.expires_at),
            }))
        })
        .collect();
    // The claims of one batch are made at one time: the first one's cut-off holds for all.
    let stale_before = batch.iter().find_map(|item| item.claim.as_ref()).map(|c| to_millis(c.stale_before));
    let mut acquired = HashSet::new();
    let mut existing = HashMap::new();
    if !claims.is_empty() {
        let claims = serde_json::Value::Array(claims).to_string();
        // Insert fresh claims, or take over expired or abandoned ones (as claim_key).
        let rows = sqlx::query(&format!(
            "INSERT INTO idempotency_keys (account_id, idempotency_key, fingerprint, state,
                                           locked_at, created_at, expires_at)
             SELECT value ->> 'a', value ->> 'k', unhex(value ->> 'f'), 'in_flight',
                    value ->> 'now', value ->> 'now', value ->> 'exp'
             FROM json_each(?1) WHERE true {}
             RETURNING account_id, idempotency_key",
            crate::store::take_over_stale_key("?2")
        ))
        .bind(&claims)
        .bind(stale_before)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            acquired.insert(batch::key_of_row(row)?);
        }
        let rows = sqlx::query(
            "SELECT account_id, idempotency_key, fingerprint, state, response_status, response_body
             FROM idempotency_keys
             WHERE (account_id, idempotency_key) IN (SELECT value ->> 'a', value ->> 'k' FROM json_each(?1))",
        )
        .bind(&claims)
        .fetch_all(&mut *tx)
        .await?;
        existing = batch::existing_states(&rows, &acquired)?;
    }
    let plan = batch::resolve(batch, &acquired, &existing)?;
    let inserts = batch::to_insert(batch, &plan);
    if !inserts.is_empty() {
        let rows: Vec<serde_json::Value> = inserts
            .iter()
            .map(|m| {
                json!({
                    "id": m.id.to_string(),
                    "account_id": m.account_id.to_string(),
                    "channel": m.channel.as_str(),
                    "recipient": m.recipient.as_str(),
                    "sender": m.sender,
                    "body": m.body,
                    "subject": m.content.subject,
                    "content": m.content.stored_json().map(|json| json.to_string()),
                    "segments": m.segments(),
                    "template_id": m.template.map(|t| t.id.to_string()),
                    "template_version": m.template.map(|t| t.version),
                    "user_id": m.user_id,
                    "reference": m.tags.reference,
                    "idempotency_key": m.tags.idempotency_key,
                    "client_metadata": m.tags.metadata.as_ref().map(serde_json::Value::to_string),
                    "at": to_millis(m.created_at),
                    "key": m.idempotency.as_ref().map(|r| &r.key),
                    "response_status": m.idempotency.as_ref().map(|r| r.status),
                    "response_body": m.idempotency.as_ref().map(|r| &r.body),
                })
            })
            .collect();
        let rows = serde_json::Value::Array(rows).to_string();
        sqlx::query(
            "INSERT INTO messages (id, account_id, channel, recipient, sender, body, subject, content,
                                   user_id, reference, idempotency_key, client_metadata, segments,
                                   template_id, template_version, status, next_attempt_at,
                                   created_at, updated_at)
             SELECT value ->> 'id', value ->> 'account_id', value ->> 'channel',
                    value ->> 'recipient', value ->> 'sender', value ->> 'body',
                    value ->> 'subject', value ->> 'content', value ->> 'user_id',
                    value ->> 'reference', value ->> 'idempotency_key', value ->> 'client_metadata',
                    value ->> 'segments', value ->> 'template_id', value ->> 'template_version',
                    'pending', value ->> 'at', value ->> 'at', value ->> 'at'
             FROM json_each(?1) ORDER BY key",
        )
        .bind(&rows)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', response_status = o.status,
                    response_body = o.body, message_id = o.id
             FROM (SELECT value ->> 'account_id' AS account_id, value ->> 'key' AS key,
                          value ->> 'response_status' AS status, value ->> 'response_body' AS body,
                          value ->> 'id' AS id
                   FROM json_each(?1) WHERE value ->> 'key' IS NOT NULL) AS o
             WHERE idempotency_keys.account_id = o.account_id AND idempotency_keys.idempotency_key = o.key",
        )
        .bind(&rows)
        .execute(&mut *tx)
        .await?;
        queries::sqlite::apply_holds(&mut tx, &inserts).await?;
    }
    tx.commit().await?;
    Ok(batch::outcomes(plan))
}

pub(in crate::store) async fn claim_due_messages(
    store: &SqliteStore,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedMessage>> {
    // One statement: SQLite serialises writers, so select-and-update is atomic.
    let rows = sqlx::query(
        "UPDATE messages SET status = 'sending', lease_owner = ?1, lease_expires_at = ?2,
                updated_at = ?3
         WHERE id IN (SELECT id FROM messages
                      WHERE status IN ('pending', 'scheduled') AND next_attempt_at <= ?3
                      ORDER BY next_attempt_at LIMIT ?4)
         RETURNING *",
    )
    .bind(owner)
    .bind(to_millis(lease_until))
    .bind(to_millis(now))
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(|row| from_row::message(row).map(ClaimedMessage::from)).collect()
}

pub(in crate::store) async fn take_over_leases(
    store: &SqliteStore,
    ids: &[MessageId],
    from: &str,
    to: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<ClaimedMessage>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let rows = sqlx::query(
        "UPDATE messages SET lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3
         WHERE status = 'sending' AND lease_owner = ?4
           AND id IN (SELECT value FROM json_each(?5))
         RETURNING *",
    )
    .bind(to)
    .bind(to_millis(lease_until))
    .bind(to_millis(now))
    .bind(from)
    .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(|row| from_row::message(row).map(ClaimedMessage::from)).collect()
}

pub(in crate::store) async fn record_outcomes(
    store: &SqliteStore,
    owner: &str,
    outcomes: &[AttemptOutcome],
) -> StoreResult<u64> {
    // Set-based, as on PostgreSQL: the batch travels as one JSON array, and one UPDATE,
    // one timeline INSERT and one outbox INSERT apply it, whatever its size.
    let effects: Vec<OutcomeEffect<'_>> = outcomes.iter().map(OutcomeEffect::of).collect();
    let rows: Vec<serde_json::Value> = outcomes
        .iter()
        .zip(&effects)
        .map(|(o, e)| {
            json!({
                "id": o.message_id.to_string(),
                "status": e.status.as_str(),
                "provider": e.provider,
                "provider_message_id": e.provider_message_id,
                "last_error": e.last_error,
                "next_attempt_at": e.next_attempt_at.map(to_millis),
                "retry_increment": e.retry_increment,
                "sent_at": e.sent_at.map(to_millis),
                "at": to_millis(o.at),
            })
        })
        .collect();
    let mut tx = store.pool.begin().await?;
    let applied: Vec<String> = sqlx::query_scalar(
        "UPDATE messages SET status = o.status, provider = o.provider,
                provider_message_id = COALESCE(o.provider_message_id, messages.provider_message_id),
                last_error = o.last_error, next_attempt_at = o.next_attempt_at,
                retry_count = messages.retry_count + o.retry_increment,
                sent_at = COALESCE(o.sent_at, messages.sent_at),
                lease_owner = NULL, lease_expires_at = NULL, updated_at = o.at
         FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status,
                      value ->> 'provider' AS provider,
                      value ->> 'provider_message_id' AS provider_message_id,
                      value ->> 'last_error' AS last_error,
                      value ->> 'next_attempt_at' AS next_attempt_at,
                      value ->> 'retry_increment' AS retry_increment,
                      value ->> 'sent_at' AS sent_at, value ->> 'at' AS at
               FROM json_each(?1)) AS o
         WHERE messages.id = o.id AND messages.status = 'sending' AND messages.lease_owner = ?2
         RETURNING messages.id",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .bind(owner)
    .fetch_all(&mut *tx)
    .await?;
    let applied: HashSet<String> = applied.into_iter().collect();
    let kept: Vec<(&AttemptOutcome, &OutcomeEffect<'_>)> =
        outcomes.iter().zip(&effects).filter(|(o, _)| applied.contains(&o.message_id.to_string())).collect();

    let timeline: Vec<serde_json::Value> = kept
        .iter()
        .map(|(o, e)| {
            json!({
                "message_id": o.message_id.to_string(),
                "kind": e.kind.as_str(),
                "status": e.status.as_str(),
                "detail": e.detail,
                "at": to_millis(o.at),
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO message_events (message_id, kind, status, detail, at)
         SELECT value ->> 'message_id', value ->> 'kind', value ->> 'status', value ->> 'detail',
                value ->> 'at'
         FROM json_each(?1) ORDER BY key",
    )
    .bind(serde_json::Value::Array(timeline).to_string())
    .execute(&mut *tx)
    .await?;

    let events: Vec<(AccountId, &OutboxEvent)> =
        kept.iter().flat_map(|(o, e)| e.events.iter().map(|event| (o.account_id, event))).collect();
    super::outbox::insert_events(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(applied.len() as u64)
}

pub(in crate::store) async fn release_leases(
    store: &SqliteStore,
    owner: &str,
    ids: &[MessageId],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "UPDATE messages SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = ",
    );
    query.push_bind(to_millis(now)).push(", updated_at = ").push_bind(to_millis(now));
    query.push(" WHERE status = 'sending' AND lease_owner = ").push_bind(owner.to_owned());
    query.push(" AND id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.to_string());
    }
    query.push(")");
    Ok(query.build().execute(&store.pool).await?.rows_affected())
}

pub(in crate::store) async fn requeue_expired_leases(
    store: &SqliteStore,
    sweep: &LeaseSweep<'_>,
) -> StoreResult<SweptLeases> {
    let now = to_millis(sweep.now);
    let mut tx = store.pool.begin().await?;
    // Nothing was sent under the uncounted owner's leases: back to pending as they were.
    let uncounted: Vec<String> = sqlx::query_scalar(
        "UPDATE messages SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                next_attempt_at = ?1, updated_at = ?1
         WHERE status = 'sending' AND lease_expires_at <= ?1 AND lease_owner = ?2
         RETURNING id",
    )
    .bind(now)
    .bind(sweep.uncounted_owner)
    .fetch_all(&mut *tx)
    .await?;
    // A lost lease is a lost attempt: it uses a retry, or ends the message when none is
    // left (the same test as RetryPolicy::after_failure). SET expressions read the row
    // as it was, so every CASE sees the old retry_count.
    let limits: Vec<serde_json::Value> =
        sweep.limits().map(|(channel, max)| json!({"channel": channel.as_str(), "max": max})).collect();
    let rows = sqlx::query(
        "UPDATE messages SET
                status = CASE WHEN messages.retry_count >= l.max THEN 'failed' ELSE 'pending' END,
                retry_count = messages.retry_count
                              + CASE WHEN messages.retry_count >= l.max THEN 0 ELSE 1 END,
                last_error = 'attempt ' || (messages.retry_count + 1)
                             || ' lost: its worker died or hung past its lease; '
                             || CASE WHEN messages.retry_count >= l.max THEN 'no retries left'
                                     ELSE 'retrying' END,
                next_attempt_at = CASE WHEN messages.retry_count >= l.max THEN NULL ELSE ?1 END,
                provider = CASE WHEN messages.retry_count >= l.max THEN ?3 ELSE messages.provider END,
                lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1
         FROM (SELECT value ->> 'channel' AS channel, value ->> 'max' AS max
               FROM json_each(?2)) AS l
         WHERE messages.channel = l.channel AND messages.status = 'sending'
           AND messages.lease_expires_at <= ?1 AND messages.lease_owner <> ?4
         RETURNING *",
    )
    .bind(now)
    .bind(serde_json::Value::Array(limits).to_string())
    .bind(sweep.provider)
    .bind(sweep.uncounted_owner)
    .fetch_all(&mut *tx)
    .await?;
    let counted = rows.iter().map(from_row::message).collect::<StoreResult<Vec<_>>>()?;

    let mut timeline: Vec<serde_json::Value> = uncounted
        .iter()
        .map(|id| {
            json!({"message_id": id, "status": MessageStatus::Pending.as_str(),
                   "detail": UNCOUNTED_LEASE_DETAIL})
        })
        .collect();
    timeline.extend(counted.iter().map(
        |m| json!({"message_id": m.id.to_string(), "status": m.status.as_str(), "detail": m.last_error}),
    ));
    sqlx::query(
        "INSERT INTO message_events (message_id, kind, status, detail, at)
         SELECT value ->> 'message_id', ?2, value ->> 'status', value ->> 'detail', ?3
         FROM json_each(?1) ORDER BY key",
    )
    .bind(serde_json::Value::Array(timeline).to_string())
    .bind(MessageEventKind::LeaseExpired.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;

    let (failed, retried): (Vec<Message>, Vec<Message>) =
        counted.into_iter().partition(|m| m.status == MessageStatus::Failed);
    let events = lease_failure_events(&failed, sweep);
    let events: Vec<(AccountId, &OutboxEvent)> = events.iter().map(|(a, e)| (*a, e)).collect();
    super::outbox::insert_events(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(swept(uncounted.len(), &retried, &failed))
}

pub(in crate::store) async fn replay_dead_letters(
    store: &SqliteStore,
    account: AccountId,
    ids: Option<&[MessageId]>,
    filter: &DeadLetterFilter,
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    if ids.is_some_and(<[MessageId]>::is_empty) {
        return Ok(Vec::new());
    }
    let mut tx = store.pool.begin().await?;
    let mut query = QueryBuilder::<Sqlite>::new(
        "UPDATE messages SET status = 'pending', retry_count = 0, lease_owner = NULL,
                lease_expires_at = NULL, next_attempt_at = ",
    );
    query.push_bind(to_millis(now)).push(", updated_at = ").push_bind(to_millis(now));
    query.push(" WHERE status = 'failed'");
    queries::sqlite::push_dead_letter_filter(&mut query, account, filter);
    if let Some(ids) = ids {
        query.push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        query.push(")");
    }
    query.push(" RETURNING id");
    let replayed: Vec<String> = query.build_query_scalar().fetch_all(&mut *tx).await?;
    let mut ids = Vec::with_capacity(replayed.len());
    for id in &replayed {
        let id = parse_column("messages.id", id)?;
        insert_event(&mut tx, id, MessageEventKind::Replayed, MessageStatus::Pending, None, now).await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
