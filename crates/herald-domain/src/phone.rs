//! E.164 phone numbers, validated against libphonenumber's metadata.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number known to be valid, held in E.164 form (`+31633450007`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error("must be a phone number in international format, such as +31612345678")]
    Unparseable,
    #[error("is not a valid phone number for its country")]
    Invalid,
}

impl PhoneNumber {
    /// Parses a number in international form. A leading `+` is optional (`31633450007`
    /// and `+31633450007` are the same number); spaces, dashes, dots and parentheses are
    /// tolerated as separators. National forms without a country code are rejected: herald
    /// cannot guess the country.
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let trimmed = input.trim();
        let digits: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits = digits.strip_prefix('+').unwrap_or(&digits);
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneNumberError::Unparseable);
        }
        let parsed =
            phonenumber::parse(None, format!("+{digits}")).map_err(|_| PhoneNumberError::Unparseable)?;
        if !parsed.is_valid() {
            return Err(PhoneNumberError::Invalid);
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self(e164))
    }

    /// The sms-processor contract sends the recipient as a JSON number: `31633450007`
    /// means `+31633450007`.
    pub fn from_number(number: u64) -> Result<Self, PhoneNumberError> {
        Self::parse(&number.to_string())
    }

    /// A number herald parsed before and stored itself, read back without parsing again.
    pub(crate) fn from_stored(e164: String) -> Self {
        Self(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: country prefix and last two digits only (`+316*******07`).
    pub fn masked(&self) -> String {
        crate::mask::mask_phone(&self.0)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_number_form_of_a_dutch_mobile_is_accepted() {
        let number = PhoneNumber::from_number(31633450007).unwrap();
        assert_eq!(number.as_str(), "+31633450007");
    }

    #[test]
    fn plus_and_separators_are_normalised_to_e164() {
        for input in ["+254712345678", "254712345678", "+254 712-345.678", " +254 (712) 345678 "] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), "+254712345678", "{input}");
        }
    }

    #[test]
    fn too_short_numbers_are_rejected() {
        assert!(PhoneNumber::parse("123").is_err());
        assert!(PhoneNumber::from_number(31).is_err());
    }

    #[test]
    fn non_numeric_input_is_rejected() {
        for input in ["", "+", "abc", "31a633450007", "++31633450007", "1234567890123456"] {
            assert!(PhoneNumber::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn numbers_outside_any_numbering_plan_are_invalid() {
        assert_eq!(PhoneNumber::parse("+999123456789"), Err(PhoneNumberError::Unparseable));
    }

    #[test]
    fn masked_form_hides_the_subscriber_digits() {
        let number = PhoneNumber::parse("+31633450007").unwrap();
        let masked = number.masked();
        assert!(!masked.contains("3345"), "{masked}");
        assert!(masked.ends_with("07"), "{masked}");
        assert_eq!(masked.len(), number.as_str().len());
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(n in 100_000_000u64..999_999_999_999_999u64) {
            if let Ok(number) = PhoneNumber::from_number(n) {
                let again = PhoneNumber::parse(number.as_str()).unwrap();
                prop_assert_eq!(again, number);
            }
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,24}") {
            let _ = PhoneNumber::parse(&s);
        }
    }
}
