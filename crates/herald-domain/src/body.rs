//! Message bodies.

use serde::{Deserialize, Serialize};

/// A message text: not blank, at most [`MessageBody::MAX_CHARS`] characters (ten
/// concatenated SMS segments of GSM-7 text, the usual carrier ceiling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageBody(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageBodyError {
    #[error("must not be empty")]
    Empty,
    #[error("must not contain control characters other than newline and tab")]
    ControlCharacter,
    #[error("must be at most {max} characters, got {actual}")]
    TooLong { max: usize, actual: usize },
}

impl MessageBody {
    pub const MAX_CHARS: usize = 1530;
    /// The text part of an email.
    pub const MAX_EMAIL_CHARS: usize = 20_000;
    /// A push notification's body (FCM allows 4096 bytes for the whole payload).
    pub const MAX_PUSH_CHARS: usize = 2000;

    /// The longest text `channel` takes.
    pub fn max_chars(channel: crate::Channel) -> usize {
        match channel {
            crate::Channel::Sms | crate::Channel::Whatsapp => Self::MAX_CHARS,
            crate::Channel::Email => Self::MAX_EMAIL_CHARS,
            crate::Channel::Push => Self::MAX_PUSH_CHARS,
        }
    }

    /// An SMS text: at most [`MessageBody::MAX_CHARS`] characters.
    pub fn parse(input: &str) -> Result<Self, MessageBodyError> {
        Self::parse_for(crate::Channel::Sms, input)
    }

    /// A text for `channel`, within [`MessageBody::max_chars`].
    pub fn parse_for(channel: crate::Channel, input: &str) -> Result<Self, MessageBodyError> {
        if input.trim().is_empty() {
            return Err(MessageBodyError::Empty);
        }
        if input.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(MessageBodyError::ControlCharacter);
        }
        let actual = input.chars().count();
        let max = Self::max_chars(channel);
        if actual > max {
            return Err(MessageBodyError::TooLong { max, actual });
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: the length, never the text.
    pub fn describe(&self) -> String {
        crate::mask::describe_body(&self.0)
    }
}

impl TryFrom<String> for MessageBody {
    type Error = MessageBodyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MessageBody> for String {
    fn from(value: MessageBody) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_bodies_are_rejected() {
        assert_eq!(MessageBody::parse(""), Err(MessageBodyError::Empty));
        assert_eq!(MessageBody::parse(" \n\t"), Err(MessageBodyError::Empty));
    }

    #[test]
    fn control_characters_other_than_line_breaks_and_tabs_are_rejected() {
        assert_eq!(MessageBody::parse("a\u{0}b"), Err(MessageBodyError::ControlCharacter));
        assert_eq!(MessageBody::parse("bell\u{7}"), Err(MessageBodyError::ControlCharacter));
        assert!(MessageBody::parse("line one\r\nline\ttwo").is_ok());
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        let max_of_multibyte = "\u{e9}".repeat(MessageBody::MAX_CHARS);
        assert!(MessageBody::parse(&max_of_multibyte).is_ok());
        let too_long = "a".repeat(MessageBody::MAX_CHARS + 1);
        assert!(matches!(MessageBody::parse(&too_long), Err(MessageBodyError::TooLong { .. })));
    }

    #[test]
    fn each_channel_has_its_own_length_limit() {
        use crate::Channel;
        let long = "a".repeat(MessageBody::MAX_CHARS + 1);
        assert!(MessageBody::parse_for(Channel::Email, &long).is_ok());
        assert!(MessageBody::parse_for(Channel::Sms, &long).is_err());
        let too_long_push = "a".repeat(MessageBody::MAX_PUSH_CHARS + 1);
        assert!(MessageBody::parse_for(Channel::Push, &too_long_push).is_err());
    }
}
