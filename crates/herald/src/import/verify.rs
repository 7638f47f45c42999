//! `herald import-monolith --verify`: does herald hold what the monolith's tables say?
//!
//! - Templates: every legacy template has its `legacy_imports` row with the checksum of
//!   the legacy row as it is now (else it changed since, or was never imported), and an
//!   imported one is still a live herald template.
//! - Logs: both sides are read in legacy id order, page by page, side by side: the legacy
//!   log as the import would make it, and the message its mapping names as herald holds
//!   it now. Each gives a line `id|status|channel|user` (`skipped` for a log that cannot be
//!   imported, `missing` for a mapping whose message is gone), and per day of `sent_at`
//!   each side gets a count and a SHA-256 over its lines. A dual-written log is compared on
//!   presence, channel and user: its status and times are herald's own.
//! - Messages dual-written after their log was imported (a duplicate) are counted.
//!
//! Any difference is printed (the days, and the first legacy ids that differ) and makes
//! the command fail.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use anyhow::Context;
use chrono::{DateTime, Utc};
use herald_domain::{AccountId, Channel};
use sha2::{Digest, Sha256};

use super::{
    legacy::{self, LegacyLog},
    source::Source,
};
use crate::{
    model::{ImportedLog, LegacyKind, LegacyOutcome},
    ports::Store,
};

/// Differing legacy ids printed at most.
const SHOWN_IDS: usize = 20;
/// Differing days printed at most.
const SHOWN_DAYS: usize = 50;

pub async fn run(
    source: &Source,
    store: &dyn Store,
    since: Option<DateTime<Utc>>,
    page: u32,
) -> anyhow::Result<()> {
    let account = store
        .find_default_account()
        .await
        .context("could not read herald's database: run `herald migrate` and the import first")?;
    let mut problems = templates(source, store, account).await?;
    let channels = source.template_channels().await?;
    let logs = compare_logs(source, store, account, &channels, page).await?;
    problems.extend(logs.report(since));
    if let Some(account) = account {
        let duplicates = store.legacy_duplicates(account).await?;
        if duplicates > 0 {
            problems.push(format!(
                "{duplicates} messages carry the key of a log that was imported as another message (dual-written after the import)"
            ));
        }
    }
    if problems.is_empty() {
        println!("verify: herald holds what the monolith's tables say");
        return Ok(());
    }
    for problem in &problems {
        println!("  {problem}");
    }
    anyhow::bail!("verify found {} differences between the monolith and herald", problems.len())
}

/// Checks the templates; returns what differs.
async fn templates(
    source: &Source,
    store: &dyn Store,
    account: Option<AccountId>,
) -> anyhow::Result<Vec<String>> {
    let live: HashSet<i64> = match account {
        Some(account) => store.imported_templates(account).await?.into_iter().map(|(id, _)| id).collect(),
        None => HashSet::new(),
    };
    let (mut read, mut imported, mut skipped) = (0, 0, 0);
    let mut problems = Vec::new();
    let mut after = 0;
    loop {
        let page = source.templates(after, None, 100).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<i64> = page.iter().map(|t| t.id).collect();
        let links: HashMap<i64, _> = match account {
            Some(account) => store
                .legacy_links(account, LegacyKind::Template, &ids)
                .await?
                .into_iter()
                .map(|link| (link.legacy_id, link))
                .collect(),
            None => HashMap::new(),
        };
        for template in &page {
            read += 1;
            let id = template.id;
            match links.get(&id) {
                None => problems.push(format!("template {id}: not imported")),
                Some(link) if link.checksum != legacy::template_checksum(template) => {
                    problems.push(format!("template {id}: changed in the monolith since it was imported"));
                }
                Some(link) if link.outcome == LegacyOutcome::Skipped => skipped += 1,
                Some(_) if !live.contains(&id) => {
                    problems.push(format!("template {id}: herald's template was deleted"));
                }
                Some(_) => imported += 1,
            }
        }
    }
    println!("verify: templates: {read} in the monolith; herald: {imported} imported, {skipped} skipped as invalid");
    Ok(problems)
}

/// One side's rows of one day.
#[derive(Debug, Default)]
struct Side {
    count: u64,
    hash: Sha256,
}

impl Side {
    fn add(&mut self, line: &str) {
        self.count += 1;
        self.hash.update(line.as_bytes());
    }

    fn digest(self) -> (u64, String) {
        (self.count, hex::encode(self.hash.finalize()))
    }
}

#[derive(Debug, Default)]
struct Day {
    source: Side,
    herald: Side,
}

/// What the comparison of the logs found.
#[derive(Debug, Default)]
struct LogComparison {
    days: BTreeMap<String, Day>,
    source: u64,
    imported: u64,
    dual_written: u64,
    skipped: u64,
    missing: u64,
    /// Legacy ids whose lines (or days) differ, the first few, and how many in all.
    differing: Vec<i64>,
    differing_total: u64,
}

fn day(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "undated".to_owned(), |at| at.format("%Y-%m-%d").to_string())
}

impl LogComparison {
    /// Adds one legacy id: the legacy log (if the monolith has it) and what herald holds
    /// for it (if anything).
    fn add(
        &mut self,
        log: Option<&LegacyLog>,
        held: Option<&ImportedLog>,
        channels: &HashMap<i64, Option<Channel>>,
    ) {
        let dual = held.is_some_and(|held| held.outcome == LegacyOutcome::DualWritten);
        let expected = log.map(|log| (legacy::expected_line(log, channels, dual), day(log.sent_at)));
        let actual = held.map(|held| {
            let id = held.legacy_id;
            let source_day =
                || expected.as_ref().map_or_else(|| "undated".to_owned(), |(_, day)| day.clone());
            match (&held.message, held.outcome) {
                (_, LegacyOutcome::Skipped) => {
                    self.skipped += 1;
                    (format!("{id}|skipped\n"), source_day())
                }
                (None, _) => {
                    self.missing += 1;
                    (format!("{id}|missing\n"), source_day())
                }
                (Some(message), LegacyOutcome::DualWritten) => {
                    self.dual_written += 1;
                    let line = legacy::verify_line(id, "*", message.channel, message.user_id.as_deref());
                    (line, source_day())
                }
                (Some(message), LegacyOutcome::Imported) => {
                    self.imported += 1;
                    let line = legacy::verify_line(
                        id,
                        message.status.as_str(),
                        message.channel,
                        message.user_id.as_deref(),
                    );
                    (line, day(message.sent_at))
                }
            }
        });
        if let Some((line, day)) = &expected {
            self.source += 1;
            self.days.entry(day.clone()).or_default().source.add(line);
        }
        if let Some((line, day)) = &actual {
            self.days.entry(day.clone()).or_default().herald.add(line);
        }
        if expected != actual {
            self.differing_total += 1;
            if self.differing.len() < SHOWN_IDS {
                self.differing.push(log.map_or_else(|| held.map_or(0, |h| h.legacy_id), |log| log.id));
            }
        }
    }

    /// Prints the counts; returns the differences (only of days from `since` on, if given).
    fn report(self, since: Option<DateTime<Utc>>) -> Vec<String> {
        println!(
            "verify: logs: {} in the monolith; herald: {} imported, {} dual-written, {} skipped as invalid, {} missing",
            self.source, self.imported, self.dual_written, self.skipped, self.missing
        );
        let from = since.map(|since| since.format("%Y-%m-%d").to_string());
        let mut compared = 0;
        let mut differing_days = Vec::new();
        for (day, sides) in self.days {
            if from.as_ref().is_some_and(|from| day != "undated" && day < *from) {
                continue;
            }
            compared += 1;
            let (source, herald) = (sides.source.digest(), sides.herald.digest());
            if source != herald {
                differing_days.push(format!(
                    "{day}: monolith {} rows {}, herald {} rows {}",
                    source.0,
                    &source.1[..12],
                    herald.0,
                    &herald.1[..12]
                ));
            }
        }
        println!("verify: {compared} days compared, {} differ", differing_days.len());
        let mut problems = Vec::new();
        if differing_days.is_empty() {
            return problems;
        }
        let more = differing_days.len().saturating_sub(SHOWN_DAYS);
        problems.extend(differing_days.into_iter().take(SHOWN_DAYS));
        if more > 0 {
            problems.push(format!("... and {more} more days"));
        }
        let ids: Vec<String> = self.differing.iter().map(ToString::to_string).collect();
        problems.push(format!(
            "{} logs differ; the first: legacy ids {}",
            self.differing_total,
            ids.join(", ")
        ));
        problems
    }
}

/// One side's rows in legacy id order, a page at a time.
struct Paged<T> {
    rows: VecDeque<T>,
    after: i64,
    done: bool,
}

impl<T> Paged<T> {
    fn new() -> Self {
        Self { rows: VecDeque::new(), after: 0, done: false }
    }

    fn needs_page(&self) -> bool {
        self.rows.is_empty() && !self.done
    }

    fn take_page(&mut self, page: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) {
        self.done = page.len() < limit as usize;
        if let Some(last) = page.last() {
            self.after = id(last);
        }
        self.rows.extend(page);
    }
}

async fn compare_logs(
    source: &Source,
    store: &dyn Store,
    account: Option<AccountId>,
    channels: &HashMap<i64, Option<Channel>>,
    limit: u32,
) -> anyhow::Result<LogComparison> {
    let mut comparison = LogComparison::default();
    let mut legacy_rows: Paged<LegacyLog> = Paged::new();
    let mut held_rows: Paged<ImportedLog> = Paged::new();
    held_rows.done = account.is_none();
    loop {
        if legacy_rows.needs_page() {
            let page = source.logs(legacy_rows.after, None, limit).await?;
            legacy_rows.take_page(page, limit, |log| log.id);
        }
        if let (true, Some(account)) = (held_rows.needs_page(), account) {
            let page = store.imported_logs(account, held_rows.after, limit).await?;
            held_rows.take_page(page, limit, |held| held.legacy_id);
        }
        let next_legacy = legacy_rows.rows.front().map(|log| log.id);
        let next_held = held_rows.rows.front().map(|held| held.legacy_id);
        let (log, held) = match (next_legacy, next_held) {
            (None, None) => break,
            (Some(a), Some(b)) if a == b => (legacy_rows.rows.pop_front(), held_rows.rows.pop_front()),
            (Some(a), Some(b)) if a < b => (legacy_rows.rows.pop_front(), None),
            (Some(_), None) => (legacy_rows.rows.pop_front(), None),
            _ => (None, held_rows.rows.pop_front()),
        };
        comparison.add(log.as_ref(), held.as_ref(), channels);
    }
    Ok(comparison)
}
