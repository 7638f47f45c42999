//! `herald import-monolith`: copies the monolith's notification templates and log into
//! herald's templates and history (ADR 0023, MIGRATION.md).
//!
//! - **Idempotent.** Every legacy row gets a `legacy_imports` row (by legacy id) in the
//!   transaction that imports it; a re-run skips what is there and changes nothing. A
//!   legacy row that changed since (its checksum) is imported again: a template becomes
//!   the next version, a log updates its message.
//! - **Resumable.** Logs are read in id order, a page at a time, and each page is one
//!   transaction (messages and mapping rows together): a run killed at any point leaves
//!   whole pages, and the next run goes on from what the mapping says.
//! - **Dual write.** A log whose key `notificationlog-<id>` is already on a message (the
//!   monolith sent it through the API) is recorded as dual-written, never inserted again.
//! - **History, not news.** Messages are inserted terminal (`sent`, `failed`, ...), with
//!   no `next_attempt_at` and no outbox events: workers never claim them and consumers
//!   never hear of them. Their provider is `monolith`, which dead letters leave out.
//!
//! `--since` looks only at logs sent from then on (and templates changed since),
//! `--dry-run` runs every batch and rolls it back, `--verify` compares (see [`verify`]).

mod legacy;
mod source;
mod verify;

use std::{
    collections::{BTreeMap, HashMap},
    time::Instant,
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use herald_domain::AccountId;

use crate::{
    app,
    config::Config,
    model::{LogImport, LogImported, TemplateImport, TemplateImported},
    ports::Store,
};
use legacy::{LegacyTemplate, LogContext};
use source::Source;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The monolith's PostgreSQL database (postgres://...), read only. Better given in the
    /// environment: a password on the command line shows in the process list.
    #[arg(long, env = "HERALD_IMPORT_SOURCE", hide_env_values = true)]
    pub source: String,
    /// Only logs sent at or after this time (RFC 3339, e.g. 2025-01-31T00:00:00Z) and
    /// templates created or changed since: the catch-up during dual write. With --verify:
    /// compare only the days from this one on.
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Read and check everything and print what a run would do; write nothing (every
    /// batch runs in a transaction that is rolled back).
    #[arg(long, conflicts_with = "verify")]
    pub dry_run: bool,
    /// Compare the monolith's tables with what herald holds (counts, and per day of
    /// sent_at a count and a checksum); print the days that differ and exit non-zero if any do.
    #[arg(long)]
    pub verify: bool,
    /// Logs per transaction.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub batch_size: u32,
}

/// Runs the command against the database `config` names.
pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let source = Source::connect(&args.source).await?;
    // Only a real run migrates: a dry run and a verification write nothing at all.
    let store = if args.dry_run || args.verify {
        crate::store::connect(&config.database_url).await.with_context(|| {
            format!("could not open the database ({})", app::redact_url(&config.database_url))
        })?
    } else {
        app::open_store(config).await?
    };
    let outcome = if args.verify {
        verify::run(&source, store.as_ref(), args.since, args.batch_size).await
    } else {
        import(&source, store.as_ref(), &args).await
    };
    store.close().await;
    source.close().await;
    outcome
}

async fn import(source: &Source, store: &dyn Store, args: &ImportArgs) -> anyhow::Result<()> {
    let commit = !args.dry_run;
    let (account, _lease) = if commit {
        let lease = store
            .try_singleton("import-monolith")
            .await?
            .context("another herald import-monolith is running on this database")?;
        (Some(store.ensure_default_account().await?), Some(lease))
    } else {
        let account = store.find_default_account().await.context(
            "could not read herald's database: run `herald migrate` first (a dry run writes nothing, migrations included)",
        )?;
        (account, None)
    };
    if args.dry_run {
        println!("dry run: every batch is rolled back, nothing is written");
    }
    let since = args.since.map_or_else(String::new, |since| format!(" sent since {}", since.to_rfc3339()));
    println!("importing the monolith's notification templates and logs{since}");
    let templates = import_templates(source, store, account, args.since, commit).await?;
    templates.print(args.dry_run);
    let logs = import_logs(source, store, account, args).await?;
    logs.print(args.dry_run);
    Ok(())
}

/// What happened to the templates, for the summary.
#[derive(Debug, Default)]
struct TemplateTally {
    read: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    /// Legacy id, name wanted and name given.
    renamed: Vec<(i64, String, String)>,
    skipped: Vec<(i64, String)>,
}

impl TemplateTally {
    fn print(&self, dry_run: bool) {
        let would = if dry_run { "would be " } else { "" };
        println!(
            "templates: {} read, {} {would}imported, {} {would}updated (a new version), {} unchanged, {} skipped",
            self.read,
            self.created,
            self.updated,
            self.unchanged,
            self.skipped.len()
        );
        for (id, wanted, given) in &self.renamed {
            println!("  template {id} is named {given:?}: {wanted:?} is taken");
        }
        for (id, reason) in &self.skipped {
            println!("  template {id} skipped: {reason}");
        }
    }
}

async fn import_templates(
    source: &Source,
    store: &dyn Store,
    account: Option<AccountId>,
    since: Option<DateTime<Utc>>,
    commit: bool,
) -> anyhow::Result<TemplateTally> {
    let mut tally = TemplateTally::default();
    let mut after = 0;
    loop {
        let page = source.templates(after, since, 100).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for template in &page {
            tally.read += 1;
            let (outcome, name) = import_template(store, account, template, commit).await?;
            let wanted = legacy::template_name(template);
            match outcome {
                TemplateImported::Created(_) | TemplateImported::Updated { .. } if name != wanted => {
                    tally.renamed.push((template.id, wanted, name));
                }
                _ => {}
            }
            match outcome {
                TemplateImported::Created(_) => tally.created += 1,
                TemplateImported::Updated { .. } => tally.updated += 1,
                TemplateImported::Unchanged => tally.unchanged += 1,
                TemplateImported::Skipped(reason) => tally.skipped.push((template.id, reason)),
                TemplateImported::NameTaken => unreachable!("import_template tries the other name"),
            }
        }
    }
    Ok(tally)
}

/// Imports one template under its own name, or `<name>-legacy-<id>` when that is taken.
/// Returns what happened and the name it has.
async fn import_template(
    store: &dyn Store,
    account: Option<AccountId>,
    template: &LegacyTemplate,
    commit: bool,
) -> anyhow::Result<(TemplateImported, String)> {
    let wanted = legacy::template_name(template);
    let fallback = legacy::renamed(&wanted, template.id);
    let now = Utc::now();
    for name in [&wanted, &fallback] {
        let content = legacy::template_content(template, name);
        let Some(account) = account else {
            // A dry run on a herald that has no account yet: everything valid is new.
            let outcome = match content {
                Ok(_) => TemplateImported::Created(herald_domain::TemplateId::new()),
                Err(reason) => TemplateImported::Skipped(reason),
            };
            return Ok((outcome, name.clone()));
        };
        let import = TemplateImport {
            legacy_id: template.id,
            checksum: legacy::template_checksum(template),
            content,
            created_at: template.created_at.or(template.updated_at).unwrap_or(now),
            updated_at: template.updated_at.or(template.created_at).unwrap_or(now),
            note: (name != &wanted).then(|| format!("named {name:?}: {wanted:?} is taken")),
        };
        match store.import_template(account, &import, now, commit).await? {
            TemplateImported::NameTaken => continue,
            outcome => return Ok((outcome, name.clone())),
        }
    }
    let reason = format!("the names {wanted:?} and {fallback:?} are both taken");
    Ok((TemplateImported::Skipped(reason), wanted))
}

/// What happened to the logs, for the progress lines and the summary.
#[derive(Debug, Default)]
struct LogTally {
    read: u64,
    imported: u64,
    updated: u64,
    unchanged: u64,
    dual_written: u64,
    /// Reason, how many, and the first few legacy ids.
    skipped: BTreeMap<String, (u64, Vec<i64>)>,
    skipped_total: u64,
    seconds: f64,
}

impl LogTally {
    fn add(&mut self, batch: &[LogImport], outcomes: &[LogImported]) {
        for (log, outcome) in batch.iter().zip(outcomes) {
            self.read += 1;
            match outcome {
                LogImported::Imported => self.imported += 1,
                LogImported::Updated => self.updated += 1,
                LogImported::Unchanged => self.unchanged += 1,
                LogImported::DualWritten => self.dual_written += 1,
                LogImported::Skipped => {
                    self.skipped_total += 1;
                    let reason = match &log.row {
                        Err(reason) => reason.clone(),
                        Ok(_) => {
                            "changed in the monolith since it was imported, and no longer importable".into()
                        }
                    };
                    let entry = self.skipped.entry(reason).or_default();
                    entry.0 += 1;
                    if entry.1.len() < 5 {
                        entry.1.push(log.legacy_id);
                    }
                }
            }
        }
    }

    fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.read as f64 / self.seconds
        } else {
            0.0
        }
    }

    fn counts(&self) -> String {
        format!(
            "{} imported, {} dual-written, {} updated, {} already present, {} skipped",
            self.imported, self.dual_written, self.updated, self.unchanged, self.skipped_total
        )
    }

    fn print(&self, dry_run: bool) {
        let would = if dry_run { " (would be)" } else { "" };
        println!("logs{would}: {} read, {}", self.read, self.counts());
        for (reason, (count, ids)) in &self.skipped {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            println!(
                "  {count} skipped: {reason} (legacy ids {}{})",
                ids.join(", "),
                if *count > 5 { ", ..." } else { "" }
            );
        }
        println!("{} rows in {:.1} s: {:.0} rows/s", self.read, self.seconds, self.rate());
    }
}

async fn import_logs(
    source: &Source,
    store: &dyn Store,
    account: Option<AccountId>,
    args: &ImportArgs,
) -> anyhow::Result<LogTally> {
    let commit = !args.dry_run;
    let mut context =
        LogContext { template_channels: source.template_channels().await?, ..LogContext::default() };
    if let Some(account) = account {
        context.templates = store.imported_templates(account).await?.into_iter().collect();
    }
    let total = source.count_logs(args.since).await?;
    let started = Instant::now();
    let mut tally = LogTally::default();
    let mut after = 0;
    let mut batches = 0;
    loop {
        let page = source.logs(after, args.since, args.batch_size).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        context.users = match account {
            Some(account) => {
                let mut ids: Vec<String> =
                    page.iter().filter_map(|log| log.user_id.map(|id| id.to_string())).collect();
                ids.sort_unstable();
                ids.dedup();
                store
                    .users_of(account, &ids)
                    .await?
                    .into_iter()
                    .map(|u| (u.user_id.as_str().to_owned(), u))
                    .collect()
            }
            None => HashMap::new(),
        };
        let mut batch = Vec::with_capacity(page.len());
        for log in &page {
            let created_at = match log.sent_at {
                Some(at) => at,
                None => source.dated_before(log.id).await?.unwrap_or(DateTime::UNIX_EPOCH),
            };
            batch.push(legacy::log_import(log, &context, created_at));
        }
        let outcomes = match account {
            Some(account) => store.import_logs(account, &batch, Utc::now(), commit).await?,
            None => batch
                .iter()
                .map(|log| if log.row.is_ok() { LogImported::Imported } else { LogImported::Skipped })
                .collect(),
        };
        tally.add(&batch, &outcomes);
        tally.seconds = started.elapsed().as_secs_f64();
        batches += 1;
        println!(
            "batch {batches}: up to legacy id {after}, {} of {total} read; {}; {:.0} rows/s",
            tally.read,
            tally.counts(),
            tally.rate()
        );
    }
    tally.seconds = started.elapsed().as_secs_f64();
    Ok(tally)
}
