//! The `herald` binary as a new user meets it: `herald serve` on a fresh directory.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{json, Value};

use crate::helpers::{wait_until, KillOnDrop};

/// Starts `herald serve` with embedded defaults in an empty directory, reads the address
/// and the printed API key from its banner, sends an SMS with them, and stops it with
/// SIGTERM. Its debug-level JSON logs must show the phone number masked and never the
/// key, the number or the body.
#[crate::harness::test]
async fn serve_on_a_fresh_directory_prints_a_key_that_sends_an_sms_and_logs_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("herald.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HERALD_LISTEN", "127.0.0.1:0")
            .env("HERALD_MOCK_PROVIDER__SUCCESS_RATE", "1.0")
            .env("HERALD_LOG_FORMAT", "json")
            .env("HERALD_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("herald starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let (mut base_url, mut key) = (None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("herald is listening on ") {
                base_url = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.trim().strip_prefix("export HERALD_API_KEY=") {
                key = Some(rest.to_owned());
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (base_url, key)
    });
    let (base_url, key) =
        tokio::time::timeout(Duration::from_secs(60), banner).await.expect("banner in time").unwrap();
    let base_url = base_url.expect("banner names the address");
    let key = key.expect("banner prints a new API key");
    assert!(dir.path().join("herald.db").exists(), "the default SQLite file is created");

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base_url}/sms"))
        .header("X-API-Key", &key)
        .json(&json!({"recipient": 31633450007u64, "originator": "MB", "message": "This is a test message."}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events_url = format!("{base_url}/api/v1/events");
    let published = wait_until(Duration::from_secs(20), || async {
        let page: Value =
            client.get(&events_url).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        page["data"].as_array().is_some_and(|d| d.len() == 1 && d[0]["event_type"] == "sms.sent")
    })
    .await;
    assert!(published, "no sms.sent event");

    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exited = wait_until(Duration::from_secs(20), || {
        let exited = child.0.try_wait().unwrap();
        async move { exited.is_some() }
    })
    .await;
    assert!(exited, "herald did not stop on SIGTERM");
    assert!(child.0.wait().unwrap().success(), "clean exit after SIGTERM");

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("+316******07"), "the masked number is logged: {logs}");
    for secret in [key.as_str(), "31633450007", "This is a test message."] {
        assert!(!logs.contains(secret), "logs contain {secret:?}");
    }
}

/// `herald api-key create | list | revoke` against a fresh database.
#[crate::harness::test]
fn api_key_commands_create_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let herald = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
    };

    let (ok, created) = herald(&["api-key", "create", "--name", "ci"]);
    assert!(ok, "{created}");
    let id = created.split_whitespace().nth(2).unwrap().to_owned();
    let secret = created.lines().last().unwrap().trim().to_owned();
    assert!(secret.starts_with("hrld_"), "{created}");

    let (ok, listed) = herald(&["api-key", "list"]);
    assert!(ok);
    assert!(listed.contains(&id) && listed.contains("active"), "{listed}");
    assert!(!listed.contains(&secret), "list never shows a key");

    let (ok, _) = herald(&["api-key", "revoke", &id]);
    assert!(ok);
    let (_, listed) = herald(&["api-key", "list"]);
    assert!(listed.contains("revoked"), "{listed}");
    let (ok, _) = herald(&["api-key", "revoke", &id]);
    assert!(!ok, "revoking twice is an error");
}

/// `herald api-key create --rate-limit` and `set-rate-limit`: a key's own limit, shown by `list`.
#[crate::harness::test]
fn api_key_rate_limits_are_set_at_creation_changed_later_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let herald = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text.into_owned())
    };
    let listed_limit = |id: &str| {
        let (ok, listed) = herald(&["api-key", "list"]);
        assert!(ok, "{listed}");
        let line = listed.lines().find(|line| line.starts_with(id)).expect("the key is listed").to_owned();
        line.split_whitespace().nth(4).unwrap().to_owned()
    };

    let (ok, created) = herald(&["api-key", "create", "--name", "slow", "--rate-limit", "5/s"]);
    assert!(ok, "{created}");
    let id = created.split_whitespace().nth(2).unwrap().to_owned();
    assert_eq!(listed_limit(&id), "5/s");

    let (ok, output) = herald(&["api-key", "set-rate-limit", &id, "default"]);
    assert!(ok, "{output}");
    assert_eq!(listed_limit(&id), "default");
    let (ok, output) = herald(&["api-key", "set-rate-limit", &id, "250/s"]);
    assert!(ok, "{output}");
    assert_eq!(listed_limit(&id), "250/s");

    let (ok, output) = herald(&["api-key", "create", "--rate-limit", "0/s"]);
    assert!(!ok && output.contains("5/s"), "a limit of 0 is refused, saying how to write one: {output}");
    let (ok, _) = herald(&["api-key", "revoke", &id]);
    assert!(ok);
    let (ok, output) = herald(&["api-key", "set-rate-limit", &id, "5/s"]);
    assert!(!ok && output.contains("no active key"), "{output}");
}

/// `herald serve` with a preset that misses a credential, or a provider kind herald does
/// not know, stops at start-up and names the key; the secret it was given is not printed.
#[crate::harness::test]
fn serve_refuses_a_preset_without_its_credentials_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |toml: &str| {
        std::fs::write(dir.path().join("herald.toml"), toml).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HERALD_LISTEN", "127.0.0.1:0")
            .output()
            .unwrap();
        let printed =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), printed)
    };
    let (ok, printed) = serve(
        "[[providers]]\nname = \"vonage\"\nkind = \"vonage\"\n[providers.vonage]\napi_key = \"abcd1234\"\nsignature_secret = \"sig-s3cret\"\n",
    );
    assert!(!ok, "{printed}");
    assert!(printed.contains("`providers.vonage.api_secret`"), "{printed}");
    assert!(!printed.contains("sig-s3cret"), "{printed}");
    let (ok, printed) = serve("[[providers]]\nname = \"p\"\nkind = \"twillio\"\n");
    assert!(!ok, "{printed}");
    assert!(printed.contains("twillio"), "{printed}");
    assert!(!dir.path().join("herald.db").exists(), "nothing started");
}
