//! `herald bench`: drives messages through a real herald and a real provider over HTTP,
//! and reports intake rate, drain rate, end-to-end latency and the server's peak RSS.
//!
//! It starts everything itself: a `herald mock-provider` server in this process, and
//! herald as child processes of this same binary, on the database given (a fresh SQLite
//! file by default). Two modes:
//! - `backlog` (default): `herald api` takes all messages, then stops; `herald worker`
//!   drains the whole backlog. Measures intake and drain capacity separately.
//! - `live`: one `herald serve` takes messages while it drains them, as in production;
//!   measures end-to-end latency (request sent -> provider received it).
//! - `amqp`: `SendSms` commands go onto RabbitMQ, one `herald serve` consumes them, sends
//!   them and publishes `sms.sent`; the bench counts the events off the exchange. Measures
//!   commands/s end to end (queue in, provider, event out) and their latency.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::{stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::mock_provider::{self, Knobs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Backlog,
    Live,
    Amqp,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Messages to send.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// Provider latency per send, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of provider calls answered 500 (retryable), spread evenly over the calls; the
    /// drain then ends when every message is sent or failed after its retries.
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Concurrent HTTP requests during intake.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Database (default: a fresh SQLite file in a temporary directory). Use an empty one.
    #[arg(long)]
    pub database_url: Option<String>,
    #[arg(long, value_enum, default_value_t = Mode::Backlog)]
    pub mode: Mode,
    /// RabbitMQ for `--mode amqp`; the bench uses queues and an exchange of its own names.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub amqp_url: String,
    /// Extra `KEY=VALUE` environment for the herald processes, e.g. HERALD_DISPATCH__BATCH_SIZE=1000.
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| "expected KEY=VALUE".into())
}

const BENCH_KEY: &str = "bench-key-0123456789";

struct Herald {
    child: Child,
    base_url: Option<String>,
}

impl Herald {
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
    }

    fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        self.child.wait()?;
        Ok(())
    }
}

fn start_herald(
    role: &str,
    database_url: &str,
    provider_url: &str,
    extra: &[(String, String)],
) -> anyhow::Result<Herald> {
    use std::io::BufRead;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg(role)
        .env("HERALD_DATABASE_URL", database_url)
        .env("HERALD_LISTEN", "127.0.0.1:0")
        .env("HERALD_BOOTSTRAP_API_KEY", BENCH_KEY)
        // The bench measures what herald takes, not the key's rate limit (ADR 0022).
        .env("HERALD_API__RATE_LIMIT__REQUESTS_PER_SECOND", "0")
        .env("HERALD_PROVIDER__KIND", "http")
        .env("HERALD_PROVIDER__HTTP__NAME", "bench")
        .env("HERALD_PROVIDER__HTTP__URL", format!("{provider_url}/messages"))
        .env("HERALD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in extra {
        command.env(key, value);
    }
    let mut child = command.spawn().context("could not start herald")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut base_url = None;
    let mut lines = std::io::BufReader::new(stdout).lines();
    if role != "worker" {
        for line in lines.by_ref() {
            if let Some(url) = line?.strip_prefix("herald is listening on ") {
                base_url = Some(url.trim().to_owned());
                break;
            }
        }
        anyhow::ensure!(base_url.is_some(), "herald {role} did not start");
    }
    // Keep reading, so the child never writes into a closed or full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Herald { child, base_url })
}

/// Sends every message; returns each message id with the time its request was sent.
async fn intake(base_url: &str, args: &BenchArgs) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let url = format!("{base_url}/api/v1/notifications/send");
    let results: Vec<anyhow::Result<(String, DateTime<Utc>)>> = stream::iter(0..args.messages)
        .map(|n| {
            let (client, url) = (&client, &url);
            async move {
                let started = Utc::now();
                let response = client
                    .post(url)
                    .header("X-API-Key", BENCH_KEY)
                    .json(&serde_json::json!({"channel": "sms", "to": "+31633450007", "body": format!("bench {n}")}))
                    .send()
                    .await?;
                anyhow::ensure!(response.status() == 202, "intake answered {}", response.status());
                let body: serde_json::Value = response.json().await?;
                Ok((body["id"].as_str().context("no id")?.to_owned(), started))
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Polls until every message is final; fails if herald exits first.
async fn wait_all_sent(
    store: &Arc<dyn crate::ports::Store>,
    count: u64,
    herald: &mut Herald,
) -> anyhow::Result<crate::model::StatusCounts> {
    loop {
        let counts = store.status_counts().await?;
        if counts.sent + counts.failed >= count {
            return Ok(counts);
        }
        if let Some(status) = herald.child.try_wait()? {
            anyhow::bail!("herald exited ({status}) before the drain ended: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let temp = tempfile_dir()?;
    let database_url =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", temp.join("bench.db").display()));
    let store = crate::store::connect(&database_url).await?;
    store.migrate().await?;
    anyhow::ensure!(
        store.status_counts().await?.total() == 0,
        "the database is not empty; give bench a fresh one"
    );

    anyhow::ensure!((0.0..=1.0).contains(&args.failure_rate), "--failure-rate must be between 0 and 1");
    let listener = mock_provider::bind("127.0.0.1:0".parse()?).await?;
    let provider_url = format!("http://{}", listener.local_addr()?);
    let stop_provider = CancellationToken::new();
    tokio::spawn(mock_provider::serve(
        listener,
        Knobs {
            latency_ms: args.latency_ms,
            failure_rate: args.failure_rate,
            even: true,
            ..Knobs::default()
        },
        stop_provider.clone(),
    ));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "herald bench: {} messages, provider latency {} ms, {} mode, {} cores, {}",
        args.messages,
        args.latency_ms,
        match args.mode {
            Mode::Backlog => "backlog",
            Mode::Live => "live",
            Mode::Amqp => "amqp",
        },
        cores,
        crate::app::redact_url(&database_url)
    );

    let count = args.messages as u64;
    if args.mode == Mode::Amqp {
        let outcome = amqp::run(&args, &database_url, &provider_url).await;
        let received: Vec<mock_provider::Received> =
            reqwest::get(format!("{provider_url}/messages")).await?.json().await?;
        stop_provider.cancel();
        println!("  provider saw {} sends for {count} commands", received.len());
        store.close().await;
        let _ = std::fs::remove_dir_all(&temp);
        return outcome;
    }
    let mut peak_rss = Vec::new();
    let (intake_secs, drain_secs, sent_times) = match args.mode {
        Mode::Amqp => unreachable!("handled above"),
        Mode::Backlog => {
            let api = start_herald("api", &database_url, &provider_url, &args.env)?;
            let started = Instant::now();
            let accepted = intake(api.base_url.as_deref().unwrap_or_default(), &args).await?;
            let intake_secs = started.elapsed().as_secs_f64();
            peak_rss.push(("api", api.peak_rss_kib()));
            api.stop()?;
            let mut worker = start_herald("worker", &database_url, &provider_url, &args.env)?;
            let started = Instant::now();
            let counts = wait_all_sent(&store, count, &mut worker).await?;
            let drain_secs = started.elapsed().as_secs_f64();
            peak_rss.push(("worker", worker.peak_rss_kib()));
            worker.stop()?;
            anyhow::ensure!(
                counts.failed == 0 || args.failure_rate > 0.0,
                "{} messages failed",
                counts.failed
            );
            if args.failure_rate > 0.0 {
                println!("  ended:   {} sent, {} failed after their retries", counts.sent, counts.failed);
            }
            (intake_secs, drain_secs, accepted)
        }
        Mode::Live => {
            let mut serve = start_herald("serve", &database_url, &provider_url, &args.env)?;
            let started = Instant::now();
            let accepted = intake(serve.base_url.as_deref().unwrap_or_default(), &args).await?;
            let intake_secs = started.elapsed().as_secs_f64();
            wait_all_sent(&store, count, &mut serve).await?;
            let total_secs = started.elapsed().as_secs_f64();
            peak_rss.push(("serve", serve.peak_rss_kib()));
            serve.stop()?;
            (intake_secs, total_secs, accepted)
        }
    };

    let received: Vec<mock_provider::Received> =
        reqwest::get(format!("{provider_url}/messages")).await?.json().await?;
    let provider_stats: mock_provider::Stats =
        reqwest::get(format!("{provider_url}/stats")).await?.json().await?;
    stop_provider.cancel();
    let sent_at: HashMap<&str, DateTime<Utc>> =
        sent_times.iter().map(|(id, at)| (id.as_str(), *at)).collect();
    let mut latencies: Vec<f64> = received
        .iter()
        .filter_map(|r| {
            let requested = sent_at.get(r.reference.as_deref()?)?;
            Some((r.received_at - *requested).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let duplicates = received.len().saturating_sub(sent_times.len());

    println!(
        "  intake:  {:>9.0} messages/s  ({count} in {intake_secs:.2} s, HTTP, {} concurrent)",
        count as f64 / intake_secs,
        args.concurrency
    );
    match args.mode {
        Mode::Backlog => println!(
            "  drain:   {:>9.0} messages/s  ({count} in {drain_secs:.2} s, backlog drained by one worker)",
            count as f64 / drain_secs
        ),
        Mode::Live | Mode::Amqp => println!(
            "  total:   {:>9.0} messages/s  ({count} accepted and sent in {drain_secs:.2} s)",
            count as f64 / drain_secs
        ),
    }
    println!(
        "  end-to-end latency (request sent -> provider received): p50 {:.1} ms, p99 {:.1} ms{}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        if args.mode == Mode::Backlog { "  [backlog mode: includes waiting for intake to end]" } else { "" }
    );
    for (role, rss) in peak_rss {
        match rss {
            Some(kib) => println!("  peak RSS of herald {role}: {:.1} MiB", kib as f64 / 1024.0),
            None => println!("  peak RSS of herald {role}: unknown (no /proc)"),
        }
    }
    println!("  provider saw {} sends for {count} messages ({duplicates} duplicates)", received.len());
    println!(
        "  provider calls: {}, TCP connections opened: {}, most calls in flight at once: {}",
        provider_stats.calls, provider_stats.connections, provider_stats.peak_in_flight
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("herald-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `--mode amqp`: commands in through RabbitMQ, events out through RabbitMQ.
mod amqp {
    use std::{collections::HashMap, time::Instant};

    use anyhow::Context;
    use futures::StreamExt;
    use lapin::{
        options::{
            BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
            QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
        },
        types::{FieldTable, ShortString},
        BasicProperties,
    };

    use super::{percentile, start_herald, BenchArgs};
    use crate::{amqp::Topology, config::AmqpConfig};

    /// Commands published before their confirms are awaited.
    const PUBLISH_WINDOW: usize = 1_000;

    pub async fn run(args: &BenchArgs, database_url: &str, provider_url: &str) -> anyhow::Result<()> {
        let prefix = format!("bench-{}", &uuid::Uuid::now_v7().simple().to_string()[16..]);
        let config = AmqpConfig {
            command_queue: format!("{prefix}.send_sms"),
            command_dead_letter_queue: format!("{prefix}.send_sms.dead"),
            events_exchange: format!("{prefix}.events"),
            unrouted_events_queue: format!("{prefix}.events.unrouted"),
            dead_letter_exchange: format!("{prefix}.dead_letters"),
            ..AmqpConfig::default()
        };
        let connection = crate::amqp::connect(&args.amqp_url, "herald bench")
            .await
            .with_context(|| format!("RabbitMQ at {}", crate::app::redact_url(&args.amqp_url)))?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        let topology = Topology::new(config.clone());
        topology.declare_commands(&channel).await?;
        topology.declare_events(&channel).await?;
        let events = channel
            .queue_declare(
                "",
                QueueDeclareOptions { exclusive: true, ..QueueDeclareOptions::default() },
                FieldTable::default(),
            )
            .await?;
        let events_queue = events.name().as_str().to_owned();
        channel
            .queue_bind(
                &events_queue,
                &config.events_exchange,
                "sms.sent",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut consumer = channel
            .basic_consume(
                &events_queue,
                "bench",
                BasicConsumeOptions { no_ack: true, ..BasicConsumeOptions::default() },
                FieldTable::default(),
            )
            .await?;

        let mut env = args.env.clone();
        for (key, value) in [
            ("HERALD_AMQP_URL", args.amqp_url.as_str()),
            ("HERALD_AMQP__COMMAND_QUEUE", &config.command_queue),
            ("HERALD_AMQP__COMMAND_DEAD_LETTER_QUEUE", &config.command_dead_letter_queue),
            ("HERALD_AMQP__EVENTS_EXCHANGE", &config.events_exchange),
            ("HERALD_AMQP__UNROUTED_EVENTS_QUEUE", &config.unrouted_events_queue),
            ("HERALD_AMQP__DEAD_LETTER_EXCHANGE", &config.dead_letter_exchange),
        ] {
            env.push((key.to_owned(), value.to_owned()));
        }
        let serve = start_herald("serve", database_url, provider_url, &env)?;

        let count = args.messages;
        let started = Instant::now();
        let publish = async {
            let mut published_at = Vec::with_capacity(count);
            for window in (0..count).collect::<Vec<_>>().chunks(PUBLISH_WINDOW) {
                let mut confirms = Vec::with_capacity(window.len());
                for n in window {
                    let body = serde_json::json!({
                        "phone_number": "+31633450007",
                        "sms_text": format!("bench {n}"),
                        "reference": format!("r{n}"),
                    });
                    let properties = BasicProperties::default()
                        .with_message_id(ShortString::from(format!("{prefix}-{n}")))
                        .with_delivery_mode(2);
                    published_at.push(started.elapsed());
                    confirms.push(
                        channel
                            .basic_publish(
                                "",
                                &config.command_queue,
                                BasicPublishOptions::default(),
                                body.to_string().as_bytes(),
                                properties,
                            )
                            .await?,
                    );
                }
                for confirm in confirms {
                    anyhow::ensure!(confirm.await?.is_ack(), "the broker refused a command");
                }
            }
            Ok::<_, anyhow::Error>((published_at, started.elapsed()))
        };
        let collect = async {
            let mut seen: HashMap<usize, std::time::Duration> = HashMap::with_capacity(count);
            let mut deliveries = 0usize;
            while seen.len() < count {
                let delivery = consumer.next().await.context("the event consumer stopped")??;
                deliveries += 1;
                let event: serde_json::Value = serde_json::from_slice(&delivery.data)?;
                let n =
                    event["payload"]["reference"].as_str().and_then(|r| r.strip_prefix('r')?.parse().ok());
                if let Some(n) = n {
                    seen.entry(n).or_insert_with(|| started.elapsed());
                }
            }
            Ok::<_, anyhow::Error>((seen, deliveries))
        };
        let (published, collected) = tokio::join!(publish, collect);
        let (published_at, publish_took) = published?;
        let (seen, deliveries) = collected?;
        let total = started.elapsed().as_secs_f64();
        let mut latencies: Vec<f64> =
            seen.iter().map(|(n, at)| (at.saturating_sub(published_at[*n])).as_secs_f64() * 1000.0).collect();
        latencies.sort_by(f64::total_cmp);
        let rss = serve.peak_rss_kib();
        serve.stop()?;

        println!(
            "  commands in:  {:>9.0} commands/s  ({count} published with confirms in {:.2} s)",
            count as f64 / publish_took.as_secs_f64(),
            publish_took.as_secs_f64()
        );
        println!(
            "  end to end:   {:>9.0} commands/s  ({count} commands -> provider -> sms.sent received, {total:.2} s)",
            count as f64 / total
        );
        println!(
            "  latency (command published -> sms.sent received): p50 {:.1} ms, p99 {:.1} ms",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99)
        );
        println!("  events received: {deliveries} for {count} commands ({} duplicates)", deliveries - count);
        if let Some(kib) = rss {
            println!("  peak RSS of herald serve: {:.1} MiB", kib as f64 / 1024.0);
        }
        for queue in [&config.command_queue, &config.command_dead_letter_queue, &config.unrouted_events_queue]
        {
            let _ = channel.queue_delete(queue, QueueDeleteOptions::default()).await;
        }
        for exchange in [&config.events_exchange, &config.unrouted_events_queue, &config.dead_letter_exchange]
        {
            let _ = channel.exchange_delete(exchange, ExchangeDeleteOptions::default()).await;
        }
        let _ = connection.close(200, "bench over").await;
        Ok(())
    }
}
