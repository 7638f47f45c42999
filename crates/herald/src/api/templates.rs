//! `/api/v1/templates`: notification templates (the extraction brief's
//! `NotificationTemplate`), versioned, soft-deleted.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::{Channel, TemplateId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::{page_limit, ApiJson, ApiQuery},
    schema, AppState,
};
use crate::{
    model::{Template, TemplateVariable},
    services::templates::{TemplateError, TemplateInput},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_templates, create_template)).routes(routes!(
        get_template,
        update_template,
        delete_template
    ))
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

impl From<TemplateError> for ApiError {
    fn from(error: TemplateError) -> Self {
        let message = error.to_string();
        match error {
            TemplateError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::TemplateNotFound, message)
            }
            TemplateError::NameTaken(_) => {
                Self::new(StatusCode::CONFLICT, ErrorCode::TemplateNameTaken, message)
            }
            TemplateError::Invalid { field, problem } => Self::invalid_field(field, problem),
            TemplateError::Store(error) => error.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableIn {
    name: String,
    #[serde(default = "required_by_default")]
    required: bool,
}

fn required_by_default() -> bool {
    true
}

/// The body of a create or an update (see the schema: one shape per `type`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateIn {
    name: String,
    #[serde(rename = "type")]
    channel: String,
    subject: Option<String>,
    body: String,
    html: Option<String>,
    #[serde(default)]
    variables: Vec<VariableIn>,
    category: Option<String>,
    #[serde(default)]
    transactional: bool,
}

impl utoipa::PartialSchema for TemplateIn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        schema::template_in()
    }
}

impl ToSchema for TemplateIn {}

impl From<TemplateIn> for TemplateInput {
    fn from(input: TemplateIn) -> Self {
        Self {
            name: input.name,
            channel: input.channel,
            subject: input.subject,
            body: input.body,
            html: input.html,
            variables: input
                .variables
                .into_iter()
                .map(|v| TemplateVariable { name: v.name, required: v.required })
                .collect(),
            category: input.category,
            transactional: input.transactional,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariableOut {
    #[schema(example = "order_id")]
    pub name: String,
    pub required: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: TemplateId,
    #[schema(example = "order_shipped")]
    pub name: String,
    /// `email`, `sms`, `push` or `whatsapp`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "email")]
    pub channel: Channel,
    /// Grows by one with every change.
    pub version: u32,
    pub subject: Option<String>,
    pub body: String,
    pub html: Option<String>,
    pub variables: Vec<VariableOut>,
    pub category: Option<String>,
    pub transactional: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for TemplateOut {
    fn from(t: Template) -> Self {
        let c = t.content;
        Self {
            id: t.id,
            name: c.name,
            channel: c.channel,
            version: t.version,
            subject: c.subject,
            body: c.body,
            html: c.html,
            variables: c
                .variables
                .into_iter()
                .map(|v| VariableOut { name: v.name, required: v.required })
                .collect(),
            category: c.category,
            transactional: c.transactional,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Creates a template (version 1). Its name is unique among the account's templates.
#[utoipa::path(
    post,
    path = "/api/v1/templates",
    tag = "templates",
    request_body(content = TemplateIn, example = json!({"name": "order_shipped", "type": "email", "subject": "Order {order_id} shipped",
        "body": "Hi {first_name|there}, order {order_id} is on its way.", "html": "<p>Order <b>{order_id}</b> is on its way.</p>",
        "variables": [{"name": "order_id", "required": true}, {"name": "first_name", "required": false}], "category": "shipping"})),
    responses(
        (status = 201, body = TemplateOut, links(
            ("GetTemplate" = (operation_id = "get_template", parameters(("id" = "$response.body#/id")))),
            ("UpdateTemplate" = (operation_id = "update_template", parameters(("id" = "$response.body#/id")))),
            ("DeleteTemplate" = (operation_id = "delete_template", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 409, description = "Another template has this name (`TEMPLATE_NAME_TAKEN`)", body = ErrorBody),
        (status = 422, description = "An invalid field (`VALIDATION_ERROR`, naming it), e.g. a placeholder that is not a declared variable", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create_template(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(input): ApiJson<TemplateIn>,
) -> ApiResult<(StatusCode, Json<TemplateOut>)> {
    let template = state.templates.create(auth.account_id, input.into()).await?;
    Ok((StatusCode::CREATED, Json(template.into())))
}

/// A template at its current version.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{id}",
    tag = "templates",
    params(("id" = uuid::Uuid, Path, description = "Template id (a 404 for anything that is not one)")),
    responses((status = 200, body = TemplateOut), (status = 404, description = "`TEMPLATE_NOT_FOUND` (also once deleted)", body = ErrorBody)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn get_template(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateOut>> {
    Ok(Json(state.templates.get(auth.account_id, &id).await?.into()))
}

/// Changes a template: every field as given, as its next version. Messages sent keep the
/// version they were sent with.
#[utoipa::path(
    put,
    path = "/api/v1/templates/{id}",
    tag = "templates",
    params(("id" = uuid::Uuid, Path, description = "Template id")),
    request_body = TemplateIn,
    responses(
        (status = 200, body = TemplateOut),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "Another template has this name (`TEMPLATE_NAME_TAKEN`)", body = ErrorBody),
        (status = 422, description = "An invalid field (`VALIDATION_ERROR`, naming it)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn update_template(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TemplateIn>,
) -> ApiResult<Json<TemplateOut>> {
    Ok(Json(state.templates.update(auth.account_id, &id, input.into()).await?.into()))
}

/// Deletes a template (softly: its name is free again, and messages sent with it keep
/// their version). Sending by a deleted template is refused.
#[utoipa::path(
    delete,
    path = "/api/v1/templates/{id}",
    tag = "templates",
    params(("id" = uuid::Uuid, Path, description = "Template id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = ErrorBody)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn delete_template(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.templates.delete(auth.account_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// Only templates of this type.
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = schema::channel, required = false)]
    channel: Option<String>,
    /// `next_cursor` of the previous page (a template id).
    #[param(value_type = uuid::Uuid, required = false)]
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub data: Vec<TemplateOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The account's templates, oldest first, a page at a time (cursor pagination).
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    tag = "templates",
    params(TemplateQuery),
    responses(
        (status = 200, body = TemplateList),
        (status = 400, description = "Invalid type, cursor or limit", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_templates(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<TemplateQuery>,
) -> ApiResult<Json<TemplateList>> {
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let channel = match query.channel.as_deref() {
        None => None,
        Some(text) => {
            Some(text.parse::<Channel>().map_err(|_| ApiError::bad_request("type is not a channel"))?)
        }
    };
    let after = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => {
            Some(cursor.parse::<TemplateId>().map_err(|_| ApiError::bad_request("cursor is not valid"))?)
        }
    };
    // One more than the page: a next page is offered only while there is one.
    let mut templates = state.templates.list(auth.account_id, channel, after, limit + 1).await?;
    let more = templates.len() > limit as usize;
    templates.truncate(limit as usize);
    let next_cursor = more.then(|| templates.last().map(|t| t.id.to_string())).flatten();
    Ok(Json(TemplateList { data: templates.into_iter().map(Into::into).collect(), next_cursor }))
}
