//! Customers (the campaign brief's contacts): stored per account, read by campaign starts
//! and the renderer.

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CustomerId};
use sqlx::Row;

use super::PgStore;
use crate::{model::CustomerFields, ports::StoreResult};

/// The advisory lock that orders an account's customer deletes against its campaign starts.
pub(super) fn customers_lock(account: AccountId) -> String {
    format!("herald.customers:{account}")
}

pub(in crate::store) async fn insert_customers(
    store: &PgStore,
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
    .fetch_all(&store.pool)
    .await?;
    // Ids are handed out in insertion order; RETURNING does not promise an order.
    let mut ids = rows.iter().map(|row| row.try_get("id")).collect::<Result<Vec<CustomerId>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

pub(in crate::store) async fn delete_customer(
    store: &PgStore,
    account: AccountId,
    id: CustomerId,
) -> StoreResult<Option<bool>> {
    let mut tx = store.pool.begin().await?;
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
