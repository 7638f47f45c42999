//! `herald seed`: sample customers and campaigns for trying herald out. Idempotent: a
//! database that has the sample campaigns is left as it is.

use chrono::{Duration, Utc};
use herald_domain::{CampaignStatus, Channel, MessageId};
use serde_json::json;

use crate::{
    model::{CampaignFilter, CampaignStart, CustomerFields, NewCampaign, PageStart, StartOutcome},
    ports::Store,
};

/// Names the sample campaigns start with: how `seed` recognises a seeded database.
pub const SEED_PREFIX: &str = "[sample] ";

const CUSTOMERS: [(&str, &str, &str, &str, &str); 12] = [
    ("+254712000001", "Alice", "Wanjiru", "Nairobi", "Running Shoes"),
    ("+254712000002", "Brian", "Otieno", "Kisumu", "Winter Jacket"),
    ("+254712000003", "Chloe", "Muthoni", "Nakuru", "Solar Lamp"),
    ("+254712000004", "David", "Kamau", "Mombasa", "Running Shoes"),
    ("+254712000005", "Esther", "Achieng", "Eldoret", "Smartphone"),
    ("+254712000006", "Felix", "Mwangi", "Thika", "Solar Lamp"),
    ("+256772000007", "Grace", "Nakato", "Kampala", "Winter Jacket"),
    ("+256772000008", "Henry", "Okello", "Gulu", "Smartphone"),
    ("+233244000009", "Irene", "Mensah", "Accra", "Running Shoes"),
    ("+233244000010", "James", "Owusu", "Kumasi", ""),
    ("+234803000011", "Kemi", "Adeyemi", "Lagos", "Solar Lamp"),
    ("+234803000012", "", "Okafor", "Abuja", "Smartphone"),
];

/// What `seed` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    Created { customers: usize, campaigns: usize },
    AlreadyThere,
}

pub async fn seed(store: &dyn Store, default_sender: &str) -> anyhow::Result<Seeded> {
    let account = store.ensure_default_account().await?;
    let existing =
        store.list_campaigns(account, CampaignFilter::default(), None, PageStart::Offset(0), 100).await?;
    if existing.campaigns.iter().any(|c| c.name.starts_with(SEED_PREFIX)) {
        return Ok(Seeded::AlreadyThere);
    }
    let now = Utc::now();
    let mut customer_ids = Vec::new();
    for (n, (phone, first, last, location, product)) in CUSTOMERS.into_iter().enumerate() {
        let text = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        let fields = CustomerFields {
            phone: phone.to_owned(),
            first_name: text(first),
            last_name: text(last),
            email: text(&format!("{}@example.com", first.to_lowercase())).filter(|_| !first.is_empty()),
            location: text(location),
            preferred_product: text(product),
            attributes: json!({"tier": if n % 3 == 0 { "gold" } else { "standard" }})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        customer_ids.push(store.insert_customer(account, &fields, now).await?.id);
    }
    let campaign = |name: &str, channel, status, template: &str, scheduled_at| NewCampaign {
        account_id: account,
        name: format!("{SEED_PREFIX}{name}"),
        channel,
        status,
        base_template: template.to_owned(),
        scheduled_at,
        created_at: now,
    };
    store
        .insert_campaign(&campaign(
            "Summer Sale",
            Channel::Sms,
            CampaignStatus::Draft,
            "Hi {first_name|there}, check out {preferred_product|our new range} in {location|your city}!",
            None,
        ))
        .await?;
    store
        .insert_campaign(&campaign(
            "Winter preview",
            Channel::Whatsapp,
            CampaignStatus::Scheduled,
            "Hello {first_name|friend}, winter is coming: {preferred_product|jackets} at {attributes.tier} prices.",
            Some(now + Duration::days(30)),
        ))
        .await?;
    let welcome = store
        .insert_campaign(&campaign(
            "Welcome",
            Channel::Sms,
            CampaignStatus::Draft,
            "Karibu {first_name|there}! Reply STOP to opt out.",
            None,
        ))
        .await?;
    // Started: `serve` (or a worker) sends it, and it ends `sent`.
    let start = CampaignStart {
        account_id: account,
        campaign_id: welcome.id,
        recipients: customer_ids.iter().map(|id| (*id, MessageId::new())).collect(),
        sender: default_sender.to_owned(),
        status: CampaignStatus::Sending,
        due_at: now,
        now,
        idempotency: None,
        claim: None,
    };
    anyhow::ensure!(
        store.start_campaign(&start).await? == StartOutcome::Started,
        "could not start the sample campaign"
    );
    Ok(Seeded::Created { customers: customer_ids.len(), campaigns: 3 })
}
