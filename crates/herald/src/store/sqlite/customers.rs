//! Customers (the campaign brief's contacts): stored per account, read by campaign starts
//! and the renderer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CustomerId};

use super::{to_millis, SqliteStore};
use crate::store::rows as from_row;
use crate::{
    model::{Customer, CustomerFields},
    ports::{CustomerStore, StoreResult},
};

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds a customer's fields, in column order `phone` .. `attributes`: the first seven
/// parameters of the insert and of the update.
fn bind_fields<'q>(query: SqliteQuery<'q>, fields: &'q CustomerFields) -> SqliteQuery<'q> {
    query
        .bind(&fields.phone)
        .bind(&fields.first_name)
        .bind(&fields.last_name)
        .bind(&fields.email)
        .bind(&fields.location)
        .bind(&fields.preferred_product)
        .bind(serde_json::Value::Object(fields.attributes.clone()).to_string())
}

#[async_trait]
impl CustomerStore for SqliteStore {
    async fn insert_customer(
        &self,
        account: AccountId,
        fields: &CustomerFields,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer> {
        // RETURNING in a transaction of its own: on its own, SQLite commits such a
        // statement after handing back the row, and a failed commit would go unseen.
        let mut tx = self.pool.begin().await?;
        let query = sqlx::query(
            "INSERT INTO customers (phone, first_name, last_name, email, location, preferred_product,
                                    attributes, account_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING *",
        );
        let row = bind_fields(query, fields)
            .bind(account.to_string())
            .bind(to_millis(at))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        from_row::customer(&row)
    }

    async fn insert_customers(
        &self,
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
        .fetch_all(&self.pool)
        .await?;
        // Ids are handed out in insertion order; RETURNING does not promise an order.
        let mut ids: Vec<CustomerId> = ids;
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
        let mut tx = self.pool.begin().await?; // RETURNING: see insert_customer
        let query = sqlx::query(
            "UPDATE customers SET phone = ?1, first_name = ?2, last_name = ?3, email = ?4, location = ?5,
                    preferred_product = ?6, attributes = ?7, updated_at = ?8
             WHERE id = ?9 AND account_id = ?10 RETURNING *",
        );
        let row = bind_fields(query, fields)
            .bind(to_millis(at))
            .bind(id)
            .bind(account.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.as_ref().map(from_row::customer).transpose()
    }

    async fn delete_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<bool>> {
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
        .execute(&self.pool)
        .await?
        .rows_affected();
        if deleted == 1 {
            return Ok(Some(true));
        }
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customers WHERE id = ?1 AND account_id = ?2)")
                .bind(id)
                .bind(account.to_string())
                .fetch_one(&self.pool)
                .await?;
        Ok(exists.then_some(false))
    }

    async fn get_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<Customer>> {
        let row = sqlx::query("SELECT * FROM customers WHERE account_id = ? AND id = ?")
            .bind(account.to_string())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row::customer).transpose()
    }

    async fn list_customers(
        &self,
        account: AccountId,
        after: CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<Customer>> {
        let rows = sqlx::query("SELECT * FROM customers WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?")
            .bind(account.to_string())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row::customer).collect()
    }

    async fn customer_ids(&self, account: AccountId) -> StoreResult<Vec<CustomerId>> {
        Ok(sqlx::query_scalar("SELECT id FROM customers WHERE account_id = ? ORDER BY id")
            .bind(account.to_string())
            .fetch_all(&self.pool)
            .await?)
    }
}
