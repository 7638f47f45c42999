//! Typed identifiers, each in its own type so a message id can never be passed where an
//! account id is expected. Messages, accounts, events and keys are UUIDv7 (time-ordered, so
//! index inserts stay local); campaigns and customers are the database's integer serials
//! (the campaign brief's ids), which clients see as numbers.

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// An account (tenant). Every stored row belongs to one.
    AccountId
);
typed_id!(
    /// A message (the unit of work: one recipient, one channel).
    MessageId
);
typed_id!(
    /// An event in the outbox; consumers deduplicate on it.
    EventId
);
typed_id!(
    /// A notification template (its versions share the id).
    TemplateId
);
typed_id!(
    /// An API key's public id (the key itself is secret and only its hash is stored).
    ApiKeyId
);

macro_rules! serial_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<i64>().map(Self)
            }
        }
    };
}

serial_id!(
    /// A campaign (a database serial, shown to clients as a number).
    CampaignId
);
serial_id!(
    /// A customer (a database serial, shown to clients as a number).
    CustomerId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip() {
        let first = MessageId::new();
        let second = MessageId::new();
        assert!(first < second);
        assert_eq!(first.to_string().parse::<MessageId>().unwrap(), first);
        assert!("not-a-uuid".parse::<MessageId>().is_err());
    }

    #[test]
    fn serial_ids_are_numbers_in_json_and_text() {
        let id = CampaignId::new(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<CampaignId>("42").unwrap(), id);
        assert_eq!(id.to_string().parse::<CampaignId>().unwrap(), id);
        assert_eq!("7".parse::<CustomerId>().unwrap().get(), 7);
        assert!("seven".parse::<CustomerId>().is_err());
    }
}
