//! Customers, the people campaigns are sent to: validation and the use cases behind
//! `/api/v1/customers` (create, get, list, update, delete, CSV import).

use std::sync::Arc;

use chrono::Utc;
use herald_domain::{AccountId, CustomerId, PhoneNumber};
use serde_json::{Map, Value};

use super::customer_csv;
use crate::{
    model::{Customer, CustomerFields},
    ports::{Store, StoreError},
};

pub(crate) const MAX_TEXT_CHARS: usize = 200;
const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;

/// A customer id from its text form (a path segment): a positive integer. The one place
/// that knows what a customer id looks like on the wire.
pub fn parse_id<T: From<i64>>(text: &str) -> Option<T> {
    text.parse::<i64>().ok().filter(|id| *id > 0).map(T::from)
}

/// A customer as given, before validation.
#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub location: Option<String>,
    pub preferred_product: Option<String>,
    pub attributes: Option<Map<String, Value>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// The id as the client wrote it.
    #[error("Customer with ID {0} not found")]
    NotFound(String),
    /// An invalid field; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error("Customer {0} has campaign messages on their way; delete it once they are sent")]
    InUse(CustomerId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One rejected row of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Ids of the imported customers, in file order.
    pub ids: Vec<CustomerId>,
    pub rejected: usize,
    /// The first rows left out, with why.
    pub errors: Vec<RowError>,
}

/// Checks a customer as given; the error names the field.
pub fn validate(input: CustomerInput) -> Result<CustomerFields, String> {
    let phone = PhoneNumber::parse(&input.phone).map_err(|e| format!("'phone' {e}"))?;
    let text = |name: &str, value: Option<String>| -> Result<Option<String>, String> {
        let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_TEXT_CHARS || v.chars().any(char::is_control))
        {
            return Err(format!(
                "'{name}' must be at most {MAX_TEXT_CHARS} characters, without control characters"
            ));
        }
        Ok(value)
    };
    let email = text("email", input.email)?;
    if email.as_ref().is_some_and(|e| !e.contains('@')) {
        return Err("'email' must be an email address".into());
    }
    let attributes = input.attributes.unwrap_or_default();
    if Value::Object(attributes.clone()).to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(format!("'attributes' must be at most {MAX_ATTRIBUTES_BYTES} bytes"));
    }
    if let Some(key) =
        attributes.keys().find(|k| !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.is_empty())
    {
        return Err(format!(
            "attribute name {key:?} must be letters, digits and '_' (templates use {{attributes.<name>}})"
        ));
    }
    Ok(CustomerFields {
        phone: phone.to_string(),
        first_name: text("first_name", input.first_name)?,
        last_name: text("last_name", input.last_name)?,
        email,
        location: text("location", input.location)?,
        preferred_product: text("preferred_product", input.preferred_product)?,
        attributes,
    })
}

#[derive(Clone)]
pub struct Customers {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Customers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customers").finish_non_exhaustive()
    }
}

impl Customers {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    pub async fn create(&self, account: AccountId, input: CustomerInput) -> Result<Customer, CustomerError> {
        let fields = validate(input).map_err(CustomerError::Invalid)?;
        Ok(self.store.insert_customer(account, &fields, Utc::now()).await?)
    }

    /// The account's customer `id` (as the client wrote it).
    pub async fn get(&self, account: AccountId, id: &str) -> Result<Customer, CustomerError> {
        let customer_id = parse_id(id).ok_or_else(|| CustomerError::NotFound(id.to_owned()))?;
        self.store
            .get_customer(account, customer_id)
            .await?
            .ok_or_else(|| CustomerError::NotFound(id.to_owned()))
    }

    /// Up to `limit` customers with ids above `after`, in id order.
    pub async fn list(
        &self,
        account: AccountId,
        after: CustomerId,
        limit: u32,
    ) -> Result<Vec<Customer>, CustomerError> {
        Ok(self.store.list_customers(account, after, limit).await?)
    }

    /// Replaces a customer's fields.
    pub async fn update(
        &self,
        account: AccountId,
        id: &str,
        input: CustomerInput,
    ) -> Result<Customer, CustomerError> {
        let customer_id = parse_id(id).ok_or_else(|| CustomerError::NotFound(id.to_owned()))?;
        let fields = validate(input).map_err(CustomerError::Invalid)?;
        self.store
            .update_customer(account, customer_id, &fields, Utc::now())
            .await?
            .ok_or_else(|| CustomerError::NotFound(id.to_owned()))
    }

    /// Deletes a customer, unless campaign messages to them are still on their way.
    pub async fn delete(&self, account: AccountId, id: &str) -> Result<(), CustomerError> {
        let customer_id = parse_id(id).ok_or_else(|| CustomerError::NotFound(id.to_owned()))?;
        match self.store.delete_customer(account, customer_id).await? {
            None => Err(CustomerError::NotFound(id.to_owned())),
            Some(true) => Ok(()),
            Some(false) => Err(CustomerError::InUse(customer_id)),
        }
    }

    /// Imports the valid rows of a CSV file in one transaction and reports the others.
    pub async fn import(&self, account: AccountId, csv: &[u8]) -> Result<ImportReport, CustomerError> {
        let parsed = customer_csv::parse(csv).map_err(CustomerError::Invalid)?;
        let ids = if parsed.valid.is_empty() {
            Vec::new()
        } else {
            self.store.insert_customers(account, &parsed.valid, Utc::now()).await?
        };
        Ok(ImportReport { ids, rejected: parsed.rejected, errors: parsed.errors })
    }
}
