//! `CustomerStore`: every method, on both backends.

use chrono::{Duration, Utc};
use herald::model::CustomerFields;
use herald_domain::{AccountId, CustomerId};
use serde_json::json;

use super::{claim_all, now_ms, sent, started_campaign, store};
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    an_inserted_customer_reads_back_with_its_fields_only_in_its_account,
    an_update_replaces_every_field_and_misses_other_accounts,
    a_delete_removes_the_customer_once_and_misses_other_accounts,
    customers_list_in_id_order_after_the_cursor_and_ids_list_them_all,
    customers_are_inserted_in_bulk_in_order,
    a_customer_is_kept_while_campaign_messages_to_them_are_on_their_way,
);

fn fields(phone: &str) -> CustomerFields {
    let mut attributes = serde_json::Map::new();
    attributes.insert("tier".into(), json!("gold"));
    CustomerFields {
        phone: phone.into(),
        first_name: Some("Amina".into()),
        last_name: Some("Otieno".into()),
        email: Some("amina@example.com".into()),
        location: Some("Nairobi".into()),
        preferred_product: Some("tea".into()),
        attributes,
    }
}

async fn an_inserted_customer_reads_back_with_its_fields_only_in_its_account(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let at = Utc::now();
    let inserted = store.insert_customer(account, &fields("+254700000001"), at).await.unwrap();
    assert_eq!(inserted.account_id, account);
    assert_eq!(inserted.fields, fields("+254700000001"));
    assert_eq!(inserted.created_at.timestamp_millis(), at.timestamp_millis());

    let read = store.get_customer(account, inserted.id).await.unwrap().expect("stored");
    assert_eq!(read, inserted);
    assert_eq!(store.get_customer(AccountId::new(), inserted.id).await.unwrap(), None);
    assert_eq!(store.get_customer(account, CustomerId::new(inserted.id.get() + 1)).await.unwrap(), None);
}

async fn an_update_replaces_every_field_and_misses_other_accounts(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let created = store.insert_customer(account, &fields("+254700000001"), Utc::now()).await.unwrap();
    let later = created.created_at + Duration::seconds(5);
    let replacement = CustomerFields { phone: "+254700000002".into(), ..Default::default() };

    assert_eq!(store.update_customer(AccountId::new(), created.id, &replacement, later).await.unwrap(), None);
    let updated =
        store.update_customer(account, created.id, &replacement, later).await.unwrap().expect("updated");
    assert_eq!(updated.fields, replacement, "every field replaced, absent ones cleared");
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.updated_at.timestamp_millis(), later.timestamp_millis());
    assert_eq!(store.get_customer(account, created.id).await.unwrap(), Some(updated));
    let unknown = CustomerId::new(created.id.get() + 1);
    assert_eq!(store.update_customer(account, unknown, &replacement, later).await.unwrap(), None);
}

async fn a_delete_removes_the_customer_once_and_misses_other_accounts(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let customer = store.insert_customer(account, &fields("+254700000001"), Utc::now()).await.unwrap();

    assert_eq!(store.delete_customer(AccountId::new(), customer.id).await.unwrap(), None);
    assert!(store.get_customer(account, customer.id).await.unwrap().is_some());
    assert_eq!(store.delete_customer(account, customer.id).await.unwrap(), Some(true));
    assert_eq!(store.get_customer(account, customer.id).await.unwrap(), None);
    assert_eq!(store.delete_customer(account, customer.id).await.unwrap(), None, "already gone");
}

async fn customers_list_in_id_order_after_the_cursor_and_ids_list_them_all(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let batch: Vec<CustomerFields> = (0..5).map(|n| fields(&format!("+2547000000{n:02}"))).collect();
    let ids = store.insert_customers(account, &batch, Utc::now()).await.unwrap();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids in file order: {ids:?}");

    let first = store.list_customers(account, CustomerId::new(0), 2).await.unwrap();
    assert_eq!(first.iter().map(|c| c.id).collect::<Vec<_>>(), ids[..2]);
    let rest = store.list_customers(account, first[1].id, 10).await.unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), ids[2..]);
    assert_eq!(rest[0].fields, batch[2], "bulk rows keep their fields");
    assert!(store.list_customers(AccountId::new(), CustomerId::new(0), 10).await.unwrap().is_empty());

    assert_eq!(store.customer_ids(account).await.unwrap(), ids);
    assert!(store.customer_ids(AccountId::new()).await.unwrap().is_empty());
}

async fn customers_are_inserted_in_bulk_in_order(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let customers: Vec<herald::model::CustomerFields> = (0..250)
        .map(|n| herald::model::CustomerFields {
            phone: format!("+2547{n:08}"),
            first_name: Some(format!("N{n}")),
            attributes: json!({"n": n}).as_object().cloned().unwrap(),
            ..Default::default()
        })
        .collect();
    let ids = store.insert_customers(account, &customers, Utc::now()).await.unwrap();
    assert_eq!(ids.len(), 250);
    for (n, id) in ids.iter().enumerate().step_by(49) {
        let customer = store.get_customer(account, *id).await.unwrap().unwrap();
        assert_eq!(customer.fields.first_name, Some(format!("N{n}")), "id {id} is customer {n}");
        assert_eq!(customer.fields.attributes["n"], n);
    }
}

async fn a_customer_is_kept_while_campaign_messages_to_them_are_on_their_way(backend: Backend) {
    let Some((store, _db)) = store(backend).await else { return };
    let account = store.ensure_default_account().await.unwrap();
    let now = now_ms();
    let (_, recipients) = started_campaign(store.as_ref(), account, 1, now).await;
    let (customer, message) = recipients[0];

    assert_eq!(store.delete_customer(account, customer).await.unwrap(), Some(false), "pending");
    claim_all(store.as_ref(), "w", now).await;
    assert_eq!(store.delete_customer(account, customer).await.unwrap(), Some(false), "sending");
    assert!(store.get_customer(account, customer).await.unwrap().is_some(), "kept");
    store.record_outcomes("w", &[sent(account, message)]).await.unwrap();
    assert_eq!(store.delete_customer(account, customer).await.unwrap(), Some(true), "sent");
    assert_eq!(store.get_customer(account, customer).await.unwrap(), None);
}
