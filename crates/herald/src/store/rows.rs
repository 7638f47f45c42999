//! Rows to records, written once for both adapters. The backends store a few kinds of
//! value differently (ids: TEXT on SQLite, UUID on PostgreSQL; times: Unix milliseconds vs
//! TIMESTAMPTZ; JSON: TEXT vs JSONB; small integers: INTEGER vs INT4); [`StoredRow`] is
//! where each backend says how it reads those, and everything else a row holds is read
//! the same way on both.

use chrono::{DateTime, Utc};
use herald_domain::{AccountId, ApiKeyId, CampaignId, CustomerId, EventId, MessageId, Recipient};
use sqlx::{postgres::PgRow, sqlite::SqliteRow, Decode, Postgres, Row, Sqlite, Type};
use uuid::Uuid;

use crate::{
    model::{
        ApiKeyRecord, Campaign, CampaignLink, ClientTags, Customer, CustomerFields, IdempotencyClaim,
        Message, MessageEvent, OutboxEvent, Preferences, RequestRate, RichContent, StoredEvent,
        StoredPreferences, Template, TemplateContent, TemplateUse, User, UserProfile,
    },
    ports::{StoreError, StoreResult},
};

/// A value both backends store and decode alike: text, 64-bit integers, booleans, bytes,
/// serial ids and the domain's enums (bound as TEXT).
pub(crate) trait Shared:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Shared for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A row of either backend.
pub(crate) trait StoredRow {
    fn get<T: Shared>(&self, column: &str) -> StoreResult<T>;
    fn uuid(&self, column: &str) -> StoreResult<Uuid>;
    fn opt_uuid(&self, column: &str) -> StoreResult<Option<Uuid>>;
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn opt_json(&self, column: &str) -> StoreResult<Option<serde_json::Value>>;
    /// An integer column whatever its width.
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;

    fn int(&self, column: &str) -> StoreResult<i64> {
        self.opt_int(column)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }

    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(column)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }

    fn json(&self, column: &str) -> StoreResult<serde_json::Value> {
        self.opt_json(column)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }

    fn account_id(&self, column: &str) -> StoreResult<AccountId> {
        self.uuid(column).map(AccountId::from_uuid)
    }
}

impl StoredRow for SqliteRow {
    fn get<T: Shared>(&self, column: &str) -> StoreResult<T> {
        Ok(self.try_get(column)?)
    }

    fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        let text: String = self.try_get(column)?;
        Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt(format!("{column} = {text:?}")))
    }

    fn opt_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.try_get::<Option<String>, _>(column)?
            .map(|text| {
                Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt(format!("{column} = {text:?}")))
            })
            .transpose()
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get::<Option<i64>, _>(column)?
            .map(|millis| {
                DateTime::from_timestamp_millis(millis)
                    .ok_or_else(|| StoreError::Corrupt(format!("{column} = {millis}")))
            })
            .transpose()
    }

    fn opt_json(&self, column: &str) -> StoreResult<Option<serde_json::Value>> {
        self.try_get::<Option<String>, _>(column)?
            .map(|text| {
                serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(format!("{column} is not JSON")))
            })
            .transpose()
    }

    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }
}

impl StoredRow for PgRow {
    fn get<T: Shared>(&self, column: &str) -> StoreResult<T> {
        Ok(self.try_get(column)?)
    }

    fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        Ok(self.try_get(column)?)
    }

    fn opt_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(self.try_get(column)?)
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.try_get(column)?)
    }

    fn opt_json(&self, column: &str) -> StoreResult<Option<serde_json::Value>> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        match self.try_get::<Option<i64>, _>(column) {
            Ok(value) => Ok(value),
            Err(_) => Ok(self.try_get::<Option<i32>, _>(column)?.map(i64::from)),
        }
    }
}

pub(crate) fn message(row: &impl StoredRow) -> StoreResult<Message> {
    let channel: herald_domain::Channel = row.get("channel")?;
    let campaign = match (
        row.get::<Option<CampaignId>>("campaign_id")?,
        row.get::<Option<CustomerId>>("customer_id")?,
    ) {
        (Some(campaign_id), Some(customer_id)) => Some(CampaignLink { campaign_id, customer_id }),
        _ => None,
    };
    Ok(Message {
        id: MessageId::from_uuid(row.uuid("id")?),
        account_id: row.account_id("account_id")?,
        channel,
        recipient: Recipient::from_stored(channel, row.get("recipient")?),
        sender: row.get("sender")?,
        body: row.get("body")?,
        content: RichContent::from_stored(row.get("subject")?, row.opt_json("content")?)
            .map_err(|e| StoreError::Corrupt(format!("messages.content: {e}")))?,
        user_id: row.get("user_id")?,
        tags: ClientTags {
            reference: row.get("reference")?,
            idempotency_key: row.get("idempotency_key")?,
            metadata: row.opt_json("client_metadata")?,
        },
        campaign,
        template: match (row.opt_uuid("template_id")?, row.opt_int("template_version")?) {
            (Some(id), Some(version)) => Some(TemplateUse {
                id: herald_domain::TemplateId::from_uuid(id),
                version: u32::try_from(version).unwrap_or(u32::MAX),
            }),
            _ => None,
        },
        status: row.get("status")?,
        retry_count: u32::try_from(row.int("retry_count")?).unwrap_or(u32::MAX),
        segments: row.opt_int("segments")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        last_error: row.get("last_error")?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        provider: row.get("provider")?,
        provider_message_id: row.get("provider_message_id")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        sent_at: row.opt_time("sent_at")?,
    })
}

pub(crate) fn message_event(row: &impl StoredRow) -> StoreResult<MessageEvent> {
    Ok(MessageEvent {
        kind: row.get("kind")?,
        status: row.get("status")?,
        detail: row.get("detail")?,
        at: row.time("at")?,
    })
}

pub(crate) fn campaign(row: &impl StoredRow) -> StoreResult<Campaign> {
    Ok(Campaign {
        id: row.get("id")?,
        account_id: row.account_id("account_id")?,
        name: row.get("name")?,
        channel: row.get("channel")?,
        status: row.get("status")?,
        base_template: row.get("base_template")?,
        scheduled_at: row.opt_time("scheduled_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn customer(row: &impl StoredRow) -> StoreResult<Customer> {
    let serde_json::Value::Object(attributes) = row.json("attributes")? else {
        return Err(StoreError::Corrupt("customers.attributes is not an object".into()));
    };
    Ok(Customer {
        id: row.get("id")?,
        account_id: row.account_id("account_id")?,
        fields: CustomerFields {
            phone: row.get("phone")?,
            first_name: row.get("first_name")?,
            last_name: row.get("last_name")?,
            email: row.get("email")?,
            location: row.get("location")?,
            preferred_product: row.get("preferred_product")?,
            attributes,
        },
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn user(row: &impl StoredRow) -> StoreResult<User> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("users.{what} does not parse"));
    let text = |column: &str| -> StoreResult<Option<String>> { row.get(column) };
    let tokens: Vec<String> =
        serde_json::from_value(row.json("push_tokens")?).map_err(|_| corrupt("push_tokens"))?;
    Ok(User {
        user_id: herald_domain::UserId::parse(&row.get::<String>("user_id")?)
            .map_err(|_| corrupt("user_id"))?,
        profile: UserProfile {
            email: text("email")?
                .map(|e| herald_domain::EmailAddress::parse(&e))
                .transpose()
                .map_err(|_| corrupt("email"))?,
            phone: text("phone")?
                .map(|p| herald_domain::PhoneNumber::parse(&p))
                .transpose()
                .map_err(|_| corrupt("phone"))?,
            push_tokens: tokens
                .iter()
                .map(|t| herald_domain::PushToken::parse(t))
                .collect::<Result<_, _>>()
                .map_err(|_| corrupt("push_tokens"))?,
            locale: text("locale")?
                .map(|l| herald_domain::Locale::parse(&l))
                .transpose()
                .map_err(|_| corrupt("locale"))?,
            time_zone: text("time_zone")?
                .map(|z| herald_domain::TimeZone::parse(&z))
                .transpose()
                .map_err(|_| corrupt("time_zone"))?,
        },
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn template(row: &impl StoredRow) -> StoreResult<Template> {
    let variables = serde_json::from_value(row.json("variables")?)
        .map_err(|_| StoreError::Corrupt("templates.variables does not parse".into()))?;
    let version = row.opt_int("version")?.unwrap_or_default();
    Ok(Template {
        id: herald_domain::TemplateId::from_uuid(row.uuid("id")?),
        account_id: row.account_id("account_id")?,
        version: u32::try_from(version).map_err(|_| StoreError::Corrupt("templates.version".into()))?,
        content: TemplateContent {
            name: row.get("name")?,
            channel: row
                .get::<String>("channel")?
                .parse()
                .map_err(|_| StoreError::Corrupt("templates.channel".into()))?,
            subject: row.get("subject")?,
            body: row.get("body")?,
            html: row.get("html")?,
            variables,
            category: row.get("category")?,
            transactional: row.get("transactional")?,
        },
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// The key hash of an API key row, as the 32 bytes of its SHA-256.
pub(crate) fn preferences(row: &impl StoredRow) -> StoreResult<StoredPreferences> {
    let corrupt = |column: &str| StoreError::Corrupt(format!("preferences.{column}"));
    let channels: Vec<String> =
        serde_json::from_value(row.json("channels_off")?).map_err(|_| corrupt("channels_off"))?;
    let channels_off = channels
        .iter()
        .map(|c| c.parse().map_err(|_| corrupt("channels_off")))
        .collect::<StoreResult<_>>()?;
    let opted_out_categories = serde_json::from_value(row.json("opted_out_categories")?)
        .map_err(|_| corrupt("opted_out_categories"))?;
    let clock = |column: &str| -> StoreResult<Option<chrono::NaiveTime>> {
        row.get::<Option<String>>(column)?
            .map(|text| herald_domain::quiet_hours::parse_clock(&text).map_err(|_| corrupt(column)))
            .transpose()
    };
    let quiet_hours = match (clock("quiet_start")?, clock("quiet_end")?) {
        (Some(start), Some(end)) => Some(herald_domain::QuietHours::new(start, end)),
        _ => None,
    };
    Ok(StoredPreferences {
        preferences: Preferences { channels_off, opted_out_categories, quiet_hours },
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn hash(row: &impl StoredRow, column: &str) -> StoreResult<[u8; 32]> {
    let bytes: Vec<u8> = row.get(column)?;
    bytes.try_into().map_err(|_| StoreError::Corrupt(format!("{column} is not 32 bytes")))
}

pub(crate) fn api_key(row: &impl StoredRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_uuid(row.uuid("id")?),
        account_id: row.account_id("account_id")?,
        name: row.get("name")?,
        prefix: row.get("prefix")?,
        hash: hash(row, "key_hash")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        rate_limit: row
            .opt_int("rate_limit_per_second")?
            .map(|n| {
                u32::try_from(n)
                    .ok()
                    .and_then(|n| RequestRate::per_second(n).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("rate_limit_per_second = {n}")))
            })
            .transpose()?,
    })
}

/// An outbox row, with PostgreSQL's `txid` (SQLite, with one writer, selects 0).
pub(crate) fn stored_event(row: &impl StoredRow) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        sequence: row.int("sequence")?,
        transaction: row.int("txid")?,
        account_id: row.account_id("account_id")?,
        event: OutboxEvent {
            event_id: EventId::from_uuid(row.uuid("event_id")?),
            event_type: row.get("event_type")?,
            aggregate_id: row.get("aggregate_id")?,
            user_id: row.get("user_id")?,
            payload: row.json("payload")?,
            metadata: row.json("metadata")?,
            timestamp: row.time("created_at")?,
        },
    })
}

/// A key's state from a row with its fingerprint, state and response columns.
pub(crate) fn idempotency_claim(row: &impl StoredRow) -> StoreResult<IdempotencyClaim> {
    let fingerprint = hash(row, "fingerprint")?;
    let state: String = row.get("state")?;
    match (state.as_str(), row.opt_int("response_status")?, row.get::<Option<String>>("response_body")?) {
        ("in_flight", _, _) => Ok(IdempotencyClaim::InFlight { fingerprint }),
        ("done", Some(status), Some(body)) => Ok(IdempotencyClaim::Completed {
            fingerprint,
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("response_status {status}")))?,
            body,
        }),
        (state, ..) => Err(StoreError::Corrupt(format!("idempotency_keys.state = {state:?}"))),
    }
}
