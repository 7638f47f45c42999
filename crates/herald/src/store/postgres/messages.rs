//! Messages (the job rows) and their timelines.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, MessageId, MessageStatus};
use sqlx::{Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use super::PgStore;
use crate::store::queries;
use crate::store::rows as from_row;
use crate::{
    model::{
        AttemptOutcome, ClaimedMessage, DeadLetterFilter, IdempotencyClaim, KeyedMessage, LeaseSweep,
        Message, MessageEventKind, NewMessage, OutboxEvent, SweptLeases, UNCOUNTED_LEASE_DETAIL,
    },
    ports::StoreResult,
    store::{batch, lease_failure_events, swept, OutcomeEffect},
};

/// Inserts a `pending` message (its row is its `accepted` timeline entry) and, with a key,
/// completes that key, inside the caller's transaction.
async fn insert_message_in(tx: &mut Transaction<'_, Postgres>, message: &NewMessage) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, account_id, channel, recipient, sender, body, user_id,
                                   reference, idempotency_key, client_metadata, subject, content,
                                   segments, template_id, template_version, status,
                                   next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $10, $11, $12, $13, $14, $15, $16, 'pending',
                     $8, $8, $8)",
    )
    .bind(message.id.as_uuid())
    .bind(message.account_id.as_uuid())
    .bind(message.channel)
    .bind(message.recipient.as_str())
    .bind(&message.sender)
    .bind(&message.body)
    .bind(&message.user_id)
    .bind(message.created_at)
    .bind(&message.tags.reference)
    .bind(&message.tags.idempotency_key)
    .bind(&message.tags.metadata)
    .bind(&message.content.subject)
    .bind(message.content.stored_json())
    .bind(message.segments().map(i64::from))
    .bind(message.template.map(|t| t.id.as_uuid()))
    .bind(message.template.map(|t| i32::try_from(t.version).unwrap_or(i32::MAX)))
    .execute(&mut **tx)
    .await?;
    if let Some(response) = &message.idempotency {
        queries::postgres::complete_key(tx, message.account_id, Some(message.id), response).await?;
    }
    queries::postgres::apply_holds(tx, &[message]).await
}

pub(in crate::store) async fn insert_message(store: &PgStore, message: &NewMessage) -> StoreResult<()> {
    let mut tx = store.pool.begin().await?;
    insert_message_in(&mut tx, message).await?;
    super::notify_work(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(in crate::store) async fn insert_messages(
    store: &PgStore,
    batch: &[KeyedMessage],
) -> StoreResult<Vec<IdempotencyClaim>> {
    // One transaction and a handful of set-based statements for the whole batch.
    let mut tx = store.pool.begin().await?;
    let claimants: Vec<&KeyedMessage> = batch::claimants(batch).into_iter().map(|i| &batch[i]).collect();
    let mut acquired = HashSet::new();
    let mut existing = HashMap::new();
    // The claims of one batch are made at one time: the first one's times hold for all.
    if let Some(first) = claimants.iter().find_map(|item| item.claim.as_ref()) {
        let accounts: Vec<Uuid> = claimants.iter().map(|i| i.message.account_id.as_uuid()).collect();
        let keys: Vec<&str> =
            claimants.iter().map(|i| i.message.idempotency.as_ref().map_or("", |r| r.key.as_str())).collect();
        let fingerprints: Vec<Vec<u8>> = claimants
            .iter()
            .map(|i| i.claim.as_ref().map(|c| c.fingerprint.to_vec()).unwrap_or_default())
            .collect();
        // Insert fresh claims, or take over expired or abandoned ones (as claim_key).
        let rows = sqlx::query(&format!(
            "INSERT INTO idempotency_keys (account_id, idempotency_key, fingerprint, state,
                                           locked_at, created_at, expires_at)
             SELECT a, k, f, 'in_flight', $4, $4, $5
             FROM UNNEST($1::uuid[], $2::text[], $3::bytea[]) AS c(a, k, f) {}
             RETURNING account_id, idempotency_key",
            crate::store::take_over_stale_key("$6")
        ))
        .bind(&accounts)
        .bind(&keys)
        .bind(&fingerprints)
        .bind(first.now)
        .bind(first.expires_at)
        .bind(first.stale_before)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            acquired.insert(batch::key_of_row(row)?);
        }
        let rows = sqlx::query(
            "SELECT account_id, idempotency_key, fingerprint, state, response_status, response_body
             FROM idempotency_keys
             WHERE (account_id, idempotency_key) IN (SELECT * FROM UNNEST($1::uuid[], $2::text[]))",
        )
        .bind(&accounts)
        .bind(&keys)
        .fetch_all(&mut *tx)
        .await?;
        existing = batch::existing_states(&rows, &acquired)?;
    }
    let plan = batch::resolve(batch, &acquired, &existing)?;
    let inserts = batch::to_insert(batch, &plan);
    if !inserts.is_empty() {
        let ids: Vec<Uuid> = inserts.iter().map(|m| m.id.as_uuid()).collect();
        let created: Vec<DateTime<Utc>> = inserts.iter().map(|m| m.created_at).collect();
        sqlx::query(
            "INSERT INTO messages (id, account_id, channel, recipient, sender, body, user_id,
                                   reference, idempotency_key, client_metadata, subject, content,
                                   segments, template_id, template_version, status,
                                   next_attempt_at, created_at, updated_at)
             SELECT id, account_id, channel, recipient, sender, body, user_id, reference,
                    idempotency_key, client_metadata, subject, content, segments, template_id,
                    template_version, 'pending', at, at, at
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::timestamptz[],
                         $12::text[], $13::jsonb[], $14::int[], $15::uuid[], $16::int[])
                  WITH ORDINALITY
                  AS m(id, account_id, channel, recipient, sender, body, user_id, reference,
                       idempotency_key, client_metadata, at, subject, content, segments,
                       template_id, template_version, position)
             ORDER BY position",
        )
        .bind(&ids)
        .bind(inserts.iter().map(|m| m.account_id.as_uuid()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.channel.as_str()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.recipient.as_str()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.sender.as_deref()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.body.as_str()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.user_id.as_deref()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.tags.reference.as_deref()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.tags.idempotency_key.as_deref()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.tags.metadata.clone()).collect::<Vec<_>>())
        .bind(&created)
        .bind(inserts.iter().map(|m| m.content.subject.as_deref()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|m| m.content.stored_json()).collect::<Vec<_>>())
        .bind(
            inserts
                .iter()
                .map(|m| m.segments().map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
                .collect::<Vec<_>>(),
        )
        .bind(inserts.iter().map(|m| m.template.map(|t| t.id.as_uuid())).collect::<Vec<_>>())
        .bind(
            inserts
                .iter()
                .map(|m| m.template.map(|t| i32::try_from(t.version).unwrap_or(i32::MAX)))
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
        queries::postgres::apply_holds(&mut tx, &inserts).await?;
        let keyed: Vec<&&NewMessage> = inserts.iter().filter(|m| m.idempotency.is_some()).collect();
        if !keyed.is_empty() {
            sqlx::query(
                "UPDATE idempotency_keys k SET state = 'done', response_status = o.status,
                        response_body = o.body, message_id = o.id
                 FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::text[], $5::uuid[])
                      AS o(account_id, key, status, body, id)
                 WHERE k.account_id = o.account_id AND k.idempotency_key = o.key",
            )
            .bind(keyed.iter().map(|m| m.account_id.as_uuid()).collect::<Vec<_>>())
            .bind(
                keyed
                    .iter()
                    .map(|m| m.idempotency.as_ref().map_or("", |r| r.key.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bind(
                keyed
                    .iter()
                    .map(|m| m.idempotency.as_ref().map_or(0, |r| i32::from(r.status)))
                    .collect::<Vec<_>>(),
            )
            .bind(
                keyed
                    .iter()
                    .map(|m| m.idempotency.as_ref().map_or("", |r| r.body.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bind(keyed.iter().map(|m| m.id.as_uuid()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        super::notify_work(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(batch::outcomes(plan))
}

pub(in crate::store) async fn claim_due_messages(
    store: &PgStore,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedMessage>> {
    // SKIP LOCKED lets several workers claim disjoint batches without waiting on each other.
    let rows = sqlx::query(
        "UPDATE messages m SET status = 'sending', lease_owner = $1, lease_expires_at = $2,
                updated_at = $3
         FROM (SELECT id FROM messages
               WHERE status IN ('pending', 'scheduled') AND next_attempt_at <= $3
               ORDER BY next_attempt_at LIMIT $4
               FOR UPDATE SKIP LOCKED) due
         WHERE m.id = due.id
         RETURNING m.*",
    )
    .bind(owner)
    .bind(lease_until)
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(|row| from_row::message(row).map(ClaimedMessage::from)).collect()
}

pub(in crate::store) async fn take_over_leases(
    store: &PgStore,
    ids: &[MessageId],
    from: &str,
    to: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<ClaimedMessage>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    let rows = sqlx::query(
        "UPDATE messages SET lease_owner = $1, lease_expires_at = $2, updated_at = $3
         WHERE id = ANY($4) AND status = 'sending' AND lease_owner = $5
         RETURNING *",
    )
    .bind(to)
    .bind(lease_until)
    .bind(now)
    .bind(&ids)
    .bind(from)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(|row| from_row::message(row).map(ClaimedMessage::from)).collect()
}

pub(in crate::store) async fn record_outcomes(
    store: &PgStore,
    owner: &str,
    outcomes: &[AttemptOutcome],
) -> StoreResult<u64> {
    // Set-based: one UPDATE, one timeline INSERT and one outbox INSERT per batch, so a
    // batch costs three round trips however many messages it holds.
    let effects: Vec<OutcomeEffect<'_>> = outcomes.iter().map(OutcomeEffect::of).collect();
    let mut tx = store.pool.begin().await?;
    let applied: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE messages m SET status = o.status, provider = o.provider,
                provider_message_id = COALESCE(o.provider_message_id, m.provider_message_id),
                last_error = o.last_error, next_attempt_at = o.next_attempt_at,
                retry_count = m.retry_count + o.retry_increment,
                sent_at = COALESCE(o.sent_at, m.sent_at),
                lease_owner = NULL, lease_expires_at = NULL, updated_at = o.at
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::int[], $8::timestamptz[], $9::timestamptz[])
              AS o(id, status, provider, provider_message_id, last_error, next_attempt_at,
                   retry_increment, sent_at, at)
         WHERE m.id = o.id AND m.status = 'sending' AND m.lease_owner = $10
         RETURNING m.id",
    )
    .bind(outcomes.iter().map(|o| o.message_id.as_uuid()).collect::<Vec<_>>())
    .bind(effects.iter().map(|e| e.status.as_str()).collect::<Vec<_>>())
    .bind(effects.iter().map(|e| e.provider).collect::<Vec<_>>())
    .bind(effects.iter().map(|e| e.provider_message_id).collect::<Vec<_>>())
    .bind(effects.iter().map(|e| e.last_error).collect::<Vec<_>>())
    .bind(effects.iter().map(|e| e.next_attempt_at).collect::<Vec<_>>())
    .bind(effects.iter().map(|e| e.retry_increment).collect::<Vec<_>>())
    .bind(effects.iter().map(|e| e.sent_at).collect::<Vec<_>>())
    .bind(outcomes.iter().map(|o| o.at).collect::<Vec<_>>())
    .bind(owner)
    .fetch_all(&mut *tx)
    .await?;
    let applied: HashSet<Uuid> = applied.into_iter().collect();
    let kept: Vec<(&AttemptOutcome, &OutcomeEffect<'_>)> =
        outcomes.iter().zip(&effects).filter(|(o, _)| applied.contains(&o.message_id.as_uuid())).collect();

    sqlx::query(
        "INSERT INTO message_events (message_id, kind, status, detail, at)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])",
    )
    .bind(kept.iter().map(|(o, _)| o.message_id.as_uuid()).collect::<Vec<_>>())
    .bind(kept.iter().map(|(_, e)| e.kind.as_str()).collect::<Vec<_>>())
    .bind(kept.iter().map(|(_, e)| e.status.as_str()).collect::<Vec<_>>())
    .bind(kept.iter().map(|(_, e)| e.detail.as_str()).collect::<Vec<_>>())
    .bind(kept.iter().map(|(o, _)| o.at).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;

    let events: Vec<(AccountId, &OutboxEvent)> =
        kept.iter().flat_map(|(o, e)| e.events.iter().map(|event| (o.account_id, event))).collect();
    super::outbox::insert_events(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(applied.len() as u64)
}

pub(in crate::store) async fn release_leases(
    store: &PgStore,
    owner: &str,
    ids: &[MessageId],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE messages SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                next_attempt_at = $1, updated_at = $1
         WHERE status = 'sending' AND lease_owner = $2 AND id = ANY($3)",
    )
    .bind(now)
    .bind(owner)
    .bind(ids.iter().map(MessageId::as_uuid).collect::<Vec<_>>())
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected())
}

pub(in crate::store) async fn requeue_expired_leases(
    store: &PgStore,
    sweep: &LeaseSweep<'_>,
) -> StoreResult<SweptLeases> {
    let now = sweep.now;
    let mut tx = store.pool.begin().await?;
    // Nothing was sent under the uncounted owner's leases: back to pending as they were.
    let uncounted: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE messages SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                next_attempt_at = $1, updated_at = $1
         WHERE status = 'sending' AND lease_expires_at <= $1 AND lease_owner = $2
         RETURNING id",
    )
    .bind(now)
    .bind(sweep.uncounted_owner)
    .fetch_all(&mut *tx)
    .await?;
    // A lost lease is a lost attempt: it uses a retry, or ends the message when none is
    // left (the same test as RetryPolicy::after_failure). SET expressions read the row
    // as it was, so every CASE sees the old retry_count. A concurrent sweep waits on the
    // row locks and then finds the rows no longer `sending`.
    let (channels, limits): (Vec<&str>, Vec<i32>) = sweep
        .limits()
        .map(|(channel, max)| (channel.as_str(), i32::try_from(max).unwrap_or(i32::MAX)))
        .unzip();
    let rows = sqlx::query(
        "UPDATE messages m SET
                status = CASE WHEN m.retry_count >= l.max THEN 'failed' ELSE 'pending' END,
                retry_count = m.retry_count + CASE WHEN m.retry_count >= l.max THEN 0 ELSE 1 END,
                last_error = 'attempt ' || (m.retry_count + 1)
                             || ' lost: its worker died or hung past its lease; '
                             || CASE WHEN m.retry_count >= l.max THEN 'no retries left'
                                     ELSE 'retrying' END,
                next_attempt_at = CASE WHEN m.retry_count >= l.max THEN NULL ELSE $1 END,
                provider = CASE WHEN m.retry_count >= l.max THEN $4 ELSE m.provider END,
                lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
         FROM UNNEST($2::text[], $3::int[]) AS l(channel, max)
         WHERE m.channel = l.channel AND m.status = 'sending' AND m.lease_expires_at <= $1
           AND m.lease_owner <> $5
         RETURNING m.*",
    )
    .bind(now)
    .bind(&channels)
    .bind(&limits)
    .bind(sweep.provider)
    .bind(sweep.uncounted_owner)
    .fetch_all(&mut *tx)
    .await?;
    let counted = rows.iter().map(from_row::message).collect::<StoreResult<Vec<_>>>()?;

    let ids: Vec<Uuid> = uncounted.iter().copied().chain(counted.iter().map(|m| m.id.as_uuid())).collect();
    let statuses: Vec<&str> = uncounted
        .iter()
        .map(|_| MessageStatus::Pending.as_str())
        .chain(counted.iter().map(|m| m.status.as_str()))
        .collect();
    let details: Vec<Option<&str>> = uncounted
        .iter()
        .map(|_| Some(UNCOUNTED_LEASE_DETAIL))
        .chain(counted.iter().map(|m| m.last_error.as_deref()))
        .collect();
    sqlx::query(
        "INSERT INTO message_events (message_id, kind, status, detail, at)
         SELECT id, $4, status, detail, $5
         FROM UNNEST($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY
              AS e(id, status, detail, position)
         ORDER BY position",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&details)
    .bind(MessageEventKind::LeaseExpired.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;

    let (failed, retried): (Vec<Message>, Vec<Message>) =
        counted.into_iter().partition(|m| m.status == MessageStatus::Failed);
    let events = lease_failure_events(&failed, sweep);
    let events: Vec<(AccountId, &OutboxEvent)> = events.iter().map(|(a, e)| (*a, e)).collect();
    super::outbox::insert_events(&mut tx, &events).await?;
    if !uncounted.is_empty() || !retried.is_empty() {
        super::notify_work(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(swept(uncounted.len(), &retried, &failed))
}

pub(in crate::store) async fn replay_dead_letters(
    store: &PgStore,
    account: AccountId,
    ids: Option<&[MessageId]>,
    filter: &DeadLetterFilter,
    now: DateTime<Utc>,
) -> StoreResult<Vec<MessageId>> {
    if ids.is_some_and(<[MessageId]>::is_empty) {
        return Ok(Vec::new());
    }
    let mut tx = store.pool.begin().await?;
    let mut query = QueryBuilder::<Postgres>::new(
        "UPDATE messages SET status = 'pending', retry_count = 0, lease_owner = NULL,
                lease_expires_at = NULL, next_attempt_at = ",
    );
    query.push_bind(now).push(", updated_at = ").push_bind(now);
    query.push(" WHERE status = 'failed'");
    queries::postgres::push_dead_letter_filter(&mut query, account, filter);
    if let Some(ids) = ids {
        query
            .push(" AND id = ANY(")
            .push_bind(ids.iter().map(MessageId::as_uuid).collect::<Vec<_>>())
            .push(")");
    }
    query.push(" RETURNING id");
    let replayed: Vec<Uuid> = query.build_query_scalar().fetch_all(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO message_events (message_id, kind, status, at)
         SELECT id, $2, $3, $4 FROM UNNEST($1::uuid[]) AS r(id)",
    )
    .bind(&replayed)
    .bind(MessageEventKind::Replayed.as_str())
    .bind(MessageStatus::Pending)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    super::notify_work(&mut tx).await?;
    tx.commit().await?;
    Ok(replayed.into_iter().map(MessageId::from_uuid).collect())
}
