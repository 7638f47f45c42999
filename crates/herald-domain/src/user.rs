//! A user of the caller's application, as herald's contact directory knows them: keyed by
//! the caller's own user id, with where to reach them and how they read (locale, time zone).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The caller's id for a user (`12345`, `usr_8f2a`): 1 to 128 visible ASCII characters
/// without `/`, `?`, `#` or `%`, so that it is one path segment as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("must be 1 to 128 visible ASCII characters, without '/', '?', '#' or '%'")]
    Id,
    #[error("must be a language tag such as \"en\", \"sw-KE\" or \"pt-BR\"")]
    Locale,
    #[error("must be an IANA time zone such as \"Africa/Nairobi\" or \"UTC\"")]
    TimeZone,
}

impl UserId {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(input: &str) -> Result<Self, UserError> {
        let ok = (1..=Self::MAX_CHARS).contains(&input.len())
            && input.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'));
        ok.then(|| Self(input.to_owned())).ok_or(UserError::Id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = UserError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A BCP 47 language tag in its common form: a 2–3 letter language, then subtags of 2–8
/// letters or digits (`en`, `sw-KE`, `zh-Hant-TW`); at most 35 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Locale {
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let mut parts = input.split('-');
        let language = parts.next().unwrap_or_default();
        let ok = input.len() <= 35
            && (2..=3).contains(&language.len())
            && language.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        ok.then(|| Self(input.to_owned())).ok_or(UserError::Locale)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Locale {
    type Error = UserError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Locale> for String {
    fn from(locale: Locale) -> Self {
        locale.0
    }
}

/// An IANA time zone herald knows (the tz database compiled in with chrono-tz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(input: &str) -> Result<Self, UserError> {
        chrono_tz::Tz::from_str(input).map(Self).map_err(|_| UserError::TimeZone)
    }

    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_one_path_segment() {
        for good in ["12345", "usr_8f2a", "a:b@c.d-e", &"x".repeat(128)] {
            assert_eq!(UserId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "a b", "a/b", "a?b", "a#b", "100%", "é", &"x".repeat(129)] {
            assert_eq!(UserId::parse(bad), Err(UserError::Id), "{bad:?}");
        }
    }

    #[test]
    fn locales_are_language_tags() {
        for good in ["en", "sw-KE", "pt-BR", "zh-Hant-TW", "es-419"] {
            assert!(Locale::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "e", "english", "en_US", "en-", "en-a", "12-KE"] {
            assert_eq!(Locale::parse(bad), Err(UserError::Locale), "{bad:?}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(TimeZone::parse("Africa/Nairobi").unwrap().as_str(), "Africa/Nairobi");
        assert_eq!(TimeZone::parse("UTC").unwrap().as_str(), "UTC");
        for bad in ["", "Mars/Olympus", "+03:00", "EAT "] {
            assert_eq!(TimeZone::parse(bad), Err(UserError::TimeZone), "{bad:?}");
        }
    }
}
