//! [`crate::ports::LegacyImportStore`] for both backends, written once like `queries.rs`:
//! one macro body compiled per backend, values bound through [`crate::store::sql`], rows
//! read through [`crate::store::rows`]. Batches are multi-row statements of at most
//! [`ROWS_PER_STATEMENT`] rows (SQLite takes 32,766 bound values a statement).

/// Rows per multi-row INSERT: 14 values a message, well under either backend's limit.
const ROWS_PER_STATEMENT: usize = 1000;

macro_rules! legacy_import_queries {
    ($db:ty, $store:ty, $adapter:ident) => {
        use std::collections::HashMap;

        use chrono::{DateTime, Utc};
        use herald_domain::{AccountId, TemplateId};
        use sqlx::{Pool, QueryBuilder};
        use uuid::Uuid;

        use crate::{
            model::{
                legacy_key, HistoryRow, HistoryValues, ImportedLog, LegacyKind, LegacyLink, LegacyOutcome,
                LogImport, LogImported, TemplateContent, TemplateImport, TemplateImported, TemplateUse, TemplateWrite, User,
                LEGACY_PROVIDER,
            },
            ports::{StoreError, StoreResult},
            store::{
                legacy_imports::ROWS_PER_STATEMENT,
                queries::$adapter as queries,
                rows::{self as from_row, StoredRow},
                sql::{At, Id, Json},
            },
        };

        type Db = $db;
        type Connection = <Db as sqlx::Database>::Connection;

        /// A `legacy_imports` row to write (insert, or replace the one of its legacy id).
        struct NewLink {
            legacy_id: i64,
            outcome: LegacyOutcome,
            herald_id: Option<Uuid>,
            checksum: String,
            note: Option<String>,
        }

        fn link(row: &impl StoredRow) -> StoreResult<LegacyLink> {
            let outcome: String = row.get("outcome")?;
            Ok(LegacyLink {
                legacy_id: row.int("legacy_id")?,
                outcome: LegacyOutcome::parse(&outcome)
                    .ok_or_else(|| StoreError::Corrupt(format!("legacy_imports.outcome = {outcome:?}")))?,
                herald_id: row.opt_uuid("herald_id")?,
                checksum: row.get("checksum")?,
                note: row.get("note")?,
            })
        }

        async fn links_in(
            conn: &mut Connection,
            account: AccountId,
            kind: LegacyKind,
            ids: &[i64],
        ) -> StoreResult<HashMap<i64, LegacyLink>> {
            let mut found = HashMap::with_capacity(ids.len());
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Db>::new(
                    "SELECT legacy_id, outcome, herald_id, checksum, note FROM legacy_imports WHERE account_id = ",
                );
                query.push_bind(Id(account.as_uuid())).push(" AND kind = ").push_bind(kind.as_str());
                // The range keeps PostgreSQL on the primary key while the table grows faster
                // than its statistics (a list alone was planned as a scan of the whole table).
                let (first, last) = chunk.iter().fold((i64::MAX, i64::MIN), |(lo, hi), id| (lo.min(*id), hi.max(*id)));
                query.push(" AND legacy_id BETWEEN ").push_bind(first).push(" AND ").push_bind(last);
                query.push(" AND legacy_id IN (");
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                list.push_unseparated(")");
                for row in query.build().fetch_all(&mut *conn).await? {
                    let link = link(&row)?;
                    found.insert(link.legacy_id, link);
                }
            }
            Ok(found)
        }

        async fn put_links(
            conn: &mut Connection,
            account: AccountId,
            kind: LegacyKind,
            links: &[NewLink],
            at: DateTime<Utc>,
        ) -> StoreResult<()> {
            for chunk in links.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Db>::new(
                    "INSERT INTO legacy_imports (account_id, kind, legacy_id, herald_id, outcome, checksum, note,
                                                 imported_at) ",
                );
                query.push_values(chunk, |mut row, link| {
                    row.push_bind(Id(account.as_uuid()))
                        .push_bind(kind.as_str())
                        .push_bind(link.legacy_id)
                        .push_bind(link.herald_id.map(Id))
                        .push_bind(link.outcome.as_str())
                        .push_bind(link.checksum.clone())
                        .push_bind(link.note.clone())
                        .push_bind(At(at));
                });
                query.push(
                    " ON CONFLICT (account_id, kind, legacy_id) DO UPDATE
                        SET herald_id = excluded.herald_id, outcome = excluded.outcome,
                            checksum = excluded.checksum, note = excluded.note,
                            imported_at = excluded.imported_at",
                );
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn finish(tx: sqlx::Transaction<'_, Db>, commit: bool) -> StoreResult<()> {
            if commit {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(())
        }

        pub(crate) async fn find_default_account(pool: &Pool<Db>) -> StoreResult<Option<AccountId>> {
            let row = sqlx::query("SELECT id FROM accounts WHERE is_default").fetch_optional(pool).await?;
            row.as_ref().map(|row| row.account_id("id")).transpose()
        }

        /// Writes a template row (`sql`: an insert or update returning it, binding `$11`
        /// onwards to `times`) and keeps its version.
        async fn write_template(
            tx: &mut sqlx::Transaction<'_, Db>,
            sql: &'static str,
            account: AccountId,
            id: TemplateId,
            content: &TemplateContent,
            times: &[DateTime<Utc>],
        ) -> StoreResult<TemplateWrite> {
            let mut query = queries::bind_template(sqlx::query(sql).bind(Id(id.as_uuid())).bind(Id(account.as_uuid())), content);
            for at in times {
                query = query.bind(At(*at));
            }
            let row = match query.fetch_optional(&mut **tx).await {
                Ok(Some(row)) => row,
                Ok(None) => return Ok(TemplateWrite::NotFound),
                Err(error) if queries::is_unique_violation(&error) => return Ok(TemplateWrite::NameTaken),
                Err(error) => return Err(error.into()),
            };
            let template = from_row::template(&row)?;
            queries::keep_version(tx, &template).await?;
            Ok(TemplateWrite::Done(Box::new(template)))
        }

        const INSERT_TEMPLATE: &str =
            "INSERT INTO templates (id, account_id, name, channel, subject, body, html, variables, category,
                                    transactional, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12) RETURNING *";

        const UPDATE_TEMPLATE: &str =
            "UPDATE templates SET name = $3, channel = $4, subject = $5, body = $6, html = $7,
                    variables = $8, category = $9, transactional = $10, version = version + 1,
                    updated_at = $11
             WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL RETURNING *";

        /// Ends a transaction that wrote nothing worth keeping: explicitly, so that a
        /// connection back in the pool never holds SQLite's write lock (a refused INSERT
        /// takes it) until its rollback runs.
        async fn rolled_back(tx: sqlx::Transaction<'_, Db>, outcome: TemplateImported) -> StoreResult<TemplateImported> {
            tx.rollback().await?;
            Ok(outcome)
        }

        pub(crate) async fn import_template(
            pool: &Pool<Db>,
            account: AccountId,
            import: &TemplateImport,
            at: DateTime<Utc>,
            commit: bool,
        ) -> StoreResult<TemplateImported> {
            let mut tx = pool.begin().await?;
            let existing =
                links_in(&mut tx, account, LegacyKind::Template, &[import.legacy_id]).await?.remove(&import.legacy_id);
            let new_link = |outcome, herald_id: Option<Uuid>, note: Option<String>| NewLink {
                legacy_id: import.legacy_id,
                outcome,
                herald_id,
                checksum: import.checksum.clone(),
                note,
            };
            let (done, link) = match (&existing, &import.content) {
                (Some(link), _) if link.checksum == import.checksum => return rolled_back(tx, TemplateImported::Unchanged).await,
                // Imported before and now invalid: herald keeps the version it has.
                (Some(LegacyLink { outcome: LegacyOutcome::Imported, .. }), Err(reason)) => {
                    return rolled_back(tx, TemplateImported::Skipped(reason.clone())).await
                }
                (_, Err(reason)) => {
                    (TemplateImported::Skipped(reason.clone()), new_link(LegacyOutcome::Skipped, None, Some(reason.clone())))
                }
                (Some(LegacyLink { outcome: LegacyOutcome::Imported, herald_id: Some(id), .. }), Ok(content)) => {
                    let id = TemplateId::from_uuid(*id);
                    match write_template(&mut tx, UPDATE_TEMPLATE, account, id, content, &[import.updated_at]).await? {
                        TemplateWrite::Done(template) => (
                            TemplateImported::Updated { id, version: template.version },
                            new_link(LegacyOutcome::Imported, Some(id.as_uuid()), import.note.clone()),
                        ),
                        TemplateWrite::NotFound => {
                            let reason = format!("changed since it was imported, but herald's template {id} was deleted");
                            return rolled_back(tx, TemplateImported::Skipped(reason)).await;
                        }
                        TemplateWrite::NameTaken => return rolled_back(tx, TemplateImported::NameTaken).await,
                    }
                }
                (_, Ok(content)) => {
                    let id = TemplateId::new();
                    let times = [import.created_at, import.updated_at];
                    match write_template(&mut tx, INSERT_TEMPLATE, account, id, content, &times).await? {
                        TemplateWrite::Done(_) => {
                            (TemplateImported::Created(id), new_link(LegacyOutcome::Imported, Some(id.as_uuid()), import.note.clone()))
                        }
                        TemplateWrite::NameTaken | TemplateWrite::NotFound => return rolled_back(tx, TemplateImported::NameTaken).await,
                    }
                }
            };
            put_links(&mut tx, account, LegacyKind::Template, &[link], at).await?;
            finish(tx, commit).await?;
            Ok(done)
        }

        pub(crate) async fn imported_templates(pool: &Pool<Db>, account: AccountId) -> StoreResult<Vec<(i64, TemplateUse)>> {
            let rows = sqlx::query(
                "SELECT l.legacy_id, t.id, t.version FROM legacy_imports l JOIN templates t ON t.id = l.herald_id
                 WHERE l.account_id = $1 AND l.kind = 'template' AND l.outcome = 'imported'
                   AND t.deleted_at IS NULL",
            )
            .bind(Id(account.as_uuid()))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let template = TemplateUse {
                        id: TemplateId::from_uuid(row.uuid("id")?),
                        version: u32::try_from(row.int("version")?).unwrap_or(u32::MAX),
                    };
                    Ok((row.int("legacy_id")?, template))
                })
                .collect()
        }

        pub(crate) async fn legacy_links(
            pool: &Pool<Db>,
            account: AccountId,
            kind: LegacyKind,
            ids: &[i64],
        ) -> StoreResult<Vec<LegacyLink>> {
            let mut conn = pool.acquire().await?;
            let mut links: Vec<LegacyLink> = links_in(&mut conn, account, kind, ids).await?.into_values().collect();
            links.sort_by_key(|link| link.legacy_id);
            Ok(links)
        }

        pub(crate) async fn users_of(pool: &Pool<Db>, account: AccountId, ids: &[String]) -> StoreResult<Vec<User>> {
            let mut users = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Db>::new("SELECT * FROM users WHERE NOT deleted AND account_id = ");
                query.push_bind(Id(account.as_uuid())).push(" AND user_id IN (");
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.clone());
                }
                list.push_unseparated(")");
                for row in query.build().fetch_all(pool).await? {
                    users.push(from_row::user(&row)?);
                }
            }
            Ok(users)
        }

        /// Messages of the account sent with any of `keys`: their ids by key (the oldest
        /// message of a key reused after its expiry).
        async fn dual_written(conn: &mut Connection, account: AccountId, keys: &[String]) -> StoreResult<HashMap<String, Uuid>> {
            let mut found = HashMap::new();
            for chunk in keys.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Db>::new("SELECT id, idempotency_key FROM messages WHERE account_id = ");
                query.push_bind(Id(account.as_uuid()));
                // The partial index's own predicate, so that it is used.
                query.push(" AND idempotency_key LIKE 'notificationlog-%' AND idempotency_key IN (");
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.clone());
                }
                list.push_unseparated(") ORDER BY id");
                for row in query.build().fetch_all(&mut *conn).await? {
                    found.entry(row.get::<String>("idempotency_key")?).or_insert(row.uuid("id")?);
                }
            }
            Ok(found)
        }

        async fn insert_history(conn: &mut Connection, account: AccountId, rows: &[(i64, &HistoryRow)]) -> StoreResult<()> {
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Db>::new(
                    "INSERT INTO messages (id, account_id, channel, recipient, body, user_id, reference,
                                           client_metadata, template_id, template_version, status, last_error,
                                           provider, created_at, updated_at, sent_at) ",
                );
                query.push_values(chunk, |mut values, (legacy_id, row)| {
                    values
                        .push_bind(Id(row.id.as_uuid()))
                        .push_bind(Id(account.as_uuid()))
                        .push_bind(row.channel)
                        .push_bind(row.recipient.clone())
                        .push("''")
                        .push_bind(row.user_id.clone())
                        .push_bind(legacy_key(*legacy_id))
                        .push_bind(row.metadata.clone().map(Json))
                        .push_bind(row.template.map(|t| Id(t.id.as_uuid())))
                        .push_bind(row.template.map(|t| i64::from(t.version)))
                        .push_bind(row.status)
                        .push_bind(row.last_error.clone())
                        .push_bind(LEGACY_PROVIDER)
                        .push_bind(At(row.created_at))
                        .push_bind(At(row.created_at))
                        .push_bind(row.sent_at.map(At));
                });
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// A changed legacy log: its message now says what the log says (the recipient
        /// stays as first imported).
        async fn update_history(
            conn: &mut Connection,
            account: AccountId,
            id: Uuid,
            row: &HistoryRow,
            at: DateTime<Utc>,
        ) -> StoreResult<()> {
            sqlx::query(
                "UPDATE messages SET channel = $1, user_id = $2, status = $3, last_error = $4, template_id = $5,
                        template_version = $6, client_metadata = $7, created_at = $8, sent_at = $9,
                        updated_at = $10
                 WHERE id = $11 AND account_id = $12",
            )
            .bind(row.channel)
            .bind(row.user_id.as_deref())
            .bind(row.status)
            .bind(row.last_error.as_deref())
            .bind(row.template.map(|t| Id(t.id.as_uuid())))
            .bind(row.template.map(|t| i64::from(t.version)))
            .bind(row.metadata.clone().map(Json))
            .bind(At(row.created_at))
            .bind(row.sent_at.map(At))
            .bind(At(at))
            .bind(Id(id))
            .bind(Id(account.as_uuid()))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        pub(crate) async fn import_logs(
            pool: &Pool<Db>,
            account: AccountId,
            batch: &[LogImport],
            at: DateTime<Utc>,
            commit: bool,
        ) -> StoreResult<Vec<LogImported>> {
            let mut tx = pool.begin().await?;
            let ids: Vec<i64> = batch.iter().map(|log| log.legacy_id).collect();
            let links = links_in(&mut tx, account, LegacyKind::Log, &ids).await?;
            let is_new = |log: &LogImport| {
                links.get(&log.legacy_id).is_none_or(|link| link.outcome == LegacyOutcome::Skipped)
            };
            let keys: Vec<String> =
                batch.iter().filter(|log| log.row.is_ok() && is_new(log)).map(|log| legacy_key(log.legacy_id)).collect();
            let dual = dual_written(&mut tx, account, &keys).await?;

            let mut inserts = Vec::new();
            let mut updates = Vec::new();
            let mut new_links = Vec::new();
            let mut outcomes = Vec::with_capacity(batch.len());
            for log in batch {
                let new_link = |outcome, herald_id: Option<Uuid>, note: Option<String>| NewLink {
                    legacy_id: log.legacy_id,
                    outcome,
                    herald_id,
                    checksum: log.checksum.clone(),
                    note,
                };
                let outcome = match (links.get(&log.legacy_id), &log.row) {
                    (Some(known), _) if known.checksum == log.checksum => LogImported::Unchanged,
                    (Some(LegacyLink { outcome: LegacyOutcome::Imported, herald_id: Some(id), .. }), Ok(row)) => {
                        updates.push((*id, row));
                        new_links.push(new_link(LegacyOutcome::Imported, Some(*id), None));
                        LogImported::Updated
                    }
                    // The monolith's own message: herald's state of it stands.
                    (Some(LegacyLink { outcome: LegacyOutcome::DualWritten, herald_id, .. }), Ok(_)) => {
                        new_links.push(new_link(LegacyOutcome::DualWritten, *herald_id, None));
                        LogImported::Unchanged
                    }
                    // Imported before and now invalid: the message stays as imported.
                    (Some(known), Err(_)) if known.outcome != LegacyOutcome::Skipped => LogImported::Skipped,
                    (_, Err(reason)) => {
                        new_links.push(new_link(LegacyOutcome::Skipped, None, Some(reason.clone())));
                        LogImported::Skipped
                    }
                    (_, Ok(row)) => match dual.get(&legacy_key(log.legacy_id)) {
                        Some(id) => {
                            new_links.push(new_link(LegacyOutcome::DualWritten, Some(*id), None));
                            LogImported::DualWritten
                        }
                        None => {
                            inserts.push((log.legacy_id, row));
                            new_links.push(new_link(LegacyOutcome::Imported, Some(row.id.as_uuid()), None));
                            LogImported::Imported
                        }
                    },
                };
                outcomes.push(outcome);
            }
            insert_history(&mut tx, account, &inserts).await?;
            for (id, row) in updates {
                update_history(&mut tx, account, id, row, at).await?;
            }
            put_links(&mut tx, account, LegacyKind::Log, &new_links, at).await?;
            finish(tx, commit).await?;
            Ok(outcomes)
        }

        pub(crate) async fn imported_logs(
            pool: &Pool<Db>,
            account: AccountId,
            after: i64,
            limit: u32,
        ) -> StoreResult<Vec<ImportedLog>> {
            let rows = sqlx::query(
                "SELECT l.legacy_id, l.outcome, m.id AS message_id, m.status, m.channel, m.user_id, m.sent_at
                 FROM legacy_imports l LEFT JOIN messages m ON m.id = l.herald_id AND m.account_id = l.account_id
                 WHERE l.account_id = $1 AND l.kind = 'log' AND l.legacy_id > $2
                 ORDER BY l.legacy_id LIMIT $3",
            )
            .bind(Id(account.as_uuid()))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let outcome: String = row.get("outcome")?;
                    let message = match row.opt_uuid("message_id")? {
                        Some(_) => Some(HistoryValues {
                            status: row.get("status")?,
                            channel: row.get("channel")?,
                            user_id: row.get("user_id")?,
                            sent_at: row.opt_time("sent_at")?,
                        }),
                        None => None,
                    };
                    Ok(ImportedLog {
                        legacy_id: row.int("legacy_id")?,
                        outcome: LegacyOutcome::parse(&outcome)
                            .ok_or_else(|| StoreError::Corrupt(format!("legacy_imports.outcome = {outcome:?}")))?,
                        message,
                    })
                })
                .collect()
        }

        pub(crate) async fn legacy_duplicates(pool: &Pool<Db>, account: AccountId) -> StoreResult<u64> {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM messages m
                 JOIN legacy_imports l ON l.account_id = m.account_id AND l.kind = 'log'
                                      AND m.idempotency_key = 'notificationlog-' || l.legacy_id
                 WHERE m.account_id = $1 AND m.idempotency_key LIKE 'notificationlog-%'
                   AND l.herald_id IS NOT NULL AND m.id <> l.herald_id",
            )
            .bind(Id(account.as_uuid()))
            .fetch_one(pool)
            .await?;
            Ok(u64::try_from(row.int("n")?).unwrap_or_default())
        }

        #[async_trait::async_trait]
        impl crate::ports::LegacyImportStore for $store {
            async fn find_default_account(&self) -> StoreResult<Option<AccountId>> {
                find_default_account(&self.pool).await
            }

            async fn import_template(
                &self,
                account: AccountId,
                import: &TemplateImport,
                at: DateTime<Utc>,
                commit: bool,
            ) -> StoreResult<TemplateImported> {
                import_template(&self.pool, account, import, at, commit).await
            }

            async fn imported_templates(&self, account: AccountId) -> StoreResult<Vec<(i64, TemplateUse)>> {
                imported_templates(&self.pool, account).await
            }

            async fn legacy_links(&self, account: AccountId, kind: LegacyKind, ids: &[i64]) -> StoreResult<Vec<LegacyLink>> {
                legacy_links(&self.pool, account, kind, ids).await
            }

            async fn users_of(&self, account: AccountId, ids: &[String]) -> StoreResult<Vec<User>> {
                users_of(&self.pool, account, ids).await
            }

            async fn import_logs(
                &self,
                account: AccountId,
                batch: &[LogImport],
                at: DateTime<Utc>,
                commit: bool,
            ) -> StoreResult<Vec<LogImported>> {
                import_logs(&self.pool, account, batch, at, commit).await
            }

            async fn imported_logs(&self, account: AccountId, after: i64, limit: u32) -> StoreResult<Vec<ImportedLog>> {
                imported_logs(&self.pool, account, after, limit).await
            }

            async fn legacy_duplicates(&self, account: AccountId) -> StoreResult<u64> {
                legacy_duplicates(&self.pool, account).await
            }
        }
    };
}

mod sqlite {
    legacy_import_queries!(sqlx::Sqlite, crate::store::sqlite::SqliteStore, sqlite);
}

mod postgres {
    legacy_import_queries!(sqlx::Postgres, crate::store::postgres::PgStore, postgres);
}
