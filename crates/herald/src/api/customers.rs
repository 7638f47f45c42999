//! `/api/v1/customers`: the people campaigns are sent to.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Json, Router,
};
use chrono::{DateTime, Utc};
use herald_domain::{CustomerId, PhoneNumber};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{page_limit, ApiJson, ApiQuery},
    schema, AppState,
};
use crate::model::{Customer, CustomerFields};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers", get(list_customers).post(create_customer))
        .route("/api/v1/customers/import", axum::routing::post(import_customers))
        .route("/api/v1/customers/{id}", get(get_customer).put(update_customer).delete(delete_customer))
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
pub(crate) const MAX_TEXT_CHARS: usize = 200;
const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;
/// Customer fields a CSV column may name; any other column becomes an attribute.
const CSV_FIELDS: [&str; 6] = ["phone", "first_name", "last_name", "email", "location", "preferred_product"];
/// Per-row errors quoted in an import's answer, at most.
const MAX_REPORTED_ERRORS: usize = 100;

/// A positive integer id from a path segment.
pub(super) fn parse_id<T: From<i64>>(text: &str) -> Option<T> {
    text.parse::<i64>().ok().filter(|id| *id > 0).map(T::from)
}

pub(super) fn customer_not_found(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "CUSTOMER_NOT_FOUND", format!("Customer with ID {id} not found"))
}

/// The customer as the campaign preview shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerBrief {
    #[schema(value_type = i64)]
    pub id: CustomerId,
    pub first_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    #[schema(schema_with = schema::phone)]
    phone: String,
    #[schema(schema_with = schema::optional_text)]
    first_name: Option<String>,
    #[schema(schema_with = schema::optional_text)]
    last_name: Option<String>,
    #[schema(schema_with = schema::optional_email)]
    email: Option<String>,
    #[schema(schema_with = schema::optional_text)]
    location: Option<String>,
    #[schema(schema_with = schema::optional_text)]
    preferred_product: Option<String>,
    #[schema(schema_with = schema::optional_attributes)]
    attributes: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOut {
    #[schema(value_type = i64)]
    pub id: CustomerId,
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub location: Option<String>,
    pub preferred_product: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Customer> for CustomerOut {
    fn from(c: Customer) -> Self {
        let f = c.fields;
        Self {
            id: c.id,
            phone: f.phone,
            first_name: f.first_name,
            last_name: f.last_name,
            email: f.email,
            location: f.location,
            preferred_product: f.preferred_product,
            attributes: f.attributes,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Checks a customer as given; the error names the field.
pub(crate) fn validate_customer(input: CustomerIn) -> Result<CustomerFields, String> {
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

/// Create a customer.
#[utoipa::path(
    post,
    path = "/api/v1/customers",
    tag = "customers",
    request_body(content = CustomerIn, example = json!({"phone": "+254712345678", "first_name": "Alice", "location": "Nairobi", "preferred_product": "Running Shoes", "attributes": {"tier": "gold"}})),
    responses(
        (status = 201, body = CustomerOut, links(
            ("GetCustomer" = (operation_id = "get_customer", parameters(("id" = "$response.body#/id")))),
            ("UpdateCustomer" = (operation_id = "update_customer", parameters(("id" = "$response.body#/id")))),
            ("DeleteCustomer" = (operation_id = "delete_customer", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 422, description = "An invalid field (`VALIDATION_ERROR`, naming it)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create_customer(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(input): ApiJson<CustomerIn>,
) -> ApiResult<(StatusCode, Json<CustomerOut>)> {
    let fields = validate_customer(input).map_err(ApiError::validation)?;
    let customer = state.store.insert_customer(auth.account_id, &fields, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(customer.into())))
}

/// One customer.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = i64, Path, minimum = 1, description = "Customer id")),
    responses((status = 200, body = CustomerOut), (status = 404, description = "`CUSTOMER_NOT_FOUND`", body = ErrorBody)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerOut>> {
    let customer_id = parse_id(&id).ok_or_else(|| customer_not_found(&id))?;
    let customer = state
        .store
        .get_customer(auth.account_id, customer_id)
        .await?
        .ok_or_else(|| customer_not_found(&id))?;
    Ok(Json(customer.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// `next_cursor` of the previous page.
    #[param(value_type = i64, required = false)]
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    pub data: Vec<CustomerOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Customers in id order, a page at a time (cursor pagination: stable while customers are
/// added).
#[utoipa::path(
    get,
    path = "/api/v1/customers",
    tag = "customers",
    params(CustomerQuery),
    responses(
        (status = 200, body = CustomerList),
        (status = 400, description = "Invalid cursor or limit", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_customers(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<CustomerQuery>,
) -> ApiResult<Json<CustomerList>> {
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = match query.cursor.as_deref() {
        None => CustomerId::new(0),
        Some(cursor) => {
            cursor.parse::<CustomerId>().map_err(|_| ApiError::bad_request("cursor is not valid"))?
        }
    };
    let customers = state.store.list_customers(auth.account_id, after, limit).await?;
    let next_cursor =
        (customers.len() == limit as usize).then(|| customers.last().map(|c| c.id.to_string())).flatten();
    Ok(Json(CustomerList { data: customers.into_iter().map(Into::into).collect(), next_cursor }))
}

/// The body of a customer import, for the OpenAPI document.
struct CustomerCsv;

impl utoipa::PartialSchema for CustomerCsv {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        schema::customer_csv()
    }
}

impl ToSchema for CustomerCsv {}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRowError {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    /// Valid rows imported (all in one transaction).
    pub imported: usize,
    /// Ids of the imported customers, in file order.
    #[schema(value_type = Vec<i64>)]
    pub ids: Vec<CustomerId>,
    /// Rows left out.
    pub rejected: usize,
    /// Why, for the first 100 rows left out.
    pub errors: Vec<ImportRowError>,
}

/// Imports customers from CSV (`Content-Type: text/csv`). The header names the columns:
/// `phone` (required), `first_name`, `last_name`, `email`, `location`,
/// `preferred_product`; any other column becomes an attribute. Valid rows are imported,
/// invalid ones are reported by line.
#[utoipa::path(
    post,
    path = "/api/v1/customers/import",
    tag = "customers",
    request_body(content = inline(CustomerCsv), content_type = "text/csv"),
    responses(
        (status = 200, body = ImportOut),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not text/csv", body = ErrorBody),
        (status = 422, description = "No header, or no phone column", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn import_customers(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<ImportOut>> {
    let is_csv = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "expected a CSV body with Content-Type: text/csv",
        ));
    }
    let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(&body[..]);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::validation(format!("the CSV header cannot be read: {e}")))?
        .iter()
        // "Loyalty Tier" is the attribute `loyalty_tier`.
        .map(|h| {
            h.trim_start_matches('\u{feff}')
                .trim()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
                .collect()
        })
        .collect();
    if !header.iter().any(|h| h == "phone") {
        return Err(ApiError::validation("the CSV header must name a 'phone' column"));
    }
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    let mut rejected = 0;
    for record in reader.records() {
        let position = match &record {
            Ok(record) => record.position(),
            Err(error) => error.position(),
        };
        let line = position.map_or(0, csv::Position::line);
        let outcome = record.map_err(|e| format!("unreadable row: {e}")).and_then(|record| {
            let mut row = CustomerIn {
                phone: String::new(),
                first_name: None,
                last_name: None,
                email: None,
                location: None,
                preferred_product: None,
                attributes: Some(Map::new()),
            };
            for (name, value) in header.iter().zip(record.iter()) {
                let value = (!value.is_empty()).then(|| value.to_owned());
                match name.as_str() {
                    "phone" => row.phone = value.unwrap_or_default(),
                    "first_name" => row.first_name = value,
                    "last_name" => row.last_name = value,
                    "email" => row.email = value,
                    "location" => row.location = value,
                    "preferred_product" => row.preferred_product = value,
                    other if !CSV_FIELDS.contains(&other) => {
                        if let (Some(value), Some(attributes)) = (value, row.attributes.as_mut()) {
                            attributes.insert(other.to_owned(), Value::String(value));
                        }
                    }
                    _ => {}
                }
            }
            validate_customer(row)
        });
        match outcome {
            Ok(fields) => valid.push(fields),
            Err(message) => {
                rejected += 1;
                if errors.len() < MAX_REPORTED_ERRORS {
                    errors.push(ImportRowError { line, message });
                }
            }
        }
    }
    let ids = if valid.is_empty() {
        Vec::new()
    } else {
        state.store.insert_customers(auth.account_id, &valid, Utc::now()).await?
    };
    Ok(Json(ImportOut { imported: ids.len(), ids, rejected, errors }))
}

/// Replaces a customer's fields (the same body as create).
#[utoipa::path(
    put,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = i64, Path, minimum = 1, description = "Customer id")),
    request_body = CustomerIn,
    responses(
        (status = 200, body = CustomerOut),
        (status = 404, description = "`CUSTOMER_NOT_FOUND`", body = ErrorBody),
        (status = 422, description = "An invalid field (`VALIDATION_ERROR`, naming it)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn update_customer(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CustomerIn>,
) -> ApiResult<Json<CustomerOut>> {
    let customer_id = parse_id(&id).ok_or_else(|| customer_not_found(&id))?;
    let fields = validate_customer(input).map_err(ApiError::validation)?;
    let customer = state
        .store
        .update_customer(auth.account_id, customer_id, &fields, Utc::now())
        .await?
        .ok_or_else(|| customer_not_found(&id))?;
    Ok(Json(customer.into()))
}

/// Deletes a customer; refused (409 `CUSTOMER_IN_USE`) while campaign messages to them are
/// still pending or being sent.
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    params(("id" = i64, Path, minimum = 1, description = "Customer id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`CUSTOMER_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`CUSTOMER_IN_USE`", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn delete_customer(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let customer_id = parse_id(&id).ok_or_else(|| customer_not_found(&id))?;
    match state.store.delete_customer(auth.account_id, customer_id).await? {
        None => Err(customer_not_found(&id)),
        Some(true) => Ok(StatusCode::NO_CONTENT),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "CUSTOMER_IN_USE",
            format!(
                "Customer {customer_id} has campaign messages on their way; delete it once they are sent"
            ),
        )),
    }
}
