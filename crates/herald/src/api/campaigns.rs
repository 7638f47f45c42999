//! Campaigns, at the campaign brief's paths (`/campaigns...`) and under `/api/v1`, with
//! the brief's request and response shapes.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::{CampaignId, CampaignStatus, Channel, SmsLength};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    customers::CustomerBrief,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::{
        from_json_value, replayable_response, replayed_response, ApiJson, ApiQuery, IdempotencyHeader,
    },
    schema, AppState,
};
use crate::{
    model::{Campaign, CampaignFilter, CampaignStats},
    services::{
        campaigns::{parse_channel, Audience, CampaignDraft, CampaignError, Queued, SendOutcome},
        customers::parse_id,
        idempotency::{fingerprint, IdempotentRequest},
    },
};

/// The campaign brief's routes, at its paths; the router serves them under this prefix too.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_campaign, list_campaigns))
        .routes(routes!(get_campaign))
        .routes(routes!(send_campaign))
        .routes(routes!(preview))
}

/// Where the campaign routes are served again (`/api/v1/campaigns...`).
pub const ALIAS_PREFIX: &str = "/api/v1";

const DEFAULT_PAGE_SIZE: u32 = 20;
const MAX_PAGE_SIZE: u32 = 100;
/// Unknown customer ids quoted in an error, at most.
const QUOTED_IDS: usize = 20;

impl From<CampaignError> for ApiError {
    fn from(error: CampaignError) -> Self {
        let message = error.to_string();
        match error {
            CampaignError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::CampaignNotFound, message)
            }
            CampaignError::CustomerNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::CustomerNotFound, message)
            }
            CampaignError::Invalid(_) => Self::validation(message),
            CampaignError::InvalidTemplate { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidTemplate, message)
            }
            CampaignError::NotSendable { .. } => {
                Self::new(StatusCode::CONFLICT, ErrorCode::CampaignNotSendable, message)
            }
            CampaignError::UnknownCustomers(unknown) => {
                let quoted: Vec<String> = unknown.iter().take(QUOTED_IDS).map(ToString::to_string).collect();
                let more = unknown.len().saturating_sub(QUOTED_IDS);
                let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::UnknownCustomers,
                    format!("these customer_ids do not exist: {}{tail}; nothing was sent", quoted.join(", ")),
                )
            }
            CampaignError::Idempotency(error) => error.into(),
            CampaignError::Store(error) => error.into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaignIn {
    #[schema(schema_with = schema::campaign_name)]
    name: String,
    #[schema(schema_with = schema::campaign_channel_schema)]
    channel: String,
    #[schema(schema_with = schema::template)]
    base_template: String,
    #[schema(schema_with = schema::scheduled_at)]
    scheduled_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignOut {
    #[schema(value_type = i64)]
    pub id: CampaignId,
    pub name: String,
    #[schema(value_type = String, example = "sms")]
    pub channel: Channel,
    #[schema(value_type = String, example = "draft")]
    pub status: CampaignStatus,
    pub base_template: String,
    /// As given at creation: when a `scheduled` campaign sends; on a `draft` it may have
    /// passed already (it schedules nothing then).
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Campaign> for CampaignOut {
    fn from(c: Campaign) -> Self {
        Self {
            id: c.id,
            name: c.name,
            channel: c.channel,
            status: c.status,
            base_template: c.base_template,
            scheduled_at: c.scheduled_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Create a campaign: `scheduled` if `scheduled_at` is in the future, else a `draft` to send now.
#[utoipa::path(
    post,
    path = "/campaigns",
    tag = "campaigns",
    request_body = CreateCampaignIn,
    responses(
        (status = 201, body = CampaignOut, links(
            ("GetCampaign" = (operation_id = "get_campaign", parameters(("id" = "$response.body#/id")))),
            ("SendCampaign" = (operation_id = "send_campaign", parameters(("id" = "$response.body#/id")))),
            ("PreviewCampaign" = (operation_id = "preview", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 422, description = "Invalid name, channel, template or scheduled_at", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create_campaign(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(request): ApiJson<CreateCampaignIn>,
) -> ApiResult<(StatusCode, Json<CampaignOut>)> {
    let draft = CampaignDraft {
        name: request.name,
        channel: request.channel,
        base_template: request.base_template,
        scheduled_at: request.scheduled_at,
    };
    let campaign = state.campaigns.create(auth.account_id, draft).await?;
    Ok((StatusCode::CREATED, Json(campaign.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page number, from 1 (default 1).
    #[param(value_type = u64, required = false, minimum = 1, maximum = 92233720368547758_u64)]
    page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = u32, required = false, minimum = 1, maximum = 100)]
    page_size: Option<String>,
    /// `sms` or `whatsapp`.
    #[param(schema_with = schema::campaign_channel_schema, required = false)]
    channel: Option<String>,
    /// `draft`, `scheduled`, `sending`, `sent` or `failed`.
    #[param(schema_with = schema::campaign_status, required = false)]
    status: Option<String>,
    /// The listing's snapshot (from `pagination.snapshot` or `pagination.next`): pages of
    /// one snapshot never shift when campaigns are created meanwhile.
    #[param(value_type = i64, required = false)]
    snapshot: Option<String>,
    /// Start just below this campaign id instead of counting `page` (set by
    /// `pagination.next`: the last id of the page before).
    #[param(value_type = i64, required = false)]
    before: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignSummary {
    #[schema(value_type = i64)]
    pub id: CampaignId,
    pub name: String,
    #[schema(value_type = String, example = "sms")]
    pub channel: Channel,
    #[schema(value_type = String, example = "sent")]
    pub status: CampaignStatus,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub page: u64,
    pub page_size: u32,
    pub total_count: u64,
    pub total_pages: u64,
    /// The highest campaign id this listing sees; pass it back as `snapshot`.
    #[schema(value_type = i64)]
    pub snapshot: CampaignId,
    /// The next page of the same snapshot, continuing below the last id of this page
    /// (`before`), or null on the last page.
    pub next: Option<String>,
    /// The previous page of the same snapshot, or null on the first page.
    pub prev: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignList {
    pub data: Vec<CampaignSummary>,
    pub pagination: Pagination,
}

fn positive(name: &str, text: Option<&str>, default: u64, max: u64) -> ApiResult<u64> {
    let Some(text) = text else { return Ok(default) };
    match text.parse::<u64>() {
        Ok(value) if (1..=max).contains(&value) => Ok(value),
        _ => Err(ApiError::bad_request(format!("{name} must be an integer from 1 to {max} (got {text:?})"))),
    }
}

/// List campaigns, newest first (by id), with stable pages.
#[utoipa::path(
    get,
    path = "/campaigns",
    tag = "campaigns",
    params(ListQuery),
    responses(
        (status = 200, body = CampaignList),
        (status = 400, description = "Invalid page, page_size, filter, snapshot or before", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list_campaigns(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<CampaignList>> {
    let page = positive("page", query.page.as_deref(), 1, i64::MAX as u64 / 100)?;
    let page_size =
        positive("page_size", query.page_size.as_deref(), DEFAULT_PAGE_SIZE.into(), MAX_PAGE_SIZE.into())?
            as u32;
    let channel = query.channel.as_deref().map(parse_channel).transpose().map_err(ApiError::bad_request)?;
    let status = query
        .status
        .as_deref()
        .map(|s| s.parse::<CampaignStatus>().map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()?;
    let id_param = |name: &str, text: Option<&str>| {
        text.map(|s| {
            s.parse::<CampaignId>()
                .map_err(|_| ApiError::bad_request(format!("{name} must be an integer (got {s:?})")))
        })
        .transpose()
    };
    let snapshot = id_param("snapshot", query.snapshot.as_deref())?;
    let before = id_param("before", query.before.as_deref())?;
    let filter = CampaignFilter { channel, status };
    let listing = state.campaigns.list(auth.account_id, filter, snapshot, before, page, page_size).await?;
    let total_pages = listing.total.div_ceil(u64::from(page_size));
    let last_id = listing.campaigns.last().map(|c| c.id);
    let link = |page: u64, before: Option<CampaignId>| {
        let mut link = format!("/campaigns?page={page}&page_size={page_size}&snapshot={}", listing.snapshot);
        if let Some(before) = before {
            link.push_str(&format!("&before={before}"));
        }
        if let Some(channel) = channel {
            link.push_str(&format!("&channel={channel}"));
        }
        if let Some(status) = status {
            link.push_str(&format!("&status={status}"));
        }
        link
    };
    let data = listing
        .campaigns
        .into_iter()
        .map(|c| CampaignSummary {
            id: c.id,
            name: c.name,
            channel: c.channel,
            status: c.status,
            scheduled_at: c.scheduled_at,
            created_at: c.created_at,
        })
        .collect();
    Ok(Json(CampaignList {
        data,
        pagination: Pagination {
            page,
            page_size,
            total_count: listing.total,
            total_pages,
            snapshot: listing.snapshot,
            next: last_id.filter(|_| listing.more).map(|last| link(page + 1, Some(last))),
            prev: (page > 1).then(|| link((page - 1).min(total_pages.max(1)), None)),
        },
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    pub total: u64,
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
}

impl From<CampaignStats> for StatsOut {
    fn from(s: CampaignStats) -> Self {
        Self { total: s.total, pending: s.pending, sending: s.sending, sent: s.sent, failed: s.failed }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDetail {
    #[serde(flatten)]
    pub campaign: CampaignOut,
    pub stats: StatsOut,
}

/// A campaign with the counts of its messages by status.
#[utoipa::path(
    get,
    path = "/campaigns/{id}",
    tag = "campaigns",
    params(("id" = i64, Path, minimum = 1, description = "Campaign id")),
    responses((status = 200, body = CampaignDetail), (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = ErrorBody)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn get_campaign(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignDetail>> {
    let (campaign, stats) = state.campaigns.get_with_stats(auth.account_id, &id).await?;
    Ok(Json(CampaignDetail { campaign: campaign.into(), stats: stats.into() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    #[schema(schema_with = schema::customer_id)]
    customer_id: Value,
    /// Rendered instead of the campaign's `base_template`.
    #[schema(schema_with = schema::optional_template)]
    override_template: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    pub rendered_message: String,
    pub used_template: String,
    pub customer: CustomerBrief,
    /// Length of the rendered message as an SMS (herald's addition).
    #[schema(value_type = Object)]
    pub length: SmsLength,
}

/// Renders the campaign's template (or `override_template`) for one customer.
#[utoipa::path(
    post,
    path = "/campaigns/{id}/personalized-preview",
    tag = "campaigns",
    params(("id" = i64, Path, minimum = 1, description = "Campaign id")),
    request_body = PreviewIn,
    responses(
        (status = 200, body = PreviewOut),
        (status = 404, description = "CAMPAIGN_NOT_FOUND or CUSTOMER_NOT_FOUND", body = ErrorBody),
        (status = 422, description = "Invalid template or customer_id", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn preview(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<PreviewIn>,
) -> ApiResult<Json<PreviewOut>> {
    let preview = state
        .campaigns
        .preview(auth.account_id, &id, &request.customer_id, request.override_template.as_deref())
        .await?;
    Ok(Json(PreviewOut {
        rendered_message: preview.rendered_message,
        used_template: preview.used_template,
        customer: CustomerBrief { id: preview.customer.id, first_name: preview.customer.fields.first_name },
        length: preview.length,
    }))
}

/// Whom to send to: `customer_ids`, or `"all_customers": true` for every customer of the
/// account at the time of the send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendIn {
    #[schema(schema_with = schema::customer_ids)]
    customer_ids: Option<Vec<Value>>,
    /// Send to every customer of the account instead of a list.
    #[serde(default)]
    all_customers: bool,
}

impl SendIn {
    fn audience(&self) -> Result<Audience<'_>, ApiError> {
        match (&self.customer_ids, self.all_customers) {
            (Some(ids), false) => Ok(Audience::Customers(ids)),
            (None, true) => Ok(Audience::Everyone),
            (Some(_), true) => {
                Err(ApiError::invalid_field("customer_ids", "must be left out with \"all_customers\": true"))
            }
            (None, false) => Err(ApiError::invalid_field(
                "customer_ids",
                "is required: 1 to 100000 customer ids, or \"all_customers\": true",
            )),
        }
    }
}

/// The rule no derived schema states: `customer_ids` or `all_customers: true`, not both.
pub(super) fn send_in_rule() -> utoipa::openapi::Schema {
    use utoipa::openapi::{schema::Type, ObjectBuilder, OneOfBuilder};
    let listed = ObjectBuilder::new()
        .required("customer_ids")
        .property("customer_ids", ObjectBuilder::new().schema_type(Type::Array))
        .property(
            "all_customers",
            ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([false])),
        );
    let everyone = ObjectBuilder::new()
        .required("all_customers")
        .property("all_customers", ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([true])))
        .property("customer_ids", ObjectBuilder::new().schema_type(Type::Null));
    OneOfBuilder::new().item(listed).item(everyone).into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendOut {
    #[schema(value_type = i64)]
    pub campaign_id: CampaignId,
    pub messages_queued: u64,
    #[schema(value_type = String, example = "sending")]
    pub status: CampaignStatus,
}

/// Starts a campaign: one message per customer named (or per customer of the account, with
/// `"all_customers": true`), created in one transaction; the worker
/// renders and sends them. A campaign with a future `scheduled_at` stays `scheduled` and
/// its messages wait until then. With an `Idempotency-Key`, a repeat of the same request
/// gets the first 202 again (header `Idempotent-Replayed: true`), never a second start.
#[utoipa::path(
    post,
    path = "/campaigns/{id}/send",
    tag = "campaigns",
    params(
        ("id" = i64, Path, minimum = 1, description = "Campaign id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and request return the first response; kept idempotency.retention_hours (24 by default)"),
    ),
    request_body = SendIn,
    responses(
        (status = 202, body = SendOut, links(
            ("GetCampaign" = (operation_id = "get_campaign", parameters(("id" = "$response.body#/campaign_id")))),
        )),
        (status = 400, description = "Malformed JSON or INVALID_IDEMPOTENCY_KEY", body = ErrorBody),
        (status = 404, description = "CAMPAIGN_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CAMPAIGN_NOT_SENDABLE: not draft/scheduled, or already sent; or IDEMPOTENCY_KEY_IN_USE", body = ErrorBody),
        (status = 422, description = "Bad customer_ids, UNKNOWN_CUSTOMERS, or IDEMPOTENCY_KEY_REUSED with another request", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn send_campaign(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(raw): ApiJson<Value>,
) -> ApiResult<Response> {
    let request: SendIn = from_json_value(&raw)?;
    // The canonical path: `/campaigns/1/send` and `/api/v1/campaigns/1/send` are one
    // request. An id that is no campaign id is a 404 before the key matters.
    let idempotent = key.zip(parse_id::<CampaignId>(&id)).map(|(key, campaign_id)| IdempotentRequest {
        key,
        fingerprint: fingerprint("POST", &format!("/campaigns/{campaign_id}/send"), &raw),
    });
    let respond = |queued: &Queued| {
        let out = SendOut {
            campaign_id: queued.campaign_id,
            messages_queued: queued.messages_queued,
            status: queued.status,
        };
        (StatusCode::ACCEPTED.as_u16(), serde_json::to_string(&out).unwrap_or_default())
    };
    let outcome = state
        .campaigns
        .send(auth.account_id, &id, request.audience()?, idempotent.as_ref(), &respond)
        .await?;
    Ok(match outcome {
        SendOutcome::Started(queued) => {
            let (status, body) = respond(&queued);
            replayable_response(status, body)
        }
        SendOutcome::Replayed { status, body } => replayed_response(status, body),
    })
}
