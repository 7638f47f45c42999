//! Sender ids (the sms-processor contract's `originator`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PhoneNumber;

/// Who a message appears to come from: a phone number, or an alphanumeric name of at
/// most 11 characters (the GSM limit for alphanumeric originators).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SenderId {
    Phone(PhoneNumber),
    Alphanumeric(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Must be a phone number or an alpha numeric shorter or equal to 11 characters")]
pub struct SenderIdError;

pub const MAX_ALPHANUMERIC_LEN: usize = 11;

impl SenderId {
    pub fn parse(input: &str) -> Result<Self, SenderIdError> {
        let is_alphanumeric = !input.is_empty()
            && input.chars().count() <= MAX_ALPHANUMERIC_LEN
            && input.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
            && !input.trim().is_empty();
        // Purely numeric originators are phone numbers when they are valid ones; short
        // numeric codes (shortcodes like "3535") are still acceptable as alphanumeric.
        if let Ok(phone) = PhoneNumber::parse(input) {
            if input.starts_with('+') || input.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(Self::Phone(phone));
            }
        }
        if is_alphanumeric {
            Ok(Self::Alphanumeric(input.to_owned()))
        } else {
            Err(SenderIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(phone) => phone.as_str(),
            Self::Alphanumeric(name) => name,
        }
    }
}

impl fmt::Display for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for SenderId {
    type Error = SenderIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SenderId> for String {
    fn from(value: SenderId) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_alphanumeric_senders() {
        assert_eq!(SenderId::parse("MB").unwrap(), SenderId::Alphanumeric("MB".into()));
        assert!(matches!(SenderId::parse("ACME Bank").unwrap(), SenderId::Alphanumeric(_)));
        assert!(matches!(SenderId::parse("ABCDEFGHIJK").unwrap(), SenderId::Alphanumeric(_)));
    }

    #[test]
    fn twelve_characters_is_one_too_many() {
        assert_eq!(SenderId::parse("ABCDEFGHIJKL"), Err(SenderIdError));
    }

    #[test]
    fn empty_blank_and_symbol_senders_are_rejected() {
        for input in ["", "   ", "MB!", "caf\u{e9}", "a\tb"] {
            assert_eq!(SenderId::parse(input), Err(SenderIdError), "{input:?}");
        }
    }

    #[test]
    fn phone_numbers_longer_than_eleven_characters_are_accepted() {
        assert_eq!(
            SenderId::parse("+31633450007").unwrap(),
            SenderId::Phone(PhoneNumber::parse("+31633450007").unwrap())
        );
        assert!(matches!(SenderId::parse("31633450007").unwrap(), SenderId::Phone(_)));
    }

    #[test]
    fn error_message_is_the_sms_processor_wording() {
        assert_eq!(
            SenderIdError.to_string(),
            "Must be a phone number or an alpha numeric shorter or equal to 11 characters"
        );
    }
}
