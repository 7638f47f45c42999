//! Customers (the campaign brief's contacts): stored per account, read by campaign starts
//! and the renderer.

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CustomerId};

use super::{to_millis, SqliteStore};
use crate::{model::CustomerFields, ports::StoreResult};

pub(in crate::store) async fn insert_customers(
    store: &SqliteStore,
    account: AccountId,
    customers: &[CustomerFields],
    at: DateTime<Utc>,
) -> StoreResult<Vec<CustomerId>> {
    let rows: Vec<serde_json::Value> = customers
        .iter()
        .map(|f| {
            serde_json::json!({
                "phone": f.phone, "first_name": f.first_name, "last_name": f.last_name, "email": f.email,
                "location": f.location, "preferred_product": f.preferred_product,
                "attributes": serde_json::Value::Object(f.attributes.clone()).to_string(),
            })
        })
        .collect();
    let ids = sqlx::query_scalar(
        "INSERT INTO customers (account_id, phone, first_name, last_name, email, location,
                                preferred_product, attributes, created_at, updated_at)
         SELECT ?2, value ->> 'phone', value ->> 'first_name', value ->> 'last_name', value ->> 'email',
                value ->> 'location', value ->> 'preferred_product', value ->> 'attributes', ?3, ?3
         FROM json_each(?1) ORDER BY key
         RETURNING id",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .bind(account.to_string())
    .bind(to_millis(at))
    .fetch_all(&store.pool)
    .await?;
    // Ids are handed out in insertion order; RETURNING does not promise an order.
    let mut ids: Vec<CustomerId> = ids;
    ids.sort_unstable();
    Ok(ids)
}

pub(in crate::store) async fn delete_customer(
    store: &SqliteStore,
    account: AccountId,
    id: CustomerId,
) -> StoreResult<Option<bool>> {
    // One statement: it takes the write lock before it reads, so a campaign start (one
    // write transaction) either sees the customer gone or is seen by the busy check, which
    // reads the account's in-flight campaign messages by index, not every message.
    let deleted = sqlx::query(
        "DELETE FROM customers WHERE id = ?1 AND account_id = ?2
           AND NOT EXISTS (SELECT 1 FROM campaigns c JOIN messages m ON m.campaign_id = c.id
                           WHERE c.account_id = ?2 AND m.status IN ('pending', 'sending')
                             AND m.customer_id = ?1)",
    )
    .bind(id)
    .bind(account.to_string())
    .execute(&store.pool)
    .await?
    .rows_affected();
    if deleted == 1 {
        return Ok(Some(true));
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customers WHERE id = ?1 AND account_id = ?2)")
            .bind(id)
            .bind(account.to_string())
            .fetch_one(&store.pool)
            .await?;
    Ok(exists.then_some(false))
}
