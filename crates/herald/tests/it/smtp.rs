//! The SMTP provider against a real SMTP server (aiosmtpd): what arrives (headers, both
//! bodies, a Message-ID derived from herald's message id) and how each answer is
//! classified (451 retryable, 550 permanent, a relay that is down retryable, failed AUTH),
//! over plain text, STARTTLS and implicit TLS.

use std::time::Duration;

use herald::{
    config::{Secret, SmtpProviderConfig, SmtpTls},
    model::RichContent,
    ports::{Outbound, Provider, ProviderError},
    providers::smtp::SmtpProvider,
};
use herald_domain::{Channel, MessageId, Recipient};

use crate::helpers::SmtpServer;

fn config(port: u16, auth: Option<(&str, &str)>) -> SmtpProviderConfig {
    SmtpProviderConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        tls: SmtpTls::None,
        username: auth.map(|(user, _)| user.to_owned()),
        password: auth.map(|(_, password)| Secret::new(password)),
        from: "Herald <noreply@herald.example>".into(),
        pool_size: Some(2),
        ca_file: None,
    }
}

fn provider(port: u16, auth: Option<(&str, &str)>) -> SmtpProvider {
    SmtpProvider::new("smtp", &config(port, auth), 4, Duration::from_secs(10)).expect("provider")
}

/// A provider for a TLS server, trusting the tests' CA (or only the public roots).
fn tls_provider(port: u16, tls: SmtpTls, trust_test_ca: bool) -> SmtpProvider {
    let config = SmtpProviderConfig {
        tls,
        ca_file: trust_test_ca.then(|| SmtpServer::TEST_CA.into()),
        ..config(port, None)
    };
    SmtpProvider::new("smtp", &config, 4, Duration::from_secs(10)).expect("provider")
}

fn email(to: &str) -> Recipient {
    Recipient::parse(Channel::Email, to).expect("an email address")
}

fn content(html: Option<&str>) -> RichContent {
    RichContent {
        subject: Some("Your receipt".into()),
        html: html.map(str::to_owned),
        ..RichContent::default()
    }
}

fn outbound<'a>(id: MessageId, to: &'a Recipient, content: &'a RichContent) -> Outbound<'a> {
    Outbound {
        message_id: id,
        channel: Channel::Email,
        to,
        from: None,
        text: "Thank you for your payment of 12.00 EUR.",
        content,
    }
}

#[crate::harness::test]
async fn an_email_arrives_with_its_headers_both_bodies_and_a_message_id_from_herald() {
    let Some(server) = SmtpServer::start(None).await else { return };
    let provider = provider(server.port, None);
    let id = MessageId::new();
    let to = email("ada@example.com");
    let content = RichContent {
        reply_to: Some("billing@herald.example".into()),
        unsubscribe_url: Some("https://herald.example/unsubscribe?u=12345".into()),
        ..content(Some("<p>Thank you for your <b>payment</b>.</p>"))
    };

    let receipt = provider.send(&outbound(id, &to, &content)).await.expect("sent");

    let message_id = format!("<{id}@herald.example>");
    assert_eq!(receipt.provider_message_id.as_deref(), Some(message_id.as_str()));
    let [raw] = server.wait_for_messages(1).await.try_into().expect("one message");
    SmtpServer::assert_headers(
        &raw,
        &[
            "From: Herald <noreply@herald.example>",
            "To: ada@example.com",
            "Subject: Your receipt",
            "Reply-To: billing@herald.example",
            "List-Unsubscribe: <https://herald.example/unsubscribe?u=12345>",
            &format!("Message-ID: {message_id}"),
        ],
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("Content-Type: text/plain"), "{raw}");
    assert!(raw.contains("Content-Type: text/html"), "{raw}");
    assert!(raw.contains("Thank you for your payment of 12.00 EUR."), "{raw}");
    assert!(raw.contains("<b>payment</b>"), "{raw}");
}

#[crate::harness::test]
async fn a_text_only_email_is_plain_text() {
    let Some(server) = SmtpServer::start(None).await else { return };
    let to = email("ada@example.com");
    provider(server.port, None).send(&outbound(MessageId::new(), &to, &content(None))).await.expect("sent");
    let [raw] = server.wait_for_messages(1).await.try_into().expect("one message");
    assert!(raw.contains("Content-Type: text/plain"), "{raw}");
    assert!(!raw.contains("multipart"), "{raw}");
}

#[crate::harness::test]
async fn a_451_is_retryable_with_its_code_and_the_next_try_is_delivered() {
    let Some(server) = SmtpServer::start(None).await else { return };
    let provider = provider(server.port, None);
    let to = email("defer451@example.com");
    let id = MessageId::new();

    let first = provider.send(&outbound(id, &to, &content(None))).await;
    assert!(
        matches!(&first, Err(ProviderError::Retryable { reason, .. }) if reason.contains("451")),
        "{first:?}"
    );
    provider.send(&outbound(id, &to, &content(None))).await.expect("accepted on the second try");
    let [raw] = server.wait_for_messages(1).await.try_into().expect("delivered once");
    assert!(raw.contains(&format!("Message-ID: <{id}@herald.example>")), "the resend keeps its id");
}

#[crate::harness::test]
async fn a_550_is_permanent_with_its_code_and_text() {
    let Some(server) = SmtpServer::start(None).await else { return };
    let to = email("reject550@example.com");
    let answer = provider(server.port, None).send(&outbound(MessageId::new(), &to, &content(None))).await;
    assert!(
        matches!(&answer, Err(ProviderError::Permanent { reason }) if reason.contains("550") && reason.contains("mailbox unavailable")),
        "{answer:?}"
    );
    assert!(server.messages().is_empty());
}

#[crate::harness::test]
async fn a_relay_that_is_down_is_retryable() {
    let Some(server) = SmtpServer::start(None).await else { return };
    let port = server.port;
    server.stop();
    let to = email("ada@example.com");
    let answer = provider(port, None).send(&outbound(MessageId::new(), &to, &content(None))).await;
    assert!(matches!(answer, Err(ProviderError::Retryable { .. })), "{answer:?}");
}

#[crate::harness::test]
async fn a_rejected_login_is_permanent_and_the_right_one_sends() {
    let Some(server) = SmtpServer::start(Some(("herald", "s3cret"))).await else { return };
    let to = email("ada@example.com");

    let wrong = provider(server.port, Some(("herald", "pw-9f3e1c")))
        .send(&outbound(MessageId::new(), &to, &content(None)))
        .await;
    assert!(
        matches!(&wrong, Err(ProviderError::Permanent { reason }) if reason.contains("535")),
        "{wrong:?}"
    );
    assert!(!format!("{wrong:?}").contains("pw-9f3e1c"), "the password is never in the error");

    provider(server.port, Some(("herald", "s3cret")))
        .send(&outbound(MessageId::new(), &to, &content(None)))
        .await
        .expect("sent");
    server.wait_for_messages(1).await;
}

#[crate::harness::test]
async fn starttls_and_implicit_tls_deliver_to_a_relay_with_a_certificate_from_a_private_ca() {
    for (mode, tls) in [("starttls", SmtpTls::Starttls), ("implicit", SmtpTls::Tls)] {
        let Some(server) = SmtpServer::start_tls(mode).await else { return };
        let to = email("ada@example.com");
        let receipt =
            tls_provider(server.port, tls, true).send(&outbound(MessageId::new(), &to, &content(None))).await;
        assert!(receipt.is_ok(), "{mode}: {receipt:?}");
        let [raw] = server.wait_for_messages(1).await.try_into().expect("one message");
        assert!(raw.contains("Subject: Your receipt"), "{mode}: {raw}");
    }
}

#[crate::harness::test]
async fn a_relay_without_starttls_or_with_an_untrusted_certificate_gets_nothing() {
    let to = email("ada@example.com");
    // STARTTLS chosen, relay offers none: an error, never a plain-text fallback.
    let Some(plain) = SmtpServer::start(None).await else { return };
    let answer = tls_provider(plain.port, SmtpTls::Starttls, true)
        .send(&outbound(MessageId::new(), &to, &content(None)))
        .await;
    assert!(matches!(answer, Err(ProviderError::Retryable { .. })), "{answer:?}");
    assert!(plain.messages().is_empty(), "nothing went out in plain text");

    // A certificate from a CA herald was not told to trust.
    let Some(server) = SmtpServer::start_tls("starttls").await else { return };
    let answer = tls_provider(server.port, SmtpTls::Starttls, false)
        .send(&outbound(MessageId::new(), &to, &content(None)))
        .await;
    assert!(matches!(answer, Err(ProviderError::Retryable { .. })), "{answer:?}");
    assert!(server.messages().is_empty());
}
