//! `/api/v1/customers`: the people campaigns are sent to.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::{page_limit, ApiJson, ApiQuery},
    schema, AppState,
};
use crate::{
    model::Customer,
    services::customers::{CustomerError, CustomerInput, ImportReport},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(import_customers))
        .routes(routes!(get_customer, update_customer, delete_customer))
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

impl From<CustomerError> for ApiError {
    fn from(error: CustomerError) -> Self {
        let message = error.to_string();
        match error {
            CustomerError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::CustomerNotFound, message)
            }
            CustomerError::Invalid(_) => Self::validation(message),
            CustomerError::InUse(_) => Self::new(StatusCode::CONFLICT, ErrorCode::CustomerInUse, message),
            CustomerError::Store(error) => error.into(),
        }
    }
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

impl From<CustomerIn> for CustomerInput {
    fn from(input: CustomerIn) -> Self {
        Self {
            phone: input.phone,
            first_name: input.first_name,
            last_name: input.last_name,
            email: input.email,
            location: input.location,
            preferred_product: input.preferred_product,
            attributes: input.attributes,
        }
    }
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
    let customer = state.customers.create(auth.account_id, input.into()).await?;
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
    Ok(Json(state.customers.get(auth.account_id, &id).await?.into()))
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
    let customers = state.customers.list(auth.account_id, after, limit).await?;
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
            ErrorCode::UnsupportedMediaType,
            "expected a CSV body with Content-Type: text/csv",
        ));
    }
    let report = state.customers.import(auth.account_id, &body).await?;
    Ok(Json(report.into()))
}

impl From<ImportReport> for ImportOut {
    fn from(report: ImportReport) -> Self {
        Self {
            imported: report.ids.len(),
            ids: report.ids,
            rejected: report.rejected,
            errors: report
                .errors
                .into_iter()
                .map(|e| ImportRowError { line: e.line, message: e.message })
                .collect(),
        }
    }
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
    Ok(Json(state.customers.update(auth.account_id, &id, input.into()).await?.into()))
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
    state.customers.delete(auth.account_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
