//! The monolith's PostgreSQL database, read only: its two notification tables, paged by id
//! (keyset pagination: a page is a fresh `id > last` query, so nothing is held open and
//! memory stays one page whatever the table's size).
//!
//! The tables' `TIMESTAMP` columns hold UTC (Django's convention); the session runs in
//! UTC so that `TIMESTAMPTZ` columns read the same. Every transaction of the session is
//! read only: the import cannot write to the monolith.

use std::{collections::HashMap, str::FromStr, time::Duration};

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use herald_domain::Channel;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
    PgPool, Row,
};

use super::legacy::{self, LegacyLog, LegacyTemplate};

#[derive(Debug, Clone)]
pub struct Source {
    pool: PgPool,
}

fn utc(at: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    at.map(|at| at.and_utc())
}

const TEMPLATE_COLUMNS: &str = "id::bigint AS id, name, subject, body, type, variables, \
                                created_at::timestamp AS created_at, updated_at::timestamp AS updated_at";
const LOG_COLUMNS: &str =
    "id::bigint AS id, user_id::bigint AS user_id, template_id::bigint AS template_id, \
                           type, status, sent_at::timestamp AS sent_at, metadata";

fn template(row: &PgRow) -> Result<LegacyTemplate, sqlx::Error> {
    Ok(LegacyTemplate {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        kind: row.try_get("type")?,
        variables: row.try_get("variables")?,
        created_at: utc(row.try_get("created_at")?),
        updated_at: utc(row.try_get("updated_at")?),
    })
}

fn log(row: &PgRow) -> Result<LegacyLog, sqlx::Error> {
    Ok(LegacyLog {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        template_id: row.try_get("template_id")?,
        kind: row.try_get("type")?,
        status: row.try_get("status")?,
        sent_at: utc(row.try_get("sent_at")?),
        metadata: row.try_get("metadata")?,
    })
}

/// `AND ...` restricting logs to those sent at or after `$2`: the catch-up of a dual-write
/// period. A log without `sent_at` has no time to compare and is always looked at (the
/// mapping makes it cheap when it is already there).
const LOGS_SINCE: &str = " AND (sent_at >= $2 OR sent_at IS NULL)";
/// Templates created or changed since `$2` (both times unknown: always).
const TEMPLATES_SINCE: &str =
    " AND (updated_at >= $2 OR created_at >= $2 OR (updated_at IS NULL AND created_at IS NULL))";

impl Source {
    /// Connects to the monolith's database (`postgres://...`).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let shown = crate::app::redact_url(url);
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("--source {shown} is not a PostgreSQL URL"))?
            .application_name("herald import-monolith")
            .options([("timezone", "UTC"), ("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .with_context(|| format!("could not connect to the monolith's database ({shown})"))?;
        Ok(Self { pool })
    }

    /// Templates with ids above `after`, `limit` at most, in id order.
    pub async fn templates(
        &self,
        after: i64,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> anyhow::Result<Vec<LegacyTemplate>> {
        let filter = if since.is_some() { TEMPLATES_SINCE } else { "" };
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM notifications_notificationtemplate WHERE id > $1{filter}
             ORDER BY id LIMIT {limit}"
        );
        let mut query = sqlx::query(&sql).bind(after);
        if let Some(since) = since {
            query = query.bind(since.naive_utc());
        }
        let rows =
            query.fetch_all(&self.pool).await.context("could not read notifications_notificationtemplate")?;
        Ok(rows.iter().map(template).collect::<Result<_, _>>()?)
    }

    /// Every template's channel (by its `type`), for logs whose own `type` is unusable.
    pub async fn template_channels(&self) -> anyhow::Result<HashMap<i64, Option<Channel>>> {
        let rows: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT id::bigint, type FROM notifications_notificationtemplate")
                .fetch_all(&self.pool)
                .await
                .context("could not read notifications_notificationtemplate")?;
        Ok(rows.into_iter().map(|(id, kind)| (id, legacy::channel(kind.as_deref()))).collect())
    }

    /// How many logs a run looks at.
    pub async fn count_logs(&self, since: Option<DateTime<Utc>>) -> anyhow::Result<u64> {
        let mut query = sqlx::query_scalar::<_, i64>(match since {
            Some(_) => {
                "SELECT COUNT(*) FROM notifications_notificationlog WHERE sent_at >= $1 OR sent_at IS NULL"
            }
            None => "SELECT COUNT(*) FROM notifications_notificationlog",
        });
        if let Some(since) = since {
            query = query.bind(since.naive_utc());
        }
        let count =
            query.fetch_one(&self.pool).await.context("could not count notifications_notificationlog")?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Logs with ids above `after`, `limit` at most, in id order.
    pub async fn logs(
        &self,
        after: i64,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> anyhow::Result<Vec<LegacyLog>> {
        let filter = if since.is_some() { LOGS_SINCE } else { "" };
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM notifications_notificationlog WHERE id > $1{filter} ORDER BY id LIMIT {limit}"
        );
        let mut query = sqlx::query(&sql).bind(after);
        if let Some(since) = since {
            query = query.bind(since.naive_utc());
        }
        let rows =
            query.fetch_all(&self.pool).await.context("could not read notifications_notificationlog")?;
        Ok(rows.iter().map(log).collect::<Result<_, _>>()?)
    }

    /// The `sent_at` of the closest log before `id` that has one: where a log without a
    /// time of its own goes in history (ids grow with time).
    pub async fn dated_before(&self, id: i64) -> anyhow::Result<Option<DateTime<Utc>>> {
        let at: Option<NaiveDateTime> = sqlx::query_scalar(
            "SELECT sent_at::timestamp FROM notifications_notificationlog
             WHERE id < $1 AND sent_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("could not read notifications_notificationlog")?;
        Ok(utc(at))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
