//! Typed identifiers. Every id is a UUIDv7 (time-ordered, so index inserts stay local),
//! wrapped in its own type so a message id can never be passed where an account id is
//! expected.

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
    /// An API key's public id (the key itself is secret and only its hash is stored).
    ApiKeyId
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
}
