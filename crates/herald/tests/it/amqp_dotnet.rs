//! `SendSms` commands as a .NET producer writes them (the sms-microservice brief's
//! `PhoneNumber`/`SmsText`, camelCase, a MassTransit envelope), against the real broker.

use std::{collections::BTreeSet, time::Duration};

use herald::app::Roles;
use serde_json::{json, Value};

use crate::{
    broker::TestBroker,
    helpers::{on_both_backends, wait_until, Backend, TestApp},
};

on_both_backends!(
    rabbitmq;
    dotnet_spellings_and_masstransit_envelopes_are_each_sent_once,
    ambiguous_and_broken_dotnet_commands_are_dead_lettered_with_their_reason,
);

const DEADLINE: Duration = Duration::from_secs(30);

async fn start(backend: Backend) -> Option<(TestBroker, TestApp)> {
    let broker = TestBroker::connect().await?;
    let app = TestApp::spawn_with(backend, Roles::ALL, |c| broker.configure(c)).await?;
    Some((broker, app))
}

/// A SendSms as MassTransit publishes it to RabbitMQ (System.Text.Json, camelCase).
fn masstransit_envelope(message_id: &str, message: &Value) -> Value {
    json!({
        "messageId": message_id,
        "requestId": null,
        "correlationId": null,
        "conversationId": "0a5b0000-5d0b-0015-1d2b-08dc1a2b3c4e",
        "initiatorId": null,
        "sourceAddress": "rabbitmq://localhost/orders_api_bus_abc",
        "destinationAddress": "rabbitmq://localhost/herald.send_sms",
        "responseAddress": null,
        "faultAddress": null,
        "messageType": ["urn:message:Sms.Contracts:SendSms"],
        "message": message,
        "expirationTime": null,
        "sentTime": "2026-12-01T09:30:00.1234567Z",
        "headers": {},
        "host": {"machineName": "orders-1", "processName": "Orders.Api", "massTransitVersion": "8.1.3.0"}
    })
}

async fn dotnet_spellings_and_masstransit_envelopes_are_each_sent_once(backend: Backend) {
    let Some((broker, app)) = start(backend).await else { return };
    let tap = broker.tap().await;
    // The brief's own field names, identified by the AMQP message_id.
    let pascal = json!({"PhoneNumber": "+254712345678", "SmsText": "Payment received"});
    broker.publish_command(pascal.to_string().as_bytes(), Some("pascal-1")).await;
    let camel =
        json!({"phoneNumber": "+254711111111", "smsText": "Your code is 1234", "idempotencyKey": "otp-7"});
    broker.publish_command(camel.to_string().as_bytes(), None).await;
    let envelope_id = "0a5b0000-5d0b-0015-9d4d-08dc1a2b3c4d";
    let envelope = masstransit_envelope(
        envelope_id,
        &json!({"phoneNumber": "+254722222222", "smsText": "Loan repaid", "userId": "customer-9"}),
    );
    broker.publish_command(envelope.to_string().as_bytes(), Some(envelope_id)).await;
    // Repeats: the envelope redelivered, and the camelCase command again in PascalCase
    // with the same key (the same command in another spelling).
    broker.publish_command(envelope.to_string().as_bytes(), Some(envelope_id)).await;
    let pascal_repeat =
        json!({"PhoneNumber": "+254711111111", "SmsText": "Your code is 1234", "IdempotencyKey": "otp-7"});
    broker.publish_command(pascal_repeat.to_string().as_bytes(), None).await;

    app.wait_for_metric(r#"herald_amqp_commands_total{outcome="accepted"}"#, 3.0).await;
    app.wait_for_metric(r#"herald_amqp_commands_total{outcome="replayed"}"#, 2.0).await;
    // Three SMS, three `sms.sent`; the one to a user is that user's `notification.sent` too.
    let events = tap.wait_for(4, DEADLINE).await;
    let for_users: Vec<&str> = events
        .iter()
        .filter(|e| e.routing_key == "notification.sent")
        .filter_map(|e| e.body["user_id"].as_str())
        .collect();
    assert_eq!(for_users, ["customer-9"]);
    let events: Vec<_> = events.into_iter().filter(|e| e.routing_key == "sms.sent").collect();
    assert_eq!(events.len(), 3);
    let sent: BTreeSet<(String, String)> =
        app.mock.deliveries().into_iter().map(|d| (d.to, d.body)).collect();
    let expected: BTreeSet<(String, String)> = [
        ("+254712345678", "Payment received"),
        ("+254711111111", "Your code is 1234"),
        ("+254722222222", "Loan repaid"),
    ]
    .into_iter()
    .map(|(to, body)| (to.to_owned(), body.to_owned()))
    .collect();
    assert_eq!(sent, expected);
    assert_eq!(app.mock.calls(), 3, "one provider call per distinct command");
    let keys: BTreeSet<String> = events
        .iter()
        .filter_map(|e| e.body["payload"]["idempotency_key"].as_str().map(str::to_owned))
        .collect();
    let expected_keys: BTreeSet<String> =
        ["pascal-1", "otp-7", envelope_id].into_iter().map(str::to_owned).collect();
    assert_eq!(keys, expected_keys, "message_id, idempotencyKey and the envelope's messageId are the keys");
    let enveloped = events.iter().find(|e| e.body["payload"]["phone_number"] == "+254722222222").unwrap();
    assert_eq!(enveloped.body["user_id"], "customer-9", "the envelope's message is the command");
    assert_eq!(broker.ready_count(&broker.config.command_queue).await, 0, "all five acknowledged");
    assert!(broker.next_dead_letter().await.is_none(), "nothing was dead-lettered");
    assert!(!wait_until(Duration::from_millis(300), || async { tap.events().len() > 4 }).await);
    app.stop().await;
    broker.cleanup().await;
}

async fn ambiguous_and_broken_dotnet_commands_are_dead_lettered_with_their_reason(backend: Backend) {
    let Some((broker, app)) = start(backend).await else { return };
    let tap = broker.tap().await;
    let rejected = [
        (
            json!({"phone_number": "+254712345678", "PhoneNumber": "+254700000000", "SmsText": "hi"}),
            "the command gives 'phone_number' more than once ('phone_number' and 'PhoneNumber')",
        ),
        (json!({"PhoneNumber": "12", "SmsText": "hi"}), "'PhoneNumber' must be a phone number"),
        (json!({"recipient": "+254712345678", "text": "hi"}), "it has no 'phone_number'"),
        (
            masstransit_envelope("mt-1", &json!({"phoneNumber": "+254712345678", "smsText": ""})),
            "in the envelope's message: 'smsText'",
        ),
        (
            json!({"messageType": ["urn:message:Sms:SendSms"], "messageId": "mt-2"}),
            "not a MassTransit envelope",
        ),
    ];
    for (command, _) in &rejected {
        broker.publish_command(command.to_string().as_bytes(), None).await;
    }
    let mut both = masstransit_envelope("mt-3", &json!({"PhoneNumber": "+254712345678", "SmsText": "hi"}));
    both["PhoneNumber"] = json!("+254700000000");
    broker.publish_command(both.to_string().as_bytes(), None).await;
    let good = json!({"PhoneNumber": "+254712345678", "SmsText": "still here"});
    broker.publish_command(good.to_string().as_bytes(), None).await;

    tap.wait_for(1, DEADLINE).await;
    app.wait_for_metric(r#"herald_amqp_commands_total{outcome="rejected"}"#, 6.0).await;
    let mut reasons = Vec::new();
    while let Some((body, reason)) = broker.next_dead_letter().await {
        let body: Value = serde_json::from_slice(&body).expect("the command is dead-lettered as it came");
        reasons.push((body, reason.expect("the reason header is set")));
    }
    assert_eq!(reasons.len(), 6, "{reasons:#?}");
    for (command, expected) in &rejected {
        let (_, reason) = reasons.iter().find(|(body, _)| body == command).expect("dead-lettered");
        assert!(reason.contains(expected), "{command}: {reason}");
    }
    let (_, reason) = reasons.iter().find(|(body, _)| body == &both).expect("dead-lettered");
    assert!(reason.contains("also has 'PhoneNumber' at its top level"), "{reason}");
    assert_eq!(
        app.store.status_counts().await.unwrap().total(),
        1,
        "only the valid command became a message"
    );
    assert_eq!(app.mock.deliveries()[0].body, "still here");
    assert_eq!(broker.ready_count(&broker.config.command_queue).await, 0, "nothing loops back");
    app.stop().await;
    broker.cleanup().await;
}
