//! Who a message goes to, by channel: an E.164 phone number (SMS, WhatsApp), an email
//! address, or a push registration token. Parsed once at the boundary; a `Recipient` that
//! exists fits its channel.

use std::fmt;

use crate::{channel::Channel, phone::PhoneNumber};

/// An email address, checked against RFC 5322's address syntax (the `email_address` crate),
/// kept as given apart from surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// A push registration token (FCM's or a gateway's): printable ASCII, no spaces, at most
/// 4096 characters. Its format belongs to the push service, so herald checks only that.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PushToken(String);

/// The recipient of one message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// SMS and WhatsApp.
    Phone(PhoneNumber),
    Email(EmailAddress),
    Push(PushToken),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientError {
    #[error("{0}")]
    Phone(#[from] crate::phone::PhoneNumberError),
    #[error("must be an email address, such as ada@example.com")]
    Email,
    #[error("must be a push registration token: 1 to 4096 printable characters without spaces")]
    PushToken,
}

/// Longest email address SMTP carries (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 254;
const MAX_PUSH_TOKEN_CHARS: usize = 4096;

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, RecipientError> {
        let trimmed = input.trim();
        if trimmed.len() > MAX_EMAIL_CHARS {
            return Err(RecipientError::Email);
        }
        // Display-name forms (`Ada <ada@example.com>`) are not addresses: refuse them.
        let options = email_address::Options::default().without_display_text();
        match email_address::EmailAddress::parse_with_options(trimmed, options) {
            Ok(_) if trimmed.contains('@') => Ok(Self(trimmed.to_owned())),
            _ => Err(RecipientError::Email),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: the first character of the local part and the domain.
    pub fn masked(&self) -> String {
        crate::mask::mask_email(&self.0)
    }
}

impl PushToken {
    pub fn parse(input: &str) -> Result<Self, RecipientError> {
        let token = input.trim();
        let printable = token.bytes().all(|b| b.is_ascii_graphic());
        if token.is_empty() || token.len() > MAX_PUSH_TOKEN_CHARS || !printable {
            return Err(RecipientError::PushToken);
        }
        Ok(Self(token.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: the first and last four characters.
    pub fn masked(&self) -> String {
        crate::mask::mask_token(&self.0)
    }
}

impl Recipient {
    /// Parses `input` as a recipient of `channel`.
    pub fn parse(channel: Channel, input: &str) -> Result<Self, RecipientError> {
        match channel {
            Channel::Sms | Channel::Whatsapp => Ok(Self::Phone(PhoneNumber::parse(input)?)),
            Channel::Email => Ok(Self::Email(EmailAddress::parse(input)?)),
            Channel::Push => Ok(Self::Push(PushToken::parse(input)?)),
        }
    }

    /// A recipient herald validated before and stored itself (a row it reads back): taken
    /// as it is, without parsing again (libphonenumber costs microseconds per number, and a
    /// worker reads back thousands of rows a second).
    pub fn from_stored(channel: Channel, stored: String) -> Self {
        match channel {
            Channel::Sms | Channel::Whatsapp => Self::Phone(PhoneNumber::from_stored(stored)),
            Channel::Email => Self::Email(EmailAddress(stored)),
            Channel::Push => Self::Push(PushToken(stored)),
        }
    }

    /// Whether this recipient can be reached on `channel`.
    pub fn fits(&self, channel: Channel) -> bool {
        matches!(
            (self, channel),
            (Self::Phone(_), Channel::Sms | Channel::Whatsapp)
                | (Self::Email(_), Channel::Email)
                | (Self::Push(_), Channel::Push)
        )
    }

    /// The recipient as stored and sent: E.164, the address, or the token.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(phone) => phone.as_str(),
            Self::Email(email) => email.as_str(),
            Self::Push(token) => token.as_str(),
        }
    }

    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Self::Phone(phone) => Some(phone),
            _ => None,
        }
    }

    /// A form safe for logs.
    pub fn masked(&self) -> String {
        match self {
            Self::Phone(phone) => phone.masked(),
            Self::Email(email) => email.masked(),
            Self::Push(token) => token.masked(),
        }
    }
}

impl From<PhoneNumber> for Recipient {
    fn from(phone: PhoneNumber) -> Self {
        Self::Phone(phone)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_takes_only_its_kind_of_recipient() {
        let phone = Recipient::parse(Channel::Sms, "+31633450007").unwrap();
        assert_eq!(phone.as_str(), "+31633450007");
        assert!(phone.fits(Channel::Sms) && phone.fits(Channel::Whatsapp) && !phone.fits(Channel::Email));
        let email = Recipient::parse(Channel::Email, " ada@example.com ").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
        assert!(email.fits(Channel::Email) && !email.fits(Channel::Push));
        let token = Recipient::parse(Channel::Push, "fcm:APA91bH-token_1").unwrap();
        assert!(token.fits(Channel::Push) && !token.fits(Channel::Sms));

        assert!(Recipient::parse(Channel::Sms, "ada@example.com").is_err());
        assert_eq!(Recipient::parse(Channel::Email, "+31633450007"), Err(RecipientError::Email));
        for bad in ["", "ada", "ada@", "@example.com", "Ada <ada@example.com>", "a b@example.com"] {
            assert_eq!(Recipient::parse(Channel::Email, bad), Err(RecipientError::Email), "{bad:?}");
        }
        for bad in ["", "with space", "tab\there", &"x".repeat(4097)] {
            assert_eq!(Recipient::parse(Channel::Push, bad), Err(RecipientError::PushToken), "{bad:?}");
        }
    }

    #[test]
    fn stored_recipients_come_back_as_they_were_stored() {
        for (channel, text) in
            [(Channel::Sms, "+31633450007"), (Channel::Email, "ada@example.com"), (Channel::Push, "tok")]
        {
            let recipient = Recipient::from_stored(channel, text.to_owned());
            assert_eq!(recipient.as_str(), text);
            assert!(recipient.fits(channel));
        }
    }

    #[test]
    fn masked_forms_hide_the_recipient() {
        let email = Recipient::parse(Channel::Email, "ada.lovelace@example.com").unwrap();
        assert!(!email.masked().contains("lovelace"), "{}", email.masked());
        let token = Recipient::parse(Channel::Push, "abcdefghijklmnopqrstuvwxyz").unwrap();
        assert!(!token.masked().contains("ghijklmnop"), "{}", token.masked());
    }
}
