//! What an email or a push notification carries besides its recipient and text: a subject
//! (or push title), an HTML alternative, a push data map. Each is parsed once at the
//! boundary; the limits are the ones the channels' services impose.

use std::collections::BTreeMap;

/// An email subject or a push title: not blank, one line (a line break in a header is
/// header injection), at most [`Subject::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

/// An email's HTML alternative: not blank, at most [`HtmlBody::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlBody(String);

/// A push notification's data map: string keys to string values, as FCM carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushData(BTreeMap<String, String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("must not be empty")]
    Empty,
    #[error("must be one line without control characters")]
    NotOneLine,
    #[error("must be at most {max} characters, got {actual}")]
    TooLong { max: usize, actual: usize },
    #[error("must be an object of string values; '{0}' is not a string")]
    NotAString(String),
    #[error("must be an object of string values")]
    NotAnObject,
    #[error("key '{0}' is reserved by FCM")]
    ReservedKey(String),
    #[error("keys must be 1 to {max} characters")]
    BadKey { max: usize },
    #[error("must have at most {max} entries, got {actual}")]
    TooManyEntries { max: usize, actual: usize },
}

fn within(input: &str, max: usize) -> Result<(), ContentError> {
    let actual = input.chars().count();
    if actual > max {
        return Err(ContentError::TooLong { max, actual });
    }
    Ok(())
}

impl Subject {
    /// RFC 5322's line limit.
    pub const MAX_CHARS: usize = 998;

    pub fn parse(input: &str) -> Result<Self, ContentError> {
        if input.trim().is_empty() {
            return Err(ContentError::Empty);
        }
        if input.chars().any(char::is_control) {
            return Err(ContentError::NotOneLine);
        }
        within(input, Self::MAX_CHARS)?;
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl HtmlBody {
    /// Mail clients clip longer bodies (Gmail at about 100 KB).
    pub const MAX_CHARS: usize = 100_000;

    pub fn parse(input: &str) -> Result<Self, ContentError> {
        if input.trim().is_empty() {
            return Err(ContentError::Empty);
        }
        within(input, Self::MAX_CHARS)?;
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Subject> for String {
    fn from(value: Subject) -> Self {
        value.0
    }
}

impl From<HtmlBody> for String {
    fn from(value: HtmlBody) -> Self {
        value.0
    }
}

impl PushData {
    pub const MAX_ENTRIES: usize = 100;
    pub const MAX_KEY_CHARS: usize = 128;
    /// FCM's limit for a whole message's notification and data payload.
    pub const MAX_PAYLOAD_BYTES: usize = 4096;

    /// Keys FCM refuses in a data map: `from`, `message_type`, `notification`, and those
    /// starting with `google.` or `gcm.`.
    pub fn is_reserved(key: &str) -> bool {
        matches!(key, "from" | "message_type" | "notification")
            || key.starts_with("google.")
            || key.starts_with("gcm.")
    }

    /// The data map of a request: a JSON object whose values are all strings.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, ContentError> {
        let serde_json::Value::Object(object) = value else {
            return Err(ContentError::NotAnObject);
        };
        if object.len() > Self::MAX_ENTRIES {
            return Err(ContentError::TooManyEntries { max: Self::MAX_ENTRIES, actual: object.len() });
        }
        let mut data = BTreeMap::new();
        for (key, value) in object {
            if key.is_empty() || key.chars().count() > Self::MAX_KEY_CHARS {
                return Err(ContentError::BadKey { max: Self::MAX_KEY_CHARS });
            }
            if Self::is_reserved(key) {
                return Err(ContentError::ReservedKey(key.clone()));
            }
            let serde_json::Value::String(value) = value else {
                return Err(ContentError::NotAString(key.clone()));
            };
            data.insert(key.clone(), value.clone());
        }
        Ok(Self(data))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    /// The bytes FCM counts against [`PushData::MAX_PAYLOAD_BYTES`] for a message with this
    /// data, title and body: the UTF-8 length of every key and value.
    pub fn payload_bytes(&self, title: Option<&str>, body: &str) -> usize {
        let data: usize = self.0.iter().map(|(k, v)| k.len() + v.len()).sum();
        data + title.map_or(0, str::len) + body.len()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subject_is_one_line_that_is_not_blank() {
        assert_eq!(Subject::parse("Your receipt").unwrap().as_str(), "Your receipt");
        assert_eq!(Subject::parse("  "), Err(ContentError::Empty));
        assert_eq!(Subject::parse("a\r\nBcc: x@example.com"), Err(ContentError::NotOneLine));
        assert!(matches!(Subject::parse(&"x".repeat(999)), Err(ContentError::TooLong { .. })));
        assert!(Subject::parse(&"é".repeat(998)).is_ok());
    }

    #[test]
    fn html_has_a_size_limit() {
        assert!(HtmlBody::parse("<p>hi</p>").is_ok());
        assert_eq!(HtmlBody::parse(""), Err(ContentError::Empty));
        assert_eq!(
            HtmlBody::parse(&"x".repeat(HtmlBody::MAX_CHARS + 1)),
            Err(ContentError::TooLong { max: HtmlBody::MAX_CHARS, actual: HtmlBody::MAX_CHARS + 1 })
        );
    }

    #[test]
    fn push_data_maps_strings_to_strings() {
        let data = PushData::from_json(&json!({"order": "42", "kind": "receipt"})).unwrap();
        assert_eq!(data.as_map().get("order").map(String::as_str), Some("42"));
        assert_eq!(PushData::from_json(&json!({"n": 1})), Err(ContentError::NotAString("n".into())));
        assert_eq!(PushData::from_json(&json!(["a"])), Err(ContentError::NotAnObject));
        assert_eq!(PushData::from_json(&json!({"from": "x"})), Err(ContentError::ReservedKey("from".into())));
        assert_eq!(
            PushData::from_json(&json!({"google.c": "x"})),
            Err(ContentError::ReservedKey("google.c".into()))
        );
        assert!(matches!(PushData::from_json(&json!({"": "x"})), Err(ContentError::BadKey { .. })));
        assert_eq!(data.payload_bytes(Some("Hi"), "body"), "order42kindreceipt".len() + 2 + 4);
    }
}
