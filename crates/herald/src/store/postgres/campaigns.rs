//! Customers and campaigns.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CampaignId, CampaignStatus, CustomerId};
use sqlx::Row;

use super::PgStore;
use crate::store::queries;
use crate::store::rows as from_row;
use crate::{
    model::{CampaignStart, Customer, IdempotencyClaim, RenderedMessage, StartOutcome},
    ports::StoreResult,
};

pub(in crate::store) async fn start_campaign(
    store: &PgStore,
    start: &CampaignStart,
) -> StoreResult<StartOutcome> {
    let mut tx = store.pool.begin().await?;
    if let Some(taken) = claim_start_key(&mut tx, start).await? {
        return Ok(taken);
    }
    // Shared: starts run side by side, a customer delete waits for them (and they for it).
    sqlx::query("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))")
        .bind(super::customers::customers_lock(start.account_id))
        .execute(&mut *tx)
        .await?;
    // The row lock serialises concurrent starts of one campaign; the checks come after
    // it, each a statement of its own. Under READ COMMITTED a statement sees what was
    // committed when it began, so a check folded into the locking statement would miss
    // the messages of a start that committed while this one waited for the lock.
    let Some(row) =
        sqlx::query("SELECT status, channel FROM campaigns WHERE id = $1 AND account_id = $2 FOR UPDATE")
            .bind(start.campaign_id)
            .bind(start.account_id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(StartOutcome::NotFound);
    };
    let status: CampaignStatus = row.try_get("status")?;
    let started: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM messages WHERE campaign_id = $1)")
        .bind(start.campaign_id)
        .fetch_one(&mut *tx)
        .await?;
    if started || !matches!(status, CampaignStatus::Draft | CampaignStatus::Scheduled) {
        return Ok(StartOutcome::NotSendable(status));
    }
    sqlx::query("UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(start.status)
        .bind(start.now)
        .bind(start.campaign_id)
        .execute(&mut *tx)
        .await?;
    let channel: String = row.try_get("channel")?;
    let customers: Vec<CustomerId> = start.recipients.iter().map(|(customer, _)| *customer).collect();
    let messages: Vec<uuid::Uuid> = start.recipients.iter().map(|(_, message)| message.as_uuid()).collect();
    let unknown: Vec<CustomerId> = sqlx::query_scalar(
        "SELECT r.id FROM UNNEST($1::bigint[]) WITH ORDINALITY AS r(id, position)
         WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = r.id AND c.account_id = $2)
         ORDER BY r.position",
    )
    .bind(&customers)
    .bind(start.account_id.as_uuid())
    .fetch_all(&mut *tx)
    .await?;
    if !unknown.is_empty() {
        tx.rollback().await?;
        return Ok(StartOutcome::UnknownCustomers(unknown));
    }
    // Keeps the 100,000-row sort of the insert below in memory (the default 4 MB spills
    // it to disk); for this transaction only.
    sqlx::query("SET LOCAL work_mem = '64MB'").execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO messages (id, account_id, channel, recipient, sender, body, status,
                               next_attempt_at, created_at, updated_at, campaign_id, customer_id)
         SELECT r.message, $3, $4, c.phone, $5, '', 'pending', $6, $7, $7, $8, c.id
         FROM UNNEST($1::bigint[], $2::uuid[]) WITH ORDINALITY AS r(customer, message, position)
         JOIN customers c ON c.id = r.customer
         ORDER BY r.position",
    )
    .bind(&customers)
    .bind(&messages)
    .bind(start.account_id.as_uuid())
    .bind(&channel)
    .bind(&start.sender)
    .bind(start.due_at)
    .bind(start.now)
    .bind(start.campaign_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify('herald_work', '')").execute(&mut *tx).await?;
    if let Some(response) = &start.idempotency {
        queries::postgres::complete_key(&mut tx, start.account_id, None, response).await?;
    }
    tx.commit().await?;
    Ok(StartOutcome::Started)
}

pub(in crate::store) async fn render_inputs(
    store: &PgStore,
    campaigns: &[CampaignId],
    customers: &[CustomerId],
) -> StoreResult<(HashMap<CampaignId, String>, HashMap<CustomerId, Customer>)> {
    let templates: Vec<(CampaignId, String)> =
        sqlx::query_as("SELECT id, base_template FROM campaigns WHERE id = ANY($1)")
            .bind(campaigns)
            .fetch_all(&store.pool)
            .await?;
    let rows = sqlx::query("SELECT * FROM customers WHERE id = ANY($1)")
        .bind(customers)
        .fetch_all(&store.pool)
        .await?;
    let customers = rows
        .iter()
        .map(|row| from_row::customer(row).map(|c| (c.id, c)))
        .collect::<StoreResult<HashMap<_, _>>>()?;
    Ok((templates.into_iter().collect(), customers))
}

pub(in crate::store) async fn save_rendered(
    store: &PgStore,
    rendered: &[RenderedMessage],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if rendered.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE messages m SET body = r.body, segments = r.segments,
                sender = COALESCE(r.sender, m.sender), updated_at = $3
         FROM UNNEST($1::uuid[], $2::text[], $4::int[], $5::text[]) AS r(id, body, segments, sender)
         WHERE m.id = r.id",
    )
    .bind(rendered.iter().map(|r| r.id.as_uuid()).collect::<Vec<_>>())
    .bind(rendered.iter().map(|r| r.body.as_str()).collect::<Vec<_>>())
    .bind(at)
    .bind(
        rendered.iter().map(|r| r.segments.map(|n| i32::try_from(n).unwrap_or(i32::MAX))).collect::<Vec<_>>(),
    )
    .bind(rendered.iter().map(|r| r.sender.as_deref()).collect::<Vec<_>>())
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(in crate::store) async fn finish_campaigns(
    store: &PgStore,
    campaigns: &[CampaignId],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if campaigns.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE campaigns SET updated_at = $2,
                status = CASE WHEN EXISTS (SELECT 1 FROM messages
                                           WHERE campaign_id = campaigns.id
                                             AND status IN ('sent', 'delivered', 'read', 'undelivered'))
                              THEN 'sent' ELSE 'failed' END
         WHERE id = ANY($1)
           AND status IN ('sending', 'scheduled')
           AND (scheduled_at IS NULL OR scheduled_at <= $2)
           AND EXISTS (SELECT 1 FROM messages WHERE campaign_id = campaigns.id)
           AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign_id = campaigns.id
                                                  AND status IN ('pending', 'sending'))",
    )
    .bind(campaigns)
    .bind(now)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected())
}

pub(in crate::store) async fn due_campaigns(
    store: &PgStore,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<(CampaignId, AccountId, bool)>> {
    let rows = sqlx::query(
        "SELECT id, account_id, EXISTS (SELECT 1 FROM messages WHERE campaign_id = campaigns.id) AS started
         FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("id")?,
                AccountId::from_uuid(row.try_get("account_id")?),
                row.try_get::<bool, _>("started")?,
            ))
        })
        .collect()
}

pub(in crate::store) async fn set_campaign_status(
    store: &PgStore,
    campaign: CampaignId,
    from: &[CampaignStatus],
    to: CampaignStatus,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let moved =
        sqlx::query("UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3 AND status = ANY($4)")
            .bind(to.as_str())
            .bind(now)
            .bind(campaign)
            .bind(from.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            .execute(&store.pool)
            .await?;
    Ok(moved.rows_affected() == 1)
}

/// Claims a start's idempotency key first thing in its transaction: `Some` (the key's
/// state) when it is another request's, and the start must not go ahead.
async fn claim_start_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    start: &CampaignStart,
) -> StoreResult<Option<StartOutcome>> {
    let (Some(response), Some(claim)) = (&start.idempotency, &start.claim) else {
        return Ok(None);
    };
    match queries::postgres::claim_key(tx, start.account_id, &response.key, claim).await? {
        IdempotencyClaim::Acquired => Ok(None),
        taken => Ok(Some(StartOutcome::KeyTaken(taken))),
    }
}
