//! Messages (the job rows) and their timelines.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, MessageId, MessageStatus};
use sqlx::{postgres::PgRow, Postgres, Row, Transaction};
use uuid::Uuid;

use super::PgStore;
use crate::{
    model::{
        AttemptOutcome, AttemptResult, ClaimedMessage, Message, MessageEvent, MessageEventKind,
        NewMessage, StatusCounts,
    },
    ports::{MessageStore, StoreError, StoreResult},
    store::parse_column,
};

fn message_from_row(row: &PgRow) -> StoreResult<Message> {
    Ok(Message {
        id: MessageId::from_uuid(row.try_get("id")?),
        account_id: AccountId::from_uuid(row.try_get("account_id")?),
        channel: parse_column("messages.channel", row.try_get("channel")?)?,
        recipient: row.try_get("recipient")?,
        sender: row.try_get("sender")?,
        body: row.try_get("body")?,
        user_id: row.try_get("user_id")?,
        status: parse_column("messages.status", row.try_get("status")?)?,
        retry_count: row.try_get::<i32, _>("retry_count")? as u32,
        last_error: row.try_get("last_error")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        provider: row.try_get("provider")?,
        provider_message_id: row.try_get("provider_message_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

fn claimed_from_row(row: &PgRow) -> StoreResult<ClaimedMessage> {
    Ok(ClaimedMessage {
        id: MessageId::from_uuid(row.try_get("id")?),
        account_id: AccountId::from_uuid(row.try_get("account_id")?),
        channel: parse_column("messages.channel", row.try_get("channel")?)?,
        recipient: row.try_get("recipient")?,
        sender: row.try_get("sender")?,
        body: row.try_get("body")?,
        user_id: row.try_get("user_id")?,
        retry_count: row.try_get::<i32, _>("retry_count")? as u32,
    })
}

async fn insert_event(
    tx: &mut Transaction<'_, Postgres>,
    message_id: MessageId,
    kind: MessageEventKind,
    status: MessageStatus,
    detail: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO message_events (message_id, kind, status, detail, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(message_id.as_uuid())
    .bind(kind.as_str())
    .bind(status.as_str())
    .bind(detail)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies one outcome if `owner` still holds the message's lease; false otherwise.
async fn apply_outcome(
    tx: &mut Transaction<'_, Postgres>,
    owner: &str,
    outcome: &AttemptOutcome,
) -> StoreResult<bool> {
    let id = outcome.message_id.as_uuid();
    let at = outcome.at;
    let (status, detail, updated) = match &outcome.result {
        AttemptResult::Sent {
            provider,
            provider_message_id,
            event,
        } => {
            let updated = sqlx::query(
                "UPDATE messages SET status = 'sent', provider = $1, provider_message_id = $2,
                        last_error = NULL, next_attempt_at = NULL, lease_owner = NULL,
                        lease_expires_at = NULL, sent_at = $3, updated_at = $3
                 WHERE id = $4 AND status = 'sending' AND lease_owner = $5",
            )
            .bind(provider)
            .bind(provider_message_id)
            .bind(at)
            .bind(id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if updated == 1 {
                super::outbox::insert_event(tx, outcome.account_id, event).await?;
            }
            (
                MessageStatus::Sent,
                format!("accepted by {provider}"),
                updated,
            )
        }
        AttemptResult::RetryScheduled {
            provider,
            error,
            next_attempt_at,
        } => {
            let updated = sqlx::query(
                "UPDATE messages SET status = 'pending', provider = $1, last_error = $2,
                        retry_count = retry_count + 1, next_attempt_at = $3, lease_owner = NULL,
                        lease_expires_at = NULL, updated_at = $4
                 WHERE id = $5 AND status = 'sending' AND lease_owner = $6",
            )
            .bind(provider)
            .bind(error)
            .bind(next_attempt_at)
            .bind(at)
            .bind(id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            let detail = format!(
                "{provider}: {error}; retry at {}",
                next_attempt_at.to_rfc3339()
            );
            (MessageStatus::Pending, detail, updated)
        }
        AttemptResult::Failed {
            provider,
            error,
            event,
        } => {
            let updated = sqlx::query(
                "UPDATE messages SET status = 'failed', provider = $1, last_error = $2,
                        next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
                        updated_at = $3
                 WHERE id = $4 AND status = 'sending' AND lease_owner = $5",
            )
            .bind(provider)
            .bind(error)
            .bind(at)
            .bind(id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if updated == 1 {
                super::outbox::insert_event(tx, outcome.account_id, event).await?;
            }
            (
                MessageStatus::Failed,
                format!("{provider}: {error}"),
                updated,
            )
        }
    };
    if updated != 1 {
        return Ok(false);
    }
    let kind = if status == MessageStatus::Sent {
        MessageEventKind::AttemptSucceeded
    } else {
        MessageEventKind::AttemptFailed
    };
    insert_event(tx, outcome.message_id, kind, status, Some(&detail), at).await?;
    Ok(true)
}

#[async_trait]
impl MessageStore for PgStore {
    async fn insert_message(&self, message: &NewMessage) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO messages (id, account_id, channel, recipient, sender, body, user_id,
                                   status, next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $8)",
        )
        .bind(message.id.as_uuid())
        .bind(message.account_id.as_uuid())
        .bind(message.channel.as_str())
        .bind(&message.recipient)
        .bind(&message.sender)
        .bind(&message.body)
        .bind(&message.user_id)
        .bind(message.created_at)
        .execute(&mut *tx)
        .await?;
        insert_event(
            &mut tx,
            message.id,
            MessageEventKind::Accepted,
            MessageStatus::Pending,
            None,
            message.created_at,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_message(&self, account: AccountId, id: MessageId) -> StoreResult<Option<Message>> {
        let row = sqlx::query("SELECT * FROM messages WHERE id = $1 AND account_id = $2")
            .bind(id.as_uuid())
            .bind(account.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    async fn list_message_events(&self, id: MessageId) -> StoreResult<Vec<MessageEvent>> {
        let rows = sqlx::query(
            "SELECT kind, status, detail, at FROM message_events WHERE message_id = $1 ORDER BY id",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(MessageEvent {
                    kind: MessageEventKind::parse(&kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("message_events.kind = {kind:?}"))
                    })?,
                    status: parse_column("message_events.status", row.try_get("status")?)?,
                    detail: row.try_get("detail")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    async fn claim_due_messages(
        &self,
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
                   WHERE status = 'pending' AND next_attempt_at <= $3
                   ORDER BY next_attempt_at LIMIT $4
                   FOR UPDATE SKIP LOCKED) due
             WHERE m.id = due.id
             RETURNING m.id, m.account_id, m.channel, m.recipient, m.sender, m.body, m.user_id,
                       m.retry_count",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(claimed_from_row).collect()
    }

    async fn record_outcomes(&self, owner: &str, outcomes: &[AttemptOutcome]) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut applied = 0;
        for outcome in outcomes {
            if apply_outcome(&mut tx, owner, outcome).await? {
                applied += 1;
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    async fn requeue_expired_leases(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE messages SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                    next_attempt_at = $1, updated_at = $1
             WHERE status = 'sending' AND lease_expires_at <= $1
             RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            let id = MessageId::from_uuid(*id);
            insert_event(
                &mut tx,
                id,
                MessageEventKind::LeaseExpired,
                MessageStatus::Pending,
                None,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn status_counts(&self) -> StoreResult<StatusCounts> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM messages GROUP BY status")
                .fetch_all(&self.pool)
                .await?;
        Ok(crate::store::counts_from_rows(rows))
    }
}
