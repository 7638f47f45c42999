//! `/api/v1/users/{user_id}`: herald's contact directory, keyed by the caller's user id.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    auth::Authenticated,
    error::{ApiError, ApiResult, ErrorBody, ErrorCode},
    extract::ApiJson,
    schema, AppState,
};
use crate::{
    model::User,
    services::users::{Put, UserError, UserInput},
};

const USER_ID_DESCRIPTION: &str =
    "The caller's id for the user: 1 to 128 visible ASCII characters but `/`, `?`, `#` and `%`";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_user, get_user, delete_user))
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        let message = error.to_string();
        match error {
            UserError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, ErrorCode::UserNotFound, message),
            UserError::Invalid { field, problem } => Self::invalid_field(field, problem),
            UserError::Outdated(..) => Self::new(StatusCode::CONFLICT, ErrorCode::UserChangedLater, message),
            UserError::Store(error) => error.into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    #[schema(schema_with = schema::optional_user_email)]
    email: Option<String>,
    #[schema(schema_with = schema::optional_phone)]
    phone: Option<String>,
    #[schema(schema_with = schema::push_tokens)]
    push_tokens: Option<Vec<String>>,
    #[schema(schema_with = schema::optional_locale)]
    locale: Option<String>,
    #[schema(schema_with = schema::optional_time_zone)]
    time_zone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[schema(example = "12345")]
    pub user_id: String,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub push_tokens: Vec<String>,
    #[schema(example = "sw-KE")]
    pub locale: Option<String>,
    #[schema(example = "Africa/Nairobi")]
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(user: User) -> Self {
        let p = user.profile;
        Self {
            user_id: user.user_id.to_string(),
            email: p.email.map(|e| e.as_str().to_owned()),
            phone: p.phone.map(|n| n.as_str().to_owned()),
            push_tokens: p.push_tokens.iter().map(|t| t.as_str().to_owned()).collect(),
            locale: p.locale.map(|l| l.as_str().to_owned()),
            time_zone: p.time_zone.map(|z| z.as_str().to_owned()),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

impl From<UserIn> for UserInput {
    fn from(input: UserIn) -> Self {
        Self {
            email: input.email,
            phone: input.phone,
            push_tokens: input.push_tokens,
            locale: input.locale,
            time_zone: input.time_zone,
        }
    }
}

/// Creates or replaces a user: every field is set from the body (an absent field is
/// cleared). 201 when the user is new (or was deleted), 200 when replaced. Last writer wins
/// with the identity events herald follows (docs/amqp.md): a change stamped later than now
/// is kept (409).
#[utoipa::path(
    put,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = String, Path, description = USER_ID_DESCRIPTION, pattern = r#"^[!"$&-.0->@-~]{1,128}$"#)),
    request_body(content = UserIn, example = json!({"email": "amina@example.com", "phone": "+254712345678", "push_tokens": ["fcm-device-token-1"], "locale": "sw-KE", "time_zone": "Africa/Nairobi"})),
    responses(
        (status = 200, description = "Replaced", body = UserOut),
        (status = 201, description = "Created", body = UserOut, links(
            ("GetUser" = (operation_id = "get_user", parameters(("user_id" = "$response.body#/user_id")))),
            ("DeleteUser" = (operation_id = "delete_user", parameters(("user_id" = "$response.body#/user_id")))),
        )),
        (status = 409, description = "A later change of this user is stored (`USER_CHANGED_LATER`)", body = ErrorBody),
        (status = 422, description = "An invalid field or user id (`VALIDATION_ERROR`, naming it)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn put_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    ApiJson(input): ApiJson<UserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let (user, put) = state.users.put(auth.account_id, &user_id, input.into()).await?;
    let status = if put == Put::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(user.into())))
}

/// One user.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = String, Path, description = USER_ID_DESCRIPTION, pattern = r#"^[!"$&-.0->@-~]{1,128}$"#)),
    responses((status = 200, body = UserOut), (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody)),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn get_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> ApiResult<Json<UserOut>> {
    Ok(Json(state.users.get(auth.account_id, &user_id).await?.into()))
}

/// Deletes a user: their addresses are forgotten. Messages already sent to them keep
/// their history.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = String, Path, description = USER_ID_DESCRIPTION, pattern = r#"^[!"$&-.0->@-~]{1,128}$"#)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`USER_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "A later change of this user is stored (`USER_CHANGED_LATER`)", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> ApiResult<StatusCode> {
    state.users.delete(auth.account_id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
