//! Customers and campaigns.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CampaignId, CampaignStatus, CustomerId, MessageId};
use sqlx::{postgres::PgRow, Postgres, QueryBuilder, Row};

use super::PgStore;
use crate::{
    model::{
        Campaign, CampaignFilter, CampaignPage, CampaignStart, CampaignStats, Customer, CustomerFields,
        IdempotencyClaim, NewCampaign, PageStart, StartOutcome,
    },
    ports::{CampaignStore, StoreError, StoreResult},
    store::parse_column,
};

fn customer_from_row(row: &PgRow) -> StoreResult<Customer> {
    let attributes = match row.try_get::<serde_json::Value, _>("attributes")? {
        serde_json::Value::Object(map) => map,
        _ => return Err(StoreError::Corrupt("customers.attributes is not an object".into())),
    };
    Ok(Customer {
        id: row.try_get("id")?,
        account_id: AccountId::from_uuid(row.try_get("account_id")?),
        fields: CustomerFields {
            phone: row.try_get("phone")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            email: row.try_get("email")?,
            location: row.try_get("location")?,
            preferred_product: row.try_get("preferred_product")?,
            attributes,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn campaign_from_row(row: &PgRow) -> StoreResult<Campaign> {
    Ok(Campaign {
        id: row.try_get("id")?,
        account_id: AccountId::from_uuid(row.try_get("account_id")?),
        name: row.try_get("name")?,
        channel: parse_column("campaigns.channel", row.try_get("channel")?)?,
        status: parse_column("campaigns.status", row.try_get("status")?)?,
        base_template: row.try_get("base_template")?,
        scheduled_at: row.try_get("scheduled_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The advisory lock that orders an account's customer deletes against its campaign starts.
fn customers_lock(account: AccountId) -> String {
    format!("herald.customers:{account}")
}

/// `AND ...` conditions of a campaign listing.
fn push_filter(
    query: &mut QueryBuilder<'_, Postgres>,
    account: AccountId,
    filter: CampaignFilter,
    snapshot: CampaignId,
) {
    query.push(" WHERE account_id = ").push_bind(account.as_uuid());
    query.push(" AND id <= ").push_bind(snapshot);
    if let Some(channel) = filter.channel {
        query.push(" AND channel = ").push_bind(channel.as_str());
    }
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
}

#[async_trait]
impl CampaignStore for PgStore {
    async fn insert_customer(
        &self,
        account: AccountId,
        fields: &CustomerFields,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer> {
        let row = sqlx::query(
            "INSERT INTO customers (account_id, phone, first_name, last_name, email, location,
                                    preferred_product, attributes, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        )
        .bind(account.as_uuid())
        .bind(&fields.phone)
        .bind(&fields.first_name)
        .bind(&fields.last_name)
        .bind(&fields.email)
        .bind(&fields.location)
        .bind(&fields.preferred_product)
        .bind(serde_json::Value::Object(fields.attributes.clone()))
        .bind(at)
        .bind(at)
        .fetch_one(&self.pool)
        .await?;
        customer_from_row(&row)
    }

    async fn insert_customers(
        &self,
        account: AccountId,
        customers: &[CustomerFields],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<CustomerId>> {
        let text = |pick: fn(&CustomerFields) -> &Option<String>| -> Vec<Option<&str>> {
            customers.iter().map(|f| pick(f).as_deref()).collect()
        };
        let rows = sqlx::query(
            "INSERT INTO customers (account_id, phone, first_name, last_name, email, location,
                                    preferred_product, attributes, created_at, updated_at)
             SELECT $1, phone, first_name, last_name, email, location, preferred_product, attributes, $2, $2
             FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[])
                  WITH ORDINALITY
                  AS c(phone, first_name, last_name, email, location, preferred_product, attributes, position)
             ORDER BY position
             RETURNING id",
        )
        .bind(account.as_uuid())
        .bind(at)
        .bind(customers.iter().map(|f| f.phone.as_str()).collect::<Vec<_>>())
        .bind(text(|f| &f.first_name))
        .bind(text(|f| &f.last_name))
        .bind(text(|f| &f.email))
        .bind(text(|f| &f.location))
        .bind(text(|f| &f.preferred_product))
        .bind(customers.iter().map(|f| serde_json::Value::Object(f.attributes.clone())).collect::<Vec<_>>())
        .fetch_all(&self.pool)
        .await?;
        // Ids are handed out in insertion order; RETURNING does not promise an order.
        let mut ids = rows.iter().map(|row| row.try_get("id")).collect::<Result<Vec<CustomerId>, _>>()?;
        ids.sort_unstable();
        Ok(ids)
    }

    async fn update_customer(
        &self,
        account: AccountId,
        id: CustomerId,
        fields: &CustomerFields,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Customer>> {
        let row = sqlx::query(
            "UPDATE customers SET phone = $1, first_name = $2, last_name = $3, email = $4, location = $5,
                    preferred_product = $6, attributes = $7, updated_at = $8
             WHERE id = $9 AND account_id = $10 RETURNING *",
        )
        .bind(&fields.phone)
        .bind(&fields.first_name)
        .bind(&fields.last_name)
        .bind(&fields.email)
        .bind(&fields.location)
        .bind(&fields.preferred_product)
        .bind(serde_json::Value::Object(fields.attributes.clone()))
        .bind(at)
        .bind(id)
        .bind(account.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    async fn delete_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<bool>> {
        let mut tx = self.pool.begin().await?;
        // Waits for the account's campaign starts in progress and holds off new ones, so the
        // busy check below sees every message a start links to this customer, and a start
        // never links a customer deleted meanwhile. The check goes through the account's
        // campaigns so that it reads their in-flight messages by index, not every message.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(customers_lock(account))
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query(
            "DELETE FROM customers WHERE id = $1 AND account_id = $2
               AND NOT EXISTS (SELECT 1 FROM campaigns c JOIN messages m ON m.campaign_id = c.id
                               WHERE c.account_id = $2 AND m.status IN ('pending', 'sending')
                                 AND m.customer_id = $1)",
        )
        .bind(id)
        .bind(account.as_uuid())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 1 {
            tx.commit().await?;
            return Ok(Some(true));
        }
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1 AND account_id = $2)")
                .bind(id)
                .bind(account.as_uuid())
                .fetch_one(&mut *tx)
                .await?;
        Ok(exists.then_some(false))
    }

    async fn get_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<Customer>> {
        let row = sqlx::query("SELECT * FROM customers WHERE account_id = $1 AND id = $2")
            .bind(account.as_uuid())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    async fn list_customers(
        &self,
        account: AccountId,
        after: CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<Customer>> {
        let rows =
            sqlx::query("SELECT * FROM customers WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(account.as_uuid())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(customer_from_row).collect()
    }

    async fn insert_campaign(&self, campaign: &NewCampaign) -> StoreResult<Campaign> {
        let row = sqlx::query(
            "INSERT INTO campaigns (account_id, name, channel, status, base_template, scheduled_at,
                                    created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        )
        .bind(campaign.account_id.as_uuid())
        .bind(&campaign.name)
        .bind(campaign.channel.as_str())
        .bind(campaign.status.as_str())
        .bind(&campaign.base_template)
        .bind(campaign.scheduled_at)
        .bind(campaign.created_at)
        .bind(campaign.created_at)
        .fetch_one(&self.pool)
        .await?;
        campaign_from_row(&row)
    }

    async fn get_campaign(&self, account: AccountId, id: CampaignId) -> StoreResult<Option<Campaign>> {
        let row = sqlx::query("SELECT * FROM campaigns WHERE account_id = $1 AND id = $2")
            .bind(account.as_uuid())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(campaign_from_row).transpose()
    }

    async fn list_campaigns(
        &self,
        account: AccountId,
        filter: CampaignFilter,
        snapshot: Option<CampaignId>,
        start: PageStart,
        limit: u32,
    ) -> StoreResult<CampaignPage> {
        let snapshot = match snapshot {
            Some(snapshot) => snapshot,
            None => sqlx::query_scalar::<_, Option<CampaignId>>(
                "SELECT MAX(id) FROM campaigns WHERE account_id = $1",
            )
            .bind(account.as_uuid())
            .fetch_one(&self.pool)
            .await?
            .unwrap_or(CampaignId::new(0)),
        };
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM campaigns");
        push_filter(&mut count, account, filter, snapshot);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page = QueryBuilder::new("SELECT * FROM campaigns");
        push_filter(&mut page, account, filter, snapshot);
        let offset = match start {
            PageStart::Offset(offset) => offset,
            PageStart::Below(id) => {
                page.push(" AND id < ").push_bind(id);
                0
            }
        };
        // One row more than the page: whether a next page exists is what is left below
        // this one, not a count that campaigns committed late or changing status can skew.
        page.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit) + 1);
        page.push(" OFFSET ").push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
        let rows = page.build().fetch_all(&self.pool).await?;
        let mut campaigns = rows.iter().map(campaign_from_row).collect::<StoreResult<Vec<_>>>()?;
        let more = campaigns.len() > limit as usize;
        campaigns.truncate(limit as usize);
        Ok(CampaignPage { campaigns, more, total: total as u64, snapshot })
    }

    async fn campaign_stats(&self, campaign: CampaignId) -> StoreResult<CampaignStats> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM messages WHERE campaign_id = $1 GROUP BY status")
                .bind(campaign)
                .fetch_all(&self.pool)
                .await?;
        Ok(crate::store::campaign_stats_from_rows(rows))
    }

    async fn start_campaign(&self, start: &CampaignStart) -> StoreResult<StartOutcome> {
        let mut tx = self.pool.begin().await?;
        if let Some(taken) = claim_start_key(&mut tx, start).await? {
            return Ok(taken);
        }
        // Shared: starts run side by side, a customer delete waits for them (and they for it).
        sqlx::query("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))")
            .bind(customers_lock(start.account_id))
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
        let status: CampaignStatus = parse_column("campaigns.status", row.try_get("status")?)?;
        let started: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM messages WHERE campaign_id = $1)")
                .bind(start.campaign_id)
                .fetch_one(&mut *tx)
                .await?;
        if started || !matches!(status, CampaignStatus::Draft | CampaignStatus::Scheduled) {
            return Ok(StartOutcome::NotSendable(status));
        }
        sqlx::query("UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(start.status.as_str())
            .bind(start.now)
            .bind(start.campaign_id)
            .execute(&mut *tx)
            .await?;
        let channel: String = row.try_get("channel")?;
        let customers: Vec<CustomerId> = start.recipients.iter().map(|(customer, _)| *customer).collect();
        let messages: Vec<uuid::Uuid> =
            start.recipients.iter().map(|(_, message)| message.as_uuid()).collect();
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
            super::idempotency::complete_key(&mut tx, start.account_id, None, response).await?;
        }
        tx.commit().await?;
        Ok(StartOutcome::Started)
    }

    async fn render_inputs(
        &self,
        campaigns: &[CampaignId],
        customers: &[CustomerId],
    ) -> StoreResult<(HashMap<CampaignId, String>, HashMap<CustomerId, Customer>)> {
        let templates: Vec<(CampaignId, String)> =
            sqlx::query_as("SELECT id, base_template FROM campaigns WHERE id = ANY($1)")
                .bind(campaigns)
                .fetch_all(&self.pool)
                .await?;
        let rows = sqlx::query("SELECT * FROM customers WHERE id = ANY($1)")
            .bind(customers)
            .fetch_all(&self.pool)
            .await?;
        let customers = rows
            .iter()
            .map(|row| customer_from_row(row).map(|c| (c.id, c)))
            .collect::<StoreResult<HashMap<_, _>>>()?;
        Ok((templates.into_iter().collect(), customers))
    }

    async fn save_rendered(&self, bodies: &[(MessageId, String)], at: DateTime<Utc>) -> StoreResult<()> {
        if bodies.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE messages m SET body = r.body, updated_at = $3
             FROM UNNEST($1::uuid[], $2::text[]) AS r(id, body) WHERE m.id = r.id",
        )
        .bind(bodies.iter().map(|(id, _)| id.as_uuid()).collect::<Vec<_>>())
        .bind(bodies.iter().map(|(_, body)| body.as_str()).collect::<Vec<_>>())
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn finish_campaigns(&self, campaigns: &[CampaignId], now: DateTime<Utc>) -> StoreResult<u64> {
        if campaigns.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE campaigns SET updated_at = $2,
                    status = CASE WHEN EXISTS (SELECT 1 FROM messages
                                               WHERE campaign_id = campaigns.id AND status = 'sent')
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
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn due_campaigns(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(CampaignId, AccountId, bool)>> {
        let rows = sqlx::query(
            "SELECT id, account_id, EXISTS (SELECT 1 FROM messages WHERE campaign_id = campaigns.id) AS started
             FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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

    async fn customer_ids(&self, account: AccountId) -> StoreResult<Vec<CustomerId>> {
        Ok(sqlx::query_scalar("SELECT id FROM customers WHERE account_id = $1 ORDER BY id")
            .bind(account.as_uuid())
            .fetch_all(&self.pool)
            .await?)
    }

    async fn set_campaign_status(
        &self,
        campaign: CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let moved = sqlx::query(
            "UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3 AND status = ANY($4)",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(campaign)
        .bind(from.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        .execute(&self.pool)
        .await?;
        Ok(moved.rows_affected() == 1)
    }
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
    match super::idempotency::claim_key(tx, start.account_id, &response.key, claim).await? {
        IdempotencyClaim::Acquired => Ok(None),
        taken => Ok(Some(StartOutcome::KeyTaken(taken))),
    }
}
