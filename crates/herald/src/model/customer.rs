//! Customers (the campaign brief's; herald's contacts).

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, CustomerId};

/// A customer (the campaign brief's `customers`; herald's contacts).
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: CustomerId,
    pub account_id: AccountId,
    pub fields: CustomerFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a customer is made of, as given by the client (phone already in E.164).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFields {
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub location: Option<String>,
    pub preferred_product: Option<String>,
    /// Free attributes, read by templates as `{attributes.<key>}`.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl Customer {
    /// The customer's values by template placeholder name: fields, then `attributes.<key>`
    /// (text as is, other JSON values as their JSON text; null is missing).
    pub fn template_values(&self) -> std::collections::HashMap<String, String> {
        let f = &self.fields;
        let mut values = std::collections::HashMap::new();
        values.insert("id".to_owned(), self.id.to_string());
        values.insert("phone".to_owned(), f.phone.clone());
        for (name, value) in [
            ("first_name", &f.first_name),
            ("last_name", &f.last_name),
            ("email", &f.email),
            ("location", &f.location),
            ("preferred_product", &f.preferred_product),
        ] {
            if let Some(value) = value {
                values.insert(name.to_owned(), value.clone());
            }
        }
        for (key, value) in &f.attributes {
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            values.insert(format!("attributes.{key}"), text);
        }
        values
    }
}
