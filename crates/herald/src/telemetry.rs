//! Logging: human-readable for a terminal, JSON (`HERALD_LOG_FORMAT=json`) for machines.
//! The filter comes from `HERALD_LOG` (or `RUST_LOG`), default `info`.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = std::env::var("HERALD_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}

/// Logs of warnings and errors into the test harness's captured output (shown for failing
/// tests only).
pub fn init_for_tests() {
    let _ = fmt().with_env_filter(EnvFilter::new("warn,sqlx=error")).with_test_writer().try_init();
}
