//! The store ports, implemented once for both backends: one macro body compiled for each
//! (`queries::sqlite`, `queries::postgres`). SQL the two run as it is is written here;
//! where they differ (claims, bulk writes, PostgreSQL's locks, notifications and
//! commit-ordered feed) the implementation calls the adapter module's function of the same
//! name (`store::sqlite::messages::claim_due_messages`, ...). `$1` placeholders work on
//! SQLite too; values are bound through [`crate::store::sql`] (ids, times and JSON as each
//! backend stores them) and rows are read by [`crate::store::rows`]. Only `Store` itself
//! (migrations, pools, listening, singletons) is implemented by each adapter.

macro_rules! queries {
    ($db:ty, $store:ty, $adapter:ident, event_columns = $event_columns:expr) => {
        use chrono::{DateTime, Utc};
        use std::collections::HashMap;

        use herald_domain::{AccountId, ApiKeyId, CampaignId, CampaignStatus, CustomerId, MessageId, TemplateId};
        use sqlx::{Pool, QueryBuilder};

        use crate::{
            model::{
                ActiveSession, Activity, ApiKeyRecord, AttemptOutcome, SessionRecord, Campaign, CampaignFilter, CampaignPage, CampaignStart,
                CampaignStats, ClaimedMessage, Customer, CustomerFields, DeadLetterFilter, FeedCursor, FoundMessage, MessageSearch,
                Hold, MessageCursor, HistoryEntry, HistoryFilter, IdempotencyClaim, StatusChange, StatusChanged, IdempotentResponse, KeyClaim, KeyedMessage, LeaseSweep, Message, MessageEvent,
                NewCampaign, NewMessage, PageStart, QueueStats, ReceiptApplied, ReceiptKey, ReceiptUpdate, RenderedMessage,
                RequestRate,
                StartOutcome, StatusCounts, StoredEvent, SweptLeases, DeliveryOutcome, MessageEventKind, User, UserWrite,
                UserWritten, Preferences, StoredPreferences, Template as TemplateRecord, TemplateContent, TemplateFound, TemplateWrite,
            },
            ports::StoreResult,
            store::{
                rows::{self as from_row, StoredRow},
                sql::{At, Id, Json},
                DEFAULT_ACCOUNT_NAME,
            },
        };

        type Db = $db;
        type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

        const EVENT_COLUMNS: &str = $event_columns;
        const API_KEY_COLUMNS: &str =
            "id, account_id, name, prefix, key_hash, created_at, revoked_at, rate_limit_per_second";

        // The store itself.

        pub(crate) async fn ping(pool: &Pool<Db>) -> StoreResult<()> {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        }

        /// Commits a write probe's row and deletes it again (see `Store::probe_writes`).
        pub(crate) async fn write_probe(pool: &Pool<Db>) -> StoreResult<()> {
            // A plain INSERT: with RETURNING, SQLite hands the row back before the
            // statement's own commit, whose failure then goes unseen.
            sqlx::query("INSERT INTO write_probe (pad) VALUES ($1)")
                .bind(crate::store::write_probe_pad())
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM write_probe").execute(pool).await?;
            Ok(())
        }

        // Accounts and API keys.

        pub(crate) async fn ensure_default_account(pool: &Pool<Db>) -> StoreResult<AccountId> {
            sqlx::query(
                "INSERT INTO accounts (id, name, is_default, created_at) VALUES ($1, $2, TRUE, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(Id(AccountId::new().as_uuid()))
            .bind(DEFAULT_ACCOUNT_NAME)
            .bind(At(Utc::now()))
            .execute(pool)
            .await?;
            let row = sqlx::query("SELECT id FROM accounts WHERE is_default").fetch_one(pool).await?;
            row.account_id("id")
        }

        pub(crate) async fn insert_api_key(pool: &Pool<Db>, key: &ApiKeyRecord) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO api_keys
                     (id, account_id, name, prefix, key_hash, created_at, revoked_at, rate_limit_per_second)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (key_hash) DO NOTHING",
            )
            .bind(Id(key.id.as_uuid()))
            .bind(Id(key.account_id.as_uuid()))
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.hash[..])
            .bind(At(key.created_at))
            .bind(key.revoked_at.map(At))
            .bind(key.rate_limit.map(rate_limit_column))
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(crate) async fn find_api_key_by_hash(
            pool: &Pool<Db>,
            hash: &[u8; 32],
        ) -> StoreResult<Option<ApiKeyRecord>> {
            let row = sqlx::query(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"))
                .bind(&hash[..])
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row::api_key).transpose()
        }

        pub(crate) async fn list_api_keys(pool: &Pool<Db>) -> StoreResult<Vec<ApiKeyRecord>> {
            let rows = sqlx::query(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"))
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row::api_key).collect()
        }

        pub(crate) async fn revoke_api_key(pool: &Pool<Db>, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
            let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(At(at))
                .bind(Id(id.as_uuid()))
                .execute(pool)
                .await?;
            // Housekeeping only: reads already ignore the sessions of a revoked key.
            sqlx::query("DELETE FROM dashboard_sessions WHERE api_key_id = $1")
                .bind(Id(id.as_uuid()))
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        // Dashboard sessions.

        pub(crate) async fn insert_session(pool: &Pool<Db>, session: &SessionRecord) -> StoreResult<()> {
            sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
                .bind(At(session.created_at))
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO dashboard_sessions (token_hash, api_key_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&session.token_hash[..])
            .bind(Id(session.api_key_id.as_uuid()))
            .bind(At(session.created_at))
            .bind(At(session.expires_at))
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(crate) async fn find_session(
            pool: &Pool<Db>,
            token_hash: &[u8; 32],
            now: DateTime<Utc>,
        ) -> StoreResult<Option<ActiveSession>> {
            let row = sqlx::query(
                "SELECT s.expires_at AS session_expires_at, k.id, k.account_id, k.name, k.prefix, k.key_hash,
                        k.created_at, k.revoked_at, k.rate_limit_per_second
                 FROM dashboard_sessions s JOIN api_keys k ON k.id = s.api_key_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
            )
            .bind(&token_hash[..])
            .bind(At(now))
            .fetch_optional(pool)
            .await?;
            row.as_ref()
                .map(|row| Ok(ActiveSession { expires_at: row.time("session_expires_at")?, key: from_row::api_key(row)? }))
                .transpose()
        }

        pub(crate) async fn delete_session(pool: &Pool<Db>, token_hash: &[u8; 32]) -> StoreResult<bool> {
            let done = sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
                .bind(&token_hash[..])
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn set_api_key_rate_limit(
            pool: &Pool<Db>,
            id: ApiKeyId,
            rate_limit: Option<RequestRate>,
        ) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE api_keys SET rate_limit_per_second = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(rate_limit.map(rate_limit_column))
            .bind(Id(id.as_uuid()))
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        /// `rate_limit_per_second` is an INTEGER (INT4 on PostgreSQL); a rate is at most
        /// [`RequestRate::MAX`], well inside it.
        fn rate_limit_column(rate: RequestRate) -> i32 {
            i32::try_from(rate.get().get()).unwrap_or(i32::MAX)
        }

        // Templates.

        pub(crate) fn bind_template<'q>(query: Query<'q>, content: &'q TemplateContent) -> Query<'q> {
            query
                .bind(content.name.as_str())
                .bind(content.channel)
                .bind(content.subject.as_deref())
                .bind(content.body.as_str())
                .bind(content.html.as_deref())
                .bind(Json(serde_json::to_value(&content.variables).unwrap_or_default()))
                .bind(content.category.as_deref())
                .bind(content.transactional)
        }

        pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
            error.as_database_error().is_some_and(|e| e.is_unique_violation())
        }

        /// Keeps `template`'s current version in `template_versions`, inside `tx`.
        pub(crate) async fn keep_version(tx: &mut sqlx::Transaction<'_, Db>, template: &TemplateRecord) -> StoreResult<()> {
            bind_template(
                sqlx::query(
                    "INSERT INTO template_versions (template_id, version, name, channel, subject, body, html,
                                                    variables, category, transactional, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(Id(template.id.as_uuid()))
                .bind(i64::from(template.version)),
                &template.content,
            )
            .bind(At(template.updated_at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Runs `sql` (an insert or update of a template returning its row, binds `$1` id,
        /// `$2` account, `$3`–`$10` the content, `$11` the time) and keeps the version it
        /// wrote, in one transaction.
        async fn write_template(
            pool: &Pool<Db>,
            sql: &'static str,
            account: AccountId,
            id: TemplateId,
            content: &TemplateContent,
            at: DateTime<Utc>,
        ) -> StoreResult<TemplateWrite> {
            let mut tx = pool.begin().await?;
            let query = sqlx::query(sql).bind(Id(id.as_uuid())).bind(Id(account.as_uuid()));
            let written = bind_template(query, content).bind(At(at)).fetch_optional(&mut *tx).await;
            let refused = match written {
                Ok(Some(row)) => Ok(row),
                Ok(None) => Err(TemplateWrite::NotFound),
                Err(error) if is_unique_violation(&error) => Err(TemplateWrite::NameTaken),
                Err(error) => return Err(error.into()),
            };
            let row = match refused {
                Ok(row) => row,
                Err(outcome) => {
                    // At once: a refused INSERT holds SQLite's write lock until its rollback.
                    tx.rollback().await?;
                    return Ok(outcome);
                }
            };
            let template = from_row::template(&row)?;
            keep_version(&mut tx, &template).await?;
            tx.commit().await?;
            Ok(TemplateWrite::Done(Box::new(template)))
        }

        pub(crate) async fn insert_template(
            pool: &Pool<Db>,
            account: AccountId,
            id: TemplateId,
            content: &TemplateContent,
            at: DateTime<Utc>,
        ) -> StoreResult<TemplateWrite> {
            let sql = "INSERT INTO templates (id, account_id, name, channel, subject, body, html, variables,
                                              category, transactional, version, created_at, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11) RETURNING *";
            write_template(pool, sql, account, id, content, at).await
        }

        pub(crate) async fn update_template(
            pool: &Pool<Db>,
            account: AccountId,
            id: TemplateId,
            content: &TemplateContent,
            at: DateTime<Utc>,
        ) -> StoreResult<TemplateWrite> {
            let sql = "UPDATE templates SET name = $3, channel = $4, subject = $5, body = $6, html = $7,
                              variables = $8, category = $9, transactional = $10, version = version + 1,
                              updated_at = $11
                       WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL RETURNING *";
            write_template(pool, sql, account, id, content, at).await
        }

        pub(crate) async fn get_template(pool: &Pool<Db>, account: AccountId, id: TemplateId) -> StoreResult<Option<TemplateRecord>> {
            let row = sqlx::query("SELECT * FROM templates WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL")
                .bind(Id(id.as_uuid()))
                .bind(Id(account.as_uuid()))
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row::template).transpose()
        }

        pub(crate) async fn find_template(pool: &Pool<Db>, account: AccountId, reference: &str) -> StoreResult<TemplateFound> {
            // By id if it is one, else by name; a live template comes before deleted ones.
            let by = match reference.parse::<uuid::Uuid>() {
                Ok(_) => "id",
                Err(_) => "name",
            };
            let sql = format!(
                "SELECT * FROM templates WHERE account_id = $1 AND {by} = $2
                 ORDER BY deleted_at IS NULL DESC LIMIT 1"
            );
            let query = sqlx::query(&sql).bind(Id(account.as_uuid()));
            let query = match reference.parse::<uuid::Uuid>() {
                Ok(id) => query.bind(Id(id)),
                Err(_) => query.bind(reference),
            };
            let Some(row) = query.fetch_optional(pool).await? else {
                return Ok(TemplateFound::Unknown);
            };
            if row.opt_time("deleted_at")?.is_some() {
                return Ok(TemplateFound::Deleted);
            }
            Ok(TemplateFound::Live(Box::new(from_row::template(&row)?)))
        }

        pub(crate) async fn list_templates(
            pool: &Pool<Db>,
            account: AccountId,
            channel: Option<herald_domain::Channel>,
            after: Option<TemplateId>,
            limit: u32,
        ) -> StoreResult<Vec<TemplateRecord>> {
            let mut query = QueryBuilder::<Db>::new("SELECT * FROM templates WHERE account_id = ");
            query.push_bind(Id(account.as_uuid())).push(" AND deleted_at IS NULL");
            if let Some(channel) = channel {
                query.push(" AND channel = ").push_bind(channel);
            }
            if let Some(after) = after {
                query.push(" AND id > ").push_bind(Id(after.as_uuid()));
            }
            query.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(from_row::template).collect()
        }

        pub(crate) async fn delete_template(pool: &Pool<Db>, account: AccountId, id: TemplateId, at: DateTime<Utc>) -> StoreResult<bool> {
            let done = sqlx::query(
                "UPDATE templates SET deleted_at = $3 WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
            )
            .bind(Id(id.as_uuid()))
            .bind(Id(account.as_uuid()))
            .bind(At(at))
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        // Users.

        pub(crate) async fn write_user(pool: &Pool<Db>, account: AccountId, write: &UserWrite<'_>) -> StoreResult<UserWritten> {
            let empty = crate::model::UserProfile::default();
            let profile = write.profile.unwrap_or(&empty);
            let tokens: Vec<&str> = profile.push_tokens.iter().map(|t| t.as_str()).collect();
            let mut tx = pool.begin().await?;
            // Last writer wins: the update applies only to an older version. A write in the
            // same millisecond as the one before it applies too, so that two quick writes
            // through the API both count; events with the same timestamp then go by arrival.
            let row = sqlx::query(
                "INSERT INTO users (account_id, user_id, email, phone, push_tokens, locale, time_zone,
                                    deleted, revision, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10)
                 ON CONFLICT (account_id, user_id) DO UPDATE SET
                     email = excluded.email, phone = excluded.phone, push_tokens = excluded.push_tokens,
                     locale = excluded.locale, time_zone = excluded.time_zone,
                     revision = CASE WHEN users.deleted THEN excluded.revision ELSE users.revision + 1 END,
                     created_at = CASE WHEN users.deleted THEN excluded.created_at ELSE users.created_at END,
                     deleted = excluded.deleted, version = excluded.version, updated_at = excluded.updated_at
                 WHERE users.version <= excluded.version
                 RETURNING *",
            )
            .bind(Id(account.as_uuid()))
            .bind(write.user_id.as_str())
            .bind(profile.email.as_ref().map(|e| e.as_str()))
            .bind(profile.phone.as_ref().map(|p| p.as_str()))
            .bind(Json(serde_json::json!(tokens)))
            .bind(profile.locale.as_ref().map(|l| l.as_str()))
            .bind(profile.time_zone.map(|z| z.as_str()))
            .bind(write.profile.is_none())
            .bind(i32::from(write.profile.is_some()))
            .bind(At(write.version))
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            let Some(row) = row else { return Ok(UserWritten::Stale) };
            let revision = row.opt_int("revision")?.unwrap_or_default();
            Ok(match (write.profile, revision) {
                (None, 0) => UserWritten::NothingToDelete,
                (None, _) => UserWritten::Deleted,
                (Some(_), 1) => UserWritten::Created(from_row::user(&row)?),
                (Some(_), _) => UserWritten::Replaced(from_row::user(&row)?),
            })
        }

        pub(crate) async fn get_user(pool: &Pool<Db>, account: AccountId, id: &herald_domain::UserId) -> StoreResult<Option<User>> {
            let row = sqlx::query("SELECT * FROM users WHERE account_id = $1 AND user_id = $2 AND NOT deleted")
                .bind(Id(account.as_uuid()))
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row::user).transpose()
        }

        pub(crate) async fn get_preferences(
            pool: &Pool<Db>,
            account: AccountId,
            id: &herald_domain::UserId,
        ) -> StoreResult<Option<StoredPreferences>> {
            let row = sqlx::query("SELECT * FROM preferences WHERE account_id = $1 AND user_id = $2")
                .bind(Id(account.as_uuid()))
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row::preferences).transpose()
        }

        pub(crate) async fn put_preferences(
            pool: &Pool<Db>,
            account: AccountId,
            id: &herald_domain::UserId,
            preferences: &Preferences,
            at: DateTime<Utc>,
        ) -> StoreResult<StoredPreferences> {
            let channels: Vec<&str> = preferences.channels_off.iter().map(|c| c.as_str()).collect();
            let clock = |time: chrono::NaiveTime| time.format("%H:%M").to_string();
            sqlx::query(
                "INSERT INTO preferences (account_id, user_id, channels_off, opted_out_categories,
                                          quiet_start, quiet_end, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (account_id, user_id) DO UPDATE SET
                     channels_off = excluded.channels_off,
                     opted_out_categories = excluded.opted_out_categories,
                     quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end,
                     updated_at = excluded.updated_at",
            )
            .bind(Id(account.as_uuid()))
            .bind(id.as_str())
            .bind(Json(serde_json::json!(channels)))
            .bind(Json(serde_json::json!(preferences.opted_out_categories)))
            .bind(preferences.quiet_hours.map(|q| clock(q.start())))
            .bind(preferences.quiet_hours.map(|q| clock(q.end())))
            .bind(At(at))
            .execute(pool)
            .await?;
            Ok(StoredPreferences { preferences: preferences.clone(), updated_at: at })
        }

        // Customers.

        /// Binds a customer's fields as $1..$7 (phone, names, email, location, product,
        /// attributes), as insert and update both write them.
        fn bind_fields<'q>(query: Query<'q>, fields: &'q CustomerFields) -> Query<'q> {
            query
                .bind(&fields.phone)
                .bind(&fields.first_name)
                .bind(&fields.last_name)
                .bind(&fields.email)
                .bind(&fields.location)
                .bind(&fields.preferred_product)
                .bind(Json(serde_json::Value::Object(fields.attributes.clone())))
        }

        // RETURNING runs in a transaction of its own: on its own, SQLite commits such a
        // statement after handing back the row, and a failed commit would go unseen.

        pub(crate) async fn insert_customer(
            pool: &Pool<Db>,
            account: AccountId,
            fields: &CustomerFields,
            at: DateTime<Utc>,
        ) -> StoreResult<Customer> {
            let mut tx = pool.begin().await?;
            let query = sqlx::query(
                "INSERT INTO customers (phone, first_name, last_name, email, location, preferred_product,
                                        attributes, account_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING *",
            );
            let row = bind_fields(query, fields).bind(Id(account.as_uuid())).bind(At(at)).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            from_row::customer(&row)
        }

        pub(crate) async fn update_customer(
            pool: &Pool<Db>,
            account: AccountId,
            id: CustomerId,
            fields: &CustomerFields,
            at: DateTime<Utc>,
        ) -> StoreResult<Option<Customer>> {
            let mut tx = pool.begin().await?;
            let query = sqlx::query(
                "UPDATE customers SET phone = $1, first_name = $2, last_name = $3, email = $4, location = $5,
                        preferred_product = $6, attributes = $7, updated_at = $8
                 WHERE id = $9 AND account_id = $10 RETURNING *",
            );
            let row = bind_fields(query, fields)
                .bind(At(at))
                .bind(id)
                .bind(Id(account.as_uuid()))
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row.as_ref().map(from_row::customer).transpose()
        }

        pub(crate) async fn get_customer(
            pool: &Pool<Db>,
            account: AccountId,
            id: CustomerId,
        ) -> StoreResult<Option<Customer>> {
            let row = sqlx::query("SELECT * FROM customers WHERE account_id = $1 AND id = $2")
                .bind(Id(account.as_uuid()))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row::customer).transpose()
        }

        pub(crate) async fn list_customers(
            pool: &Pool<Db>,
            account: AccountId,
            after: CustomerId,
            limit: u32,
        ) -> StoreResult<Vec<Customer>> {
            let rows = sqlx::query("SELECT * FROM customers WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(Id(account.as_uuid()))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row::customer).collect()
        }

        pub(crate) async fn customer_ids(pool: &Pool<Db>, account: AccountId) -> StoreResult<Vec<CustomerId>> {
            Ok(sqlx::query_scalar("SELECT id FROM customers WHERE account_id = $1 ORDER BY id")
                .bind(Id(account.as_uuid()))
                .fetch_all(pool)
                .await?)
        }

        // Campaigns.

        pub(crate) async fn insert_campaign(pool: &Pool<Db>, campaign: &NewCampaign) -> StoreResult<Campaign> {
            let mut tx = pool.begin().await?; // RETURNING: see insert_customer
            let row = sqlx::query(
                "INSERT INTO campaigns (account_id, name, channel, status, base_template, scheduled_at,
                                        created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *",
            )
            .bind(Id(campaign.account_id.as_uuid()))
            .bind(&campaign.name)
            .bind(campaign.channel)
            .bind(campaign.status)
            .bind(&campaign.base_template)
            .bind(campaign.scheduled_at.map(At))
            .bind(At(campaign.created_at))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            from_row::campaign(&row)
        }

        pub(crate) async fn get_campaign(
            pool: &Pool<Db>,
            account: AccountId,
            id: CampaignId,
        ) -> StoreResult<Option<Campaign>> {
            let row = sqlx::query("SELECT * FROM campaigns WHERE account_id = $1 AND id = $2")
                .bind(Id(account.as_uuid()))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row::campaign).transpose()
        }

        /// `WHERE ...` of a campaign listing.
        fn push_campaign_filter(
            query: &mut QueryBuilder<'_, Db>,
            account: AccountId,
            filter: CampaignFilter,
            snapshot: CampaignId,
        ) {
            query.push(" WHERE account_id = ").push_bind(Id(account.as_uuid()));
            query.push(" AND id <= ").push_bind(snapshot);
            if let Some(channel) = filter.channel {
                query.push(" AND channel = ").push_bind(channel);
            }
            if let Some(status) = filter.status {
                query.push(" AND status = ").push_bind(status);
            }
        }

        pub(crate) async fn list_campaigns(
            pool: &Pool<Db>,
            account: AccountId,
            filter: CampaignFilter,
            snapshot: Option<CampaignId>,
            start: PageStart,
            limit: u32,
        ) -> StoreResult<CampaignPage> {
            let snapshot = match snapshot {
                Some(snapshot) => snapshot,
                None => sqlx::query_scalar::<_, Option<CampaignId>>(
                    "SELECT MAX(id) FROM campaigns WHERE account_id = $1",
                )
                .bind(Id(account.as_uuid()))
                .fetch_one(pool)
                .await?
                .unwrap_or(CampaignId::new(0)),
            };
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM campaigns");
            push_campaign_filter(&mut count, account, filter, snapshot);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            let mut page = QueryBuilder::new("SELECT * FROM campaigns");
            push_campaign_filter(&mut page, account, filter, snapshot);
            let offset = match start {
                PageStart::Offset(offset) => offset,
                PageStart::Below(id) => {
                    page.push(" AND id < ").push_bind(id);
                    0
                }
            };
            // One row more than the page: whether a next page exists is what is left below
            // this one, not a count that campaigns committed late or changing status can skew.
            page.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit) + 1);
            page.push(" OFFSET ").push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
            let rows = page.build().fetch_all(pool).await?;
            let mut campaigns = rows.iter().map(from_row::campaign).collect::<StoreResult<Vec<_>>>()?;
            let more = campaigns.len() > limit as usize;
            campaigns.truncate(limit as usize);
            Ok(CampaignPage { campaigns, more, total: total as u64, snapshot })
        }

        pub(crate) async fn campaign_stats(pool: &Pool<Db>, campaign: CampaignId) -> StoreResult<CampaignStats> {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT status, COUNT(*) FROM messages WHERE campaign_id = $1 GROUP BY status")
                    .bind(campaign)
                    .fetch_all(pool)
                    .await?;
            Ok(crate::store::campaign_stats_from_rows(rows))
        }

        // Messages.

        pub(crate) async fn get_message(
            pool: &Pool<Db>,
            account: AccountId,
            id: MessageId,
        ) -> StoreResult<Option<Message>> {
            let row = sqlx::query("SELECT * FROM messages WHERE id = $1 AND account_id = $2")
                .bind(Id(id.as_uuid()))
                .bind(Id(account.as_uuid()))
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row::message).transpose()
        }

        pub(crate) async fn user_history(
            pool: &Pool<Db>,
            account: AccountId,
            user_id: &herald_domain::UserId,
            filter: &HistoryFilter,
            before: Option<MessageCursor>,
            limit: u32,
        ) -> StoreResult<Vec<HistoryEntry>> {
            // One statement: the template's name in the version sent comes with each row
            // (no query per row), through messages_user_history's order.
            let mut query = QueryBuilder::<Db>::new(
                "SELECT m.*, v.name AS template_name FROM messages m
                 LEFT JOIN template_versions v ON v.template_id = m.template_id AND v.version = m.template_version
                 WHERE m.account_id = ",
            );
            query.push_bind(Id(account.as_uuid())).push(" AND m.user_id = ").push_bind(user_id.as_str().to_owned());
            if let Some(status) = filter.status {
                query.push(" AND m.status = ").push_bind(status);
            }
            if let Some(channel) = filter.channel {
                query.push(" AND m.channel = ").push_bind(channel);
            }
            if let Some(template) = filter.template {
                query.push(" AND m.template_id = ").push_bind(Id(template.as_uuid()));
            }
            if let Some(since) = filter.since {
                query.push(" AND m.created_at >= ").push_bind(At(since));
            }
            if let Some(until) = filter.until {
                query.push(" AND m.created_at < ").push_bind(At(until));
            }
            push_newest_first(&mut query, before, limit);
            let rows = query.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| Ok(HistoryEntry { message: from_row::message(row)?, template_name: row.get("template_name")? }))
                .collect()
        }

        /// Ends a query of messages `m` with one newest-first page: those older than `before`
        /// (creation time, then id), at most `limit`.
        fn push_newest_first(query: &mut QueryBuilder<'_, Db>, before: Option<MessageCursor>, limit: u32) {
            if let Some(before) = before {
                // A row comparison: an index condition on both backends, so page k starts
                // at its cursor instead of filtering the entries before it.
                query
                    .push(" AND (m.created_at, m.id) < (")
                    .push_bind(At(before.created_at))
                    .push(", ")
                    .push_bind(Id(before.id.as_uuid()))
                    .push(")");
            }
            query.push(" ORDER BY m.created_at DESC, m.id DESC LIMIT ").push_bind(i64::from(limit));
        }

        pub(crate) async fn search_messages(
            pool: &Pool<Db>,
            account: AccountId,
            search: &MessageSearch,
            before: Option<MessageCursor>,
            limit: u32,
        ) -> StoreResult<Vec<FoundMessage>> {
            // Through messages_account_recent, or messages_account_recipient for a recipient
            // (migration sqlite 0018, postgres 0020).
            let mut query = QueryBuilder::<Db>::new("SELECT m.* FROM messages m WHERE m.account_id = ");
            query.push_bind(Id(account.as_uuid()));
            if let Some(status) = search.status {
                query.push(" AND m.status = ").push_bind(status);
            }
            if let Some(channel) = search.channel {
                query.push(" AND m.channel = ").push_bind(channel);
            }
            if let Some(recipient) = &search.recipient {
                query.push(" AND m.recipient = ").push_bind(recipient.clone());
            }
            if let Some(campaign) = search.campaign {
                query.push(" AND m.campaign_id = ").push_bind(campaign);
            }
            push_newest_first(&mut query, before, limit);
            let rows = query.build().fetch_all(pool).await?;
            let messages = rows.iter().map(from_row::message).collect::<StoreResult<Vec<_>>>()?;
            let attempts = attempt_counts(pool, &messages).await?;
            Ok(messages
                .into_iter()
                .map(|message| FoundMessage { attempts: attempts.get(&message.id).copied().unwrap_or(0), message })
                .collect())
        }

        /// How many attempts the timelines of `messages` record, in one query (the rule is
        /// [`MessageEvent::is_attempt`]'s, applied here rather than restated in SQL).
        async fn attempt_counts(pool: &Pool<Db>, messages: &[Message]) -> StoreResult<HashMap<MessageId, u32>> {
            let mut counts = HashMap::new();
            if messages.is_empty() {
                return Ok(counts);
            }
            let mut query = QueryBuilder::<Db>::new(
                "SELECT message_id, kind, status, detail, at FROM message_events WHERE message_id IN (",
            );
            let mut ids = query.separated(", ");
            for message in messages {
                ids.push_bind(Id(message.id.as_uuid()));
            }
            query.push(")");
            for row in query.build().fetch_all(pool).await? {
                if from_row::message_event(&row)?.is_attempt() {
                    *counts.entry(MessageId::from_uuid(row.uuid("message_id")?)).or_insert(0) += 1;
                }
            }
            Ok(counts)
        }

        pub(crate) async fn activity(pool: &Pool<Db>, account: AccountId, since: DateTime<Utc>) -> StoreResult<Activity> {
            // One round trip, each count an index range of its own (migration sqlite 0018,
            // postgres 0020): messages_account_recent, messages_account_sent,
            // messages_account_failed, and messages_dead_letters.
            let at = At(since);
            let mut query = QueryBuilder::<Db>::new("SELECT (SELECT COUNT(*) FROM messages WHERE account_id = ");
            query.push_bind(Id(account.as_uuid())).push(" AND created_at >= ").push_bind(at);
            query.push(") AS accepted, (SELECT COUNT(*) FROM messages WHERE account_id = ");
            query.push_bind(Id(account.as_uuid())).push(" AND sent_at >= ").push_bind(at);
            // Failed since: the dead letters whose failure (their last change) is that recent.
            query.push(") AS sent, (SELECT COUNT(*) FROM messages WHERE status = 'failed'");
            push_dead_letter_filter(&mut query, account, &DeadLetterFilter::default());
            query.push(" AND updated_at >= ").push_bind(at);
            query.push(") AS failed, (SELECT COUNT(*) FROM messages WHERE status = 'failed'");
            push_dead_letter_filter(&mut query, account, &DeadLetterFilter::default());
            query.push(") AS dead_letters");
            let row = query.build().fetch_one(pool).await?;
            let count = |column: &str| row.int(column).map(|n| n.max(0) as u64);
            Ok(Activity {
                accepted: count("accepted")?,
                sent: count("sent")?,
                failed: count("failed")?,
                dead_letters: count("dead_letters")?,
            })
        }

        pub(crate) async fn list_message_events(pool: &Pool<Db>, id: MessageId) -> StoreResult<Vec<MessageEvent>> {
            let rows = sqlx::query(
                // The `accepted` entry is the message row itself (migration 0006); one stored by
                // an older binary still running during an upgrade is not shown twice.
                "SELECT 'accepted' AS kind, 'pending' AS status, NULL AS detail, created_at AS at, 0 AS seq
                 FROM messages WHERE id = $1
                 UNION ALL
                 SELECT kind, status, detail, at, id FROM message_events
                 WHERE message_id = $1 AND kind <> 'accepted'
                 ORDER BY seq",
            )
            .bind(Id(id.as_uuid()))
            .fetch_all(pool)
            .await?;
            rows.iter().map(from_row::message_event).collect()
        }

        /// Stores, inside the insert's transaction, what intake decided besides "send now"
        /// for messages just inserted as `pending`: `scheduled` until a time, or
        /// `suppressed` with its reason. Each makes its timeline entry; the messages' events
        /// are written too.
        pub(crate) async fn apply_holds(
            tx: &mut sqlx::Transaction<'_, Db>,
            messages: &[&NewMessage],
        ) -> StoreResult<()> {
            for message in messages {
                let Some(hold) = &message.hold else { continue };
                let (until, error) = match hold {
                    Hold::Until { until, .. } => (*until, None),
                    Hold::Suppressed { reason, .. } => (message.created_at, Some(reason.as_str())),
                };
                sqlx::query("UPDATE messages SET status = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4")
                    .bind(hold.status())
                    .bind(At(until))
                    .bind(error)
                    .bind(Id(message.id.as_uuid()))
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("INSERT INTO message_events (message_id, kind, status, detail, at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(Id(message.id.as_uuid()))
                    .bind(hold.event_kind())
                    .bind(hold.status())
                    .bind(hold.reason())
                    .bind(At(message.created_at))
                    .execute(&mut **tx)
                    .await?;
            }
            let events: Vec<_> =
                messages.iter().flat_map(|m| m.events.iter().map(|event| (m.account_id, event))).collect();
            crate::store::$adapter::outbox::insert_events(tx, &events).await
        }

        /// `WHERE` of the message a receipt names, from `$first` on, and its binds.
        fn bind_receipt_key<'q>(query: Query<'q>, key: &'q ReceiptKey) -> Query<'q> {
            match key {
                ReceiptKey::Herald(id) => query.bind(Id(id.as_uuid())),
                ReceiptKey::Provider(id) => query.bind(id.as_str()),
            }
        }

        fn receipt_key_clause(key: &ReceiptKey) -> &'static str {
            match key {
                ReceiptKey::Herald(_) => "id = $1 AND provider = $2",
                ReceiptKey::Provider(_) => "provider_message_id = $1 AND provider = $2",
            }
        }

        pub(crate) async fn apply_receipt(
            pool: &Pool<Db>,
            receipt: &ReceiptUpdate<'_>,
            event: &crate::ports::ReceiptEventBuilder<'_>,
        ) -> StoreResult<ReceiptApplied> {
            let clause = receipt_key_clause(receipt.key);
            let status = receipt.outcome.status();
            let (error, detail) = match receipt.outcome {
                DeliveryOutcome::Delivered => (None, format!("delivered (receipt from {})", receipt.provider)),
                DeliveryOutcome::Undelivered { reason, .. } => (Some(reason.as_str()), reason.clone()),
            };
            let mut tx = pool.begin().await?;
            let sql = format!(
                "UPDATE messages SET status = $3, last_error = COALESCE($4, last_error), updated_at = $5
                 WHERE {clause} AND status = 'sent' RETURNING *"
            );
            let row = bind_receipt_key(sqlx::query(&sql), receipt.key)
                .bind(receipt.provider)
                .bind(status)
                .bind(error)
                .bind(At(receipt.at))
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                tx.rollback().await?;
                return receipt_left_alone(pool, receipt).await;
            };
            let message = from_row::message(&row)?;
            sqlx::query("INSERT INTO message_events (message_id, kind, status, detail, at) VALUES ($1, $2, $3, $4, $5)")
                .bind(Id(message.id.as_uuid()))
                .bind(MessageEventKind::DeliveryReceipt)
                .bind(status)
                .bind(detail)
                .bind(At(receipt.at))
                .execute(&mut *tx)
                .await?;
            let event = event(&message);
            crate::store::$adapter::outbox::insert_events(&mut tx, &[(message.account_id, &event)]).await?;
            tx.commit().await?;
            Ok(ReceiptApplied::Applied)
        }

        /// Why a receipt changed nothing: what the message it names is now.
        async fn receipt_left_alone(pool: &Pool<Db>, receipt: &ReceiptUpdate<'_>) -> StoreResult<ReceiptApplied> {
            // By herald's id, the message may not have a provider yet (still pending).
            let clause = match receipt.key {
                ReceiptKey::Herald(_) => "id = $1",
                ReceiptKey::Provider(_) => receipt_key_clause(receipt.key),
            };
            let sql = format!("SELECT status, provider FROM messages WHERE {clause}");
            let mut query = bind_receipt_key(sqlx::query(&sql), receipt.key);
            if matches!(receipt.key, ReceiptKey::Provider(_)) {
                query = query.bind(receipt.provider);
            }
            let Some(row) = query.fetch_optional(pool).await? else {
                return Ok(ReceiptApplied::Unknown);
            };
            let status: herald_domain::MessageStatus = sqlx::Row::try_get(&row, "status")?;
            let provider: Option<String> = sqlx::Row::try_get(&row, "provider")?;
            Ok(match status {
                herald_domain::MessageStatus::Pending | herald_domain::MessageStatus::Scheduled | herald_domain::MessageStatus::Sending => ReceiptApplied::NotSentYet,
                // Another provider's message: this provider's receipt is not about it.
                _ if provider.as_deref() != Some(receipt.provider) => ReceiptApplied::Unknown,
                other => ReceiptApplied::Unchanged(other),
            })
        }

        pub(crate) async fn change_status(
            pool: &Pool<Db>,
            change: &StatusChange<'_>,
            event: &crate::ports::ReceiptEventBuilder<'_>,
        ) -> StoreResult<StatusChanged> {
            let mut tx = pool.begin().await?;
            let mut query = QueryBuilder::<Db>::new("UPDATE messages SET status = ");
            query.push_bind(change.to).push(", updated_at = ").push_bind(At(change.at));
            if change.to == herald_domain::MessageStatus::Cancelled {
                query.push(", next_attempt_at = NULL");
            }
            query
                .push(" WHERE id = ")
                .push_bind(Id(change.id.as_uuid()))
                .push(" AND account_id = ")
                .push_bind(Id(change.account.as_uuid()))
                .push(" AND status IN (");
            let mut statuses = query.separated(", ");
            for status in change.from {
                statuses.push_bind(*status);
            }
            query.push(") RETURNING *");
            let Some(row) = query.build().fetch_optional(&mut *tx).await? else {
                tx.rollback().await?;
                let current: Option<herald_domain::MessageStatus> =
                    sqlx::query_scalar("SELECT status FROM messages WHERE id = $1 AND account_id = $2")
                        .bind(Id(change.id.as_uuid()))
                        .bind(Id(change.account.as_uuid()))
                        .fetch_optional(pool)
                        .await?;
                return Ok(current.map_or(StatusChanged::NotFound, StatusChanged::Refused));
            };
            let message = from_row::message(&row)?;
            sqlx::query("INSERT INTO message_events (message_id, kind, status, detail, at) VALUES ($1, $2, $3, $4, $5)")
                .bind(Id(message.id.as_uuid()))
                .bind(MessageEventKind::StatusChanged)
                .bind(change.to)
                .bind(&change.detail)
                .bind(At(change.at))
                .execute(&mut *tx)
                .await?;
            let event = event(&message);
            crate::store::$adapter::outbox::insert_events(&mut tx, &[(message.account_id, &event)]).await?;
            tx.commit().await?;
            Ok(StatusChanged::Changed(Box::new(message)))
        }

        pub(crate) async fn status_counts(pool: &Pool<Db>) -> StoreResult<StatusCounts> {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT status, COUNT(*) FROM messages GROUP BY status").fetch_all(pool).await?;
            Ok(crate::store::counts_from_rows(rows))
        }

        pub(crate) async fn queue_stats(pool: &Pool<Db>, now: DateTime<Utc>) -> StoreResult<QueueStats> {
            let row = sqlx::query(
                // The claim's own predicate, so that both backends answer from messages_due.
                "SELECT COUNT(*) AS pending, MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END) AS oldest
                 FROM messages WHERE status IN ('pending', 'scheduled')",
            )
            .bind(At(now))
            .fetch_one(pool)
            .await?;
            Ok(QueueStats { pending: row.int("pending")? as u64, oldest_due_at: row.opt_time("oldest")? })
        }

        /// `AND ...` conditions naming an account's dead letters.
        pub(crate) fn push_dead_letter_filter(
            query: &mut QueryBuilder<'_, Db>,
            account: AccountId,
            filter: &DeadLetterFilter,
        ) {
            query.push(" AND account_id = ").push_bind(Id(account.as_uuid()));
            // History imported from the monolith failed there: nothing to replay (ADR 0023).
            query.push(" AND COALESCE(provider, '') <> ").push_bind(crate::model::LEGACY_PROVIDER);
            if let Some(channel) = filter.channel {
                query.push(" AND channel = ").push_bind(channel);
            }
            if let Some(provider) = &filter.provider {
                query.push(" AND provider = ").push_bind(provider.clone());
            }
        }

        pub(crate) async fn list_dead_letters(
            pool: &Pool<Db>,
            account: AccountId,
            filter: &DeadLetterFilter,
            before: Option<MessageId>,
            limit: u32,
        ) -> StoreResult<Vec<Message>> {
            let mut query = QueryBuilder::<Db>::new("SELECT * FROM messages WHERE status = 'failed'");
            push_dead_letter_filter(&mut query, account, filter);
            if let Some(before) = before {
                query.push(" AND id < ").push_bind(Id(before.as_uuid()));
            }
            query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(from_row::message).collect()
        }

        // The outbox.

        pub(crate) async fn unpublished_events(pool: &Pool<Db>, limit: u32) -> StoreResult<Vec<StoredEvent>> {
            let rows = sqlx::query(&format!(
                "SELECT {EVENT_COLUMNS} FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(from_row::stored_event).collect()
        }

        pub(crate) async fn outbox_backlog(pool: &Pool<Db>) -> StoreResult<(u64, Option<DateTime<Utc>>)> {
            let row = sqlx::query(
                "SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM outbox WHERE published_at IS NULL",
            )
            .fetch_one(pool)
            .await?;
            Ok((row.int("waiting")? as u64, row.opt_time("oldest")?))
        }

        // Idempotency keys.

        /// Marks the key done with its response, inside the transaction of what it created
        /// (a message, or a campaign's messages: no single message id then).
        pub(crate) async fn complete_key(
            tx: &mut sqlx::Transaction<'_, Db>,
            account: AccountId,
            message_id: Option<MessageId>,
            response: &IdempotentResponse,
        ) -> StoreResult<()> {
            sqlx::query(
                "UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2,
                        message_id = $3
                 WHERE account_id = $4 AND idempotency_key = $5",
            )
            .bind(i32::from(response.status))
            .bind(&response.body)
            .bind(message_id.map(|id| Id(id.as_uuid())))
            .bind(Id(account.as_uuid()))
            .bind(&response.key)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Claims `key` for a request on `conn` (the pool, or a batch's transaction): inserts
        /// a fresh claim or takes over an expired or abandoned one, or reports the key's state.
        pub(crate) async fn claim_key(
            conn: &mut <Db as sqlx::Database>::Connection,
            account: AccountId,
            key: &str,
            claim: &KeyClaim,
        ) -> StoreResult<IdempotencyClaim> {
            // Insert a fresh claim, or take over an expired or abandoned one, in one
            // statement; concurrent claims of one key serialise on its primary key.
            let acquired = sqlx::query(&format!(
                "INSERT INTO idempotency_keys (account_id, idempotency_key, fingerprint, state,
                                               locked_at, created_at, expires_at)
                 VALUES ($1, $2, $3, 'in_flight', $4, $4, $5) {}",
                crate::store::take_over_stale_key("$6")
            ))
            .bind(Id(account.as_uuid()))
            .bind(key)
            .bind(&claim.fingerprint[..])
            .bind(At(claim.now))
            .bind(At(claim.expires_at))
            .bind(At(claim.stale_before))
            .execute(&mut *conn)
            .await?
            .rows_affected()
                == 1;
            if acquired {
                return Ok(IdempotencyClaim::Acquired);
            }
            let row = sqlx::query(
                "SELECT fingerprint, state, response_status, response_body FROM idempotency_keys
                 WHERE account_id = $1 AND idempotency_key = $2",
            )
            .bind(Id(account.as_uuid()))
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
            from_row::idempotency_claim(&row)
        }

        pub(crate) async fn purge_expired_idempotency_keys(pool: &Pool<Db>, now: DateTime<Utc>) -> StoreResult<u64> {
            let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                .bind(At(now))
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        }

        // Every store port but `Store` itself is implemented here once: with the
        // queries above where both backends run the same SQL, and with the adapter
        // module's own function where they differ.

        #[async_trait::async_trait]
        impl crate::ports::CampaignStore for $store {
            async fn insert_campaign(&self, campaign: &NewCampaign) -> StoreResult<Campaign> {
                insert_campaign(&self.pool, campaign).await
            }

            async fn get_campaign(&self, account: AccountId, id: CampaignId) -> StoreResult<Option<Campaign>> {
                get_campaign(&self.pool, account, id).await
            }

            async fn list_campaigns(&self, account: AccountId, filter: CampaignFilter, snapshot: Option<CampaignId>, start: PageStart, limit: u32,) -> StoreResult<CampaignPage> {
                list_campaigns(&self.pool, account, filter, snapshot, start, limit).await
            }

            async fn campaign_stats(&self, campaign: CampaignId) -> StoreResult<CampaignStats> {
                campaign_stats(&self.pool, campaign).await
            }

            async fn start_campaign(&self, start: &CampaignStart) -> StoreResult<StartOutcome> {
                crate::store::$adapter::campaigns::start_campaign(self, start).await
            }

            async fn render_inputs(&self, campaigns: &[CampaignId], customers: &[CustomerId],) -> StoreResult<(HashMap<CampaignId, String>, HashMap<CustomerId, Customer>)> {
                crate::store::$adapter::campaigns::render_inputs(self, campaigns, customers).await
            }

            async fn save_rendered(&self, rendered: &[RenderedMessage], at: DateTime<Utc>) -> StoreResult<()> {
                crate::store::$adapter::campaigns::save_rendered(self, rendered, at).await
            }

            async fn due_campaigns(&self, now: DateTime<Utc>, limit: u32,) -> StoreResult<Vec<(CampaignId, AccountId, bool)>> {
                crate::store::$adapter::campaigns::due_campaigns(self, now, limit).await
            }

            async fn set_campaign_status(&self, campaign: CampaignId, from: &[CampaignStatus], to: CampaignStatus, now: DateTime<Utc>,) -> StoreResult<bool> {
                crate::store::$adapter::campaigns::set_campaign_status(self, campaign, from, to, now).await
            }

            async fn finish_campaigns(&self, campaigns: &[CampaignId], now: DateTime<Utc>) -> StoreResult<u64> {
                crate::store::$adapter::campaigns::finish_campaigns(self, campaigns, now).await
            }
        }

        #[async_trait::async_trait]
        impl crate::ports::TemplateStore for $store {
            async fn insert_template(&self, account: AccountId, id: TemplateId, content: &TemplateContent, at: DateTime<Utc>) -> StoreResult<TemplateWrite> {
                insert_template(&self.pool, account, id, content, at).await
            }

            async fn update_template(&self, account: AccountId, id: TemplateId, content: &TemplateContent, at: DateTime<Utc>) -> StoreResult<TemplateWrite> {
                update_template(&self.pool, account, id, content, at).await
            }

            async fn get_template(&self, account: AccountId, id: TemplateId) -> StoreResult<Option<TemplateRecord>> {
                get_template(&self.pool, account, id).await
            }

            async fn find_template(&self, account: AccountId, reference: &str) -> StoreResult<TemplateFound> {
                find_template(&self.pool, account, reference).await
            }

            async fn list_templates(&self, account: AccountId, channel: Option<herald_domain::Channel>, after: Option<TemplateId>, limit: u32) -> StoreResult<Vec<TemplateRecord>> {
                list_templates(&self.pool, account, channel, after, limit).await
            }

            async fn delete_template(&self, account: AccountId, id: TemplateId, at: DateTime<Utc>) -> StoreResult<bool> {
                delete_template(&self.pool, account, id, at).await
            }
        }

        #[async_trait::async_trait]
        impl crate::ports::UserStore for $store {
            async fn write_user(&self, account: AccountId, write: &UserWrite<'_>) -> StoreResult<UserWritten> {
                write_user(&self.pool, account, write).await
            }

            async fn get_user(&self, account: AccountId, id: &herald_domain::UserId) -> StoreResult<Option<User>> {
                get_user(&self.pool, account, id).await
            }

            async fn get_preferences(&self, account: AccountId, id: &herald_domain::UserId) -> StoreResult<Option<StoredPreferences>> {
                get_preferences(&self.pool, account, id).await
            }

            async fn put_preferences(
                &self,
                account: AccountId,
                id: &herald_domain::UserId,
                preferences: &Preferences,
                at: DateTime<Utc>,
            ) -> StoreResult<StoredPreferences> {
                put_preferences(&self.pool, account, id, preferences, at).await
            }
        }

        #[async_trait::async_trait]
        impl crate::ports::CustomerStore for $store {
            async fn insert_customer(&self, account: AccountId, fields: &CustomerFields, at: DateTime<Utc>,) -> StoreResult<Customer> {
                insert_customer(&self.pool, account, fields, at).await
            }

            async fn get_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<Customer>> {
                get_customer(&self.pool, account, id).await
            }

            async fn update_customer(&self, account: AccountId, id: CustomerId, fields: &CustomerFields, at: DateTime<Utc>,) -> StoreResult<Option<Customer>> {
                update_customer(&self.pool, account, id, fields, at).await
            }

            async fn delete_customer(&self, account: AccountId, id: CustomerId) -> StoreResult<Option<bool>> {
                crate::store::$adapter::customers::delete_customer(self, account, id).await
            }

            async fn insert_customers(&self, account: AccountId, customers: &[CustomerFields], at: DateTime<Utc>,) -> StoreResult<Vec<CustomerId>> {
                crate::store::$adapter::customers::insert_customers(self, account, customers, at).await
            }

            async fn list_customers(&self, account: AccountId, after: CustomerId, limit: u32,) -> StoreResult<Vec<Customer>> {
                list_customers(&self.pool, account, after, limit).await
            }

            async fn customer_ids(&self, account: AccountId) -> StoreResult<Vec<CustomerId>> {
                customer_ids(&self.pool, account).await
            }
        }

        #[async_trait::async_trait]
        impl crate::ports::MessageStore for $store {
            async fn insert_message(&self, message: &NewMessage) -> StoreResult<()> {
                crate::store::$adapter::messages::insert_message(self, message).await
            }

            async fn insert_messages(&self, batch: &[KeyedMessage]) -> StoreResult<Vec<IdempotencyClaim>> {
                crate::store::$adapter::messages::insert_messages(self, batch).await
            }

            async fn get_message(&self, account: AccountId, id: MessageId) -> StoreResult<Option<Message>> {
                get_message(&self.pool, account, id).await
            }

            async fn list_message_events(&self, id: MessageId) -> StoreResult<Vec<MessageEvent>> {
                list_message_events(&self.pool, id).await
            }

            async fn claim_due_messages(&self, owner: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: u32,) -> StoreResult<Vec<ClaimedMessage>> {
                crate::store::$adapter::messages::claim_due_messages(self, owner, now, lease_until, limit).await
            }

            async fn take_over_leases(&self, ids: &[MessageId], from: &str, to: &str, lease_until: DateTime<Utc>, now: DateTime<Utc>,) -> StoreResult<Vec<ClaimedMessage>> {
                crate::store::$adapter::messages::take_over_leases(self, ids, from, to, lease_until, now).await
            }

            async fn record_outcomes(&self, owner: &str, outcomes: &[AttemptOutcome]) -> StoreResult<u64> {
                crate::store::$adapter::messages::record_outcomes(self, owner, outcomes).await
            }

            async fn release_leases(&self, owner: &str, ids: &[MessageId], now: DateTime<Utc>) -> StoreResult<u64> {
                crate::store::$adapter::messages::release_leases(self, owner, ids, now).await
            }

            async fn requeue_expired_leases(&self, sweep: &LeaseSweep<'_>) -> StoreResult<SweptLeases> {
                crate::store::$adapter::messages::requeue_expired_leases(self, sweep).await
            }

            async fn apply_receipt(&self, receipt: &ReceiptUpdate<'_>, event: &crate::ports::ReceiptEventBuilder<'_>) -> StoreResult<ReceiptApplied> {
                apply_receipt(&self.pool, receipt, event).await
            }

            async fn change_status(
                &self,
                change: &StatusChange<'_>,
                event: &crate::ports::ReceiptEventBuilder<'_>,
            ) -> StoreResult<StatusChanged> {
                change_status(&self.pool, change, event).await
            }

            async fn status_counts(&self) -> StoreResult<StatusCounts> {
                status_counts(&self.pool).await
            }

            async fn queue_stats(&self, now: DateTime<Utc>) -> StoreResult<QueueStats> {
                queue_stats(&self.pool, now).await
            }

            async fn search_messages(
                &self,
                account: AccountId,
                search: &MessageSearch,
                before: Option<MessageCursor>,
                limit: u32,
            ) -> StoreResult<Vec<FoundMessage>> {
                search_messages(&self.pool, account, search, before, limit).await
            }

            async fn activity(&self, account: AccountId, since: DateTime<Utc>) -> StoreResult<Activity> {
                activity(&self.pool, account, since).await
            }

            async fn user_history(
                &self,
                account: AccountId,
                user_id: &herald_domain::UserId,
                filter: &HistoryFilter,
                before: Option<MessageCursor>,
                limit: u32,
            ) -> StoreResult<Vec<HistoryEntry>> {
                user_history(&self.pool, account, user_id, filter, before, limit).await
            }

            async fn list_dead_letters(&self, account: AccountId, filter: &DeadLetterFilter, before: Option<MessageId>, limit: u32,) -> StoreResult<Vec<Message>> {
                list_dead_letters(&self.pool, account, filter, before, limit).await
            }

            async fn replay_dead_letters(&self, account: AccountId, ids: Option<&[MessageId]>, filter: &DeadLetterFilter, now: DateTime<Utc>,) -> StoreResult<Vec<MessageId>> {
                crate::store::$adapter::messages::replay_dead_letters(self, account, ids, filter, now).await
            }
        }

        #[async_trait::async_trait]
        impl crate::ports::OutboxStore for $store {
            async fn list_events(&self, account: AccountId, after: FeedCursor, limit: u32,) -> StoreResult<Vec<StoredEvent>> {
                crate::store::$adapter::outbox::list_events(self, account, after, limit).await
            }

            async fn unpublished_events(&self, limit: u32) -> StoreResult<Vec<StoredEvent>> {
                unpublished_events(&self.pool, limit).await
            }

            async fn mark_events_published(&self, sequences: &[i64], at: DateTime<Utc>) -> StoreResult<u64> {
                crate::store::$adapter::outbox::mark_events_published(self, sequences, at).await
            }

            async fn outbox_backlog(&self) -> StoreResult<(u64, Option<DateTime<Utc>>)> {
                outbox_backlog(&self.pool).await
            }
        }


        #[async_trait::async_trait]
        impl crate::ports::AccountStore for $store {
            async fn ensure_default_account(&self) -> StoreResult<AccountId> {
                ensure_default_account(&self.pool).await
            }

            async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
                insert_api_key(&self.pool, key).await
            }

            async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>> {
                find_api_key_by_hash(&self.pool, hash).await
            }

            async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
                list_api_keys(&self.pool).await
            }

            async fn revoke_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
                revoke_api_key(&self.pool, id, at).await
            }

            async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
                insert_session(&self.pool, session).await
            }

            async fn find_session(
                &self,
                token_hash: &[u8; 32],
                now: DateTime<Utc>,
            ) -> StoreResult<Option<ActiveSession>> {
                find_session(&self.pool, token_hash, now).await
            }

            async fn delete_session(&self, token_hash: &[u8; 32]) -> StoreResult<bool> {
                delete_session(&self.pool, token_hash).await
            }

            async fn set_api_key_rate_limit(
                &self,
                id: ApiKeyId,
                rate_limit: Option<RequestRate>,
            ) -> StoreResult<bool> {
                set_api_key_rate_limit(&self.pool, id, rate_limit).await
            }
        }

        #[async_trait::async_trait]
        impl crate::ports::IdempotencyStore for $store {
            async fn purge_expired_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                purge_expired_idempotency_keys(&self.pool, now).await
            }
        }
    };
}

pub(crate) mod sqlite {
    queries!(
        sqlx::Sqlite,
        crate::store::sqlite::SqliteStore,
        sqlite,
        event_columns = "sequence, 0 AS txid, account_id, event_id, event_type, aggregate_id, user_id, \
                         payload, metadata, created_at"
    );
}

pub(crate) mod postgres {
    queries!(
        sqlx::Postgres,
        crate::store::postgres::PgStore,
        postgres,
        event_columns = "sequence, txid::text::bigint AS txid, account_id, event_id, event_type, \
                         aggregate_id, user_id, payload, metadata, created_at"
    );
}
