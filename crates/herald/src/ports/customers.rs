//! Customers (the campaign brief's contacts), per account.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CustomerId};

use super::StoreResult;
use crate::model::{Customer, CustomerFields};

/// Customers (the campaign brief's `customers`; herald's contacts). Campaign starts and the
/// renderer read them through [`super::CampaignStore`].
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn insert_customer(
        &self,
        account: AccountId,
        fields: &CustomerFields,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer>;
    async fn get_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<Customer>>;
    /// Replaces a customer's fields; `None` when the account has no such customer.
    async fn update_customer(
        &self,
        account: AccountId,
        id: CustomerId,
        fields: &CustomerFields,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Customer>>;
    /// Deletes a customer unless campaign messages to them are still on their way
    /// (`Some(false)`); `None` when the account has no such customer.
    async fn delete_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<bool>>;
    /// Many customers in one transaction (imports); their ids, in order.
    async fn insert_customers(
        &self,
        account: AccountId,
        customers: &[CustomerFields],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<CustomerId>>;
    /// The account's customers with ids above `after`, in id order.
    async fn list_customers(
        &self,
        account: AccountId,
        after: CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<Customer>>;
    /// Every customer id of the account, in id order.
    async fn customer_ids(&self, account: AccountId) -> StoreResult<Vec<CustomerId>>;
}
