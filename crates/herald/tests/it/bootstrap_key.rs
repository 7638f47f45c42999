//! `HERALD_BOOTSTRAP_API_KEY` as the sms-processor README uses it: its own short key
//! (`BigBird`) and its curl examples, pasted as they are.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use herald::{app::Roles, config::Secret};
use serde_json::{json, Value};

use crate::helpers::{on_both_backends, wait_until, Backend, KillOnDrop, TestApp};

/// The key, path, headers and bodies of the sms-processor README's two curl examples.
const README_KEY: &str = "BigBird";
const VALID_BODY: &str = r#"{"recipient":31633450007,"originator":"MB","message":"This is a test message."}"#;
const MISSING_ORIGINATOR_BODY: &str = r#"{"recipient":31633450007,"message":"This is a test message."}"#;

/// Sends one README example the way curl does (`-H` headers, `-d` body) and returns the
/// status and the JSON answer.
async fn curl_example(client: &reqwest::Client, base_url: &str, body: &'static str) -> (u16, Value) {
    let response = client
        .post(format!("{base_url}/sms"))
        .header("Content-Type", "application/json")
        .header("X-API-Key", README_KEY)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn assert_readme_examples_answer_as_documented(client: &reqwest::Client, base_url: &str) {
    let (status, answer) = curl_example(client, base_url, VALID_BODY).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"message": "Your SMS is being handled", "status": "ok"}));

    let (status, answer) = curl_example(client, base_url, MISSING_ORIGINATOR_BODY).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer,
        json!({
            "message": "'originator' field '' is invalid: 'Must be a phone number or an alpha numeric shorter or equal to 11 characters'",
            "status": "error"
        })
    );
}

on_both_backends!(the_readme_key_bigbird_is_accepted_and_its_curl_examples_work);

async fn the_readme_key_bigbird_is_accepted_and_its_curl_examples_work(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, Roles::ALL, |config| {
        config.bootstrap_api_key = Some(Secret::new(README_KEY));
    })
    .await
    else {
        return;
    };

    assert_readme_examples_answer_as_documented(&app.client, &app.base_url).await;

    let delivered = wait_until(Duration::from_secs(20), || async { app.mock.deliveries().len() == 1 }).await;
    assert!(delivered, "the valid example never reached the provider");
    assert_eq!(app.mock.deliveries()[0].body, "This is a test message.");
    let wrong = app.client.get(app.url("/api/v1/events")).header("X-API-Key", "BigBir").send().await.unwrap();
    assert_eq!(wrong.status(), 401, "a short key is still matched exactly");
}

fn herald_serve(dir: &std::path::Path, key: &str, log: std::fs::File) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_LISTEN", "127.0.0.1:0")
        .env("HERALD_BOOTSTRAP_API_KEY", key)
        .env("HERALD_MOCK_PROVIDER__SUCCESS_RATE", "1.0")
        .env("HERALD_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(log);
    command
}

/// `herald serve` with `HERALD_BOOTSTRAP_API_KEY=BigBird` starts, warns once that the key is
/// short (without logging it), and answers the README's curl examples with that key.
#[crate::harness::test]
async fn serve_with_the_readme_key_warns_that_it_is_short_and_answers_the_readme_examples() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("herald.log");
    let mut child = KillOnDrop(
        herald_serve(dir.path(), README_KEY, std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("herald starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let (mut base_url, mut key_line) = (None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("herald is listening on ") {
                base_url = Some(rest.trim().to_owned());
            }
            if line.trim_start().starts_with("API key:") {
                key_line = Some(line);
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (base_url, key_line)
    });
    let (base_url, key_line) =
        tokio::time::timeout(Duration::from_secs(60), banner).await.expect("banner in time").unwrap();
    let base_url = base_url.expect("banner names the address");
    let key_line = key_line.expect("banner says which key to use");
    assert!(key_line.contains("HERALD_BOOTSTRAP_API_KEY"), "{key_line}");

    assert_readme_examples_answer_as_documented(&reqwest::Client::new(), &base_url).await;
    assert!(child.terminate(Duration::from_secs(20)).await, "clean exit after SIGTERM");

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let warnings: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| {
            entry["level"] == "WARN"
                && entry["message"].as_str().is_some_and(|m| m.contains("HERALD_BOOTSTRAP_API_KEY is short"))
        })
        .collect();
    assert_eq!(warnings.len(), 1, "one start-up warning about the short key: {logs}");
    assert_eq!(warnings[0]["length"], 7);
    assert!(!logs.contains(README_KEY), "logs contain the key: {logs}");
}

/// An empty `HERALD_BOOTSTRAP_API_KEY` stops `herald serve` before it listens, naming the key.
#[crate::harness::test]
fn serve_refuses_an_empty_bootstrap_key() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("herald.log");
    let output = herald_serve(dir.path(), "", std::fs::File::create(&log_path).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success(), "herald started with an empty key");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`bootstrap_api_key` must not be empty"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("listening"), "it listened anyway");
    assert!(!dir.path().join("herald.db").exists(), "nothing is created for a refused configuration");
}
