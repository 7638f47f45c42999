//! `/api/v1/preferences/user/{user_id}`: what a user wants to receive, and when.

use axum::{
    extract::{Path, State},
    Json,
};
use chrono::{DateTime, Utc};
use herald_domain::Channel;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiResult, ErrorBody},
    extract::ApiJson,
    AppState,
};
use crate::{model::Preferences, services::users::PreferencesInput};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_preferences, put_preferences))
}

/// Each channel on (`true`) or off (`false`); a channel left out is on.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSwitches {
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    whatsapp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    push: Option<bool>,
}

impl ChannelSwitches {
    fn given(&self) -> Vec<(Channel, bool)> {
        [
            (Channel::Sms, self.sms),
            (Channel::Whatsapp, self.whatsapp),
            (Channel::Email, self.email),
            (Channel::Push, self.push),
        ]
        .into_iter()
        .filter_map(|(channel, on)| Some((channel, on?)))
        .collect()
    }
}

/// A daily window of the user's local time (their `time_zone`, else UTC). `start` after
/// `end` crosses midnight; equal times hold nothing back.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursIn {
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")]
    start: String,
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:00")]
    end: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesIn {
    #[serde(default)]
    channels: ChannelSwitches,
    /// Template categories the user gets nothing of (transactional templates excepted).
    #[serde(default)]
    #[schema(max_items = 50, example = json!(["marketing"]))]
    opted_out_categories: Vec<CategoryName>,
    /// Only transactional notifications go out in these hours; others wait until they end.
    quiet_hours: Option<QuietHoursIn>,
}

/// A category name: 1 to 64 of a-z, 0-9, `_`, `-`, `.`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(pattern = r"^[a-z0-9_.-]{1,64}$")]
pub struct CategoryName(String);

#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesOut {
    #[schema(example = "12345")]
    user_id: String,
    /// Every channel, on or off.
    channels: ChannelSwitches,
    opted_out_categories: Vec<String>,
    quiet_hours: Option<QuietHoursIn>,
    /// When they were last set; null when never (the defaults: everything on, no quiet hours).
    updated_at: Option<DateTime<Utc>>,
}

fn preferences_out(
    user_id: String,
    preferences: Preferences,
    updated_at: Option<DateTime<Utc>>,
) -> PreferencesOut {
    let on = |channel: Channel| Some(!preferences.channels_off.contains(&channel));
    PreferencesOut {
        user_id,
        channels: ChannelSwitches {
            sms: on(Channel::Sms),
            whatsapp: on(Channel::Whatsapp),
            email: on(Channel::Email),
            push: on(Channel::Push),
        },
        opted_out_categories: preferences.opted_out_categories.into_iter().collect(),
        quiet_hours: preferences.quiet_hours.map(|q| QuietHoursIn {
            start: q.start().format("%H:%M").to_string(),
            end: q.end().format("%H:%M").to_string(),
        }),
        updated_at,
    }
}

const USER_ID_DESCRIPTION: &str =
    "The caller's id for the user: 1 to 128 visible ASCII characters but `/`, `?`, `#` and `%`";

/// A user's preferences; the defaults (everything on, no quiet hours, `updated_at` null)
/// for a user who has set none.
#[utoipa::path(
    get,
    path = "/api/v1/preferences/user/{user_id}",
    tag = "preferences",
    params(("user_id" = String, Path, description = USER_ID_DESCRIPTION, pattern = r#"^[!"$&-.0->@-~]{1,128}$"#)),
    responses(
        (status = 200, body = PreferencesOut),
        (status = 404, description = "Not a user id (`USER_NOT_FOUND`)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn get_preferences(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> ApiResult<Json<PreferencesOut>> {
    let (preferences, updated_at) = state.users.preferences(auth.account_id, &user_id).await?;
    Ok(Json(preferences_out(user_id, preferences, updated_at)))
}

/// Replaces a user's preferences (a field left out takes its default). At send time: a
/// channel switched off suppresses every notification on it; an opted-out category
/// suppresses that category's notifications unless the template is transactional; quiet
/// hours hold back all but transactional notifications until they end. A suppressed
/// notification is stored as `suppressed` with the reason and a `notification.suppressed`
/// event. The user need not be in the directory yet.
#[utoipa::path(
    put,
    path = "/api/v1/preferences/user/{user_id}",
    tag = "preferences",
    params(("user_id" = String, Path, description = USER_ID_DESCRIPTION, pattern = r#"^[!"$&-.0->@-~]{1,128}$"#)),
    request_body(content = PreferencesIn, example = json!({"channels": {"sms": false, "email": true}, "opted_out_categories": ["marketing"], "quiet_hours": {"start": "22:00", "end": "07:00"}})),
    responses(
        (status = 200, description = "Stored", body = PreferencesOut),
        (status = 422, description = "An invalid field or user id (`VALIDATION_ERROR`, naming it)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn put_preferences(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    ApiJson(input): ApiJson<PreferencesIn>,
) -> ApiResult<Json<PreferencesOut>> {
    let input = PreferencesInput {
        channels: input.channels.given(),
        opted_out_categories: input.opted_out_categories.into_iter().map(|c| c.0).collect(),
        quiet_hours: input.quiet_hours.map(|q| (q.start, q.end)),
    };
    let stored = state.users.put_preferences(auth.account_id, &user_id, input).await?;
    Ok(Json(preferences_out(user_id, stored.preferences, Some(stored.updated_at))))
}
