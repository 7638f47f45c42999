//! Masking of personal data for logs. Phone numbers, e-mail addresses and message
//! bodies never reach a log line in clear.

/// Keeps a `+` and the first three digits (country prefix) and the last two digits.
pub fn mask_phone(e164: &str) -> String {
    let chars: Vec<char> = e164.chars().collect();
    let keep_head = 4.min(chars.len());
    let keep_tail = 2.min(chars.len().saturating_sub(keep_head));
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep_head || i >= chars.len() - keep_tail { *c } else { '*' })
        .collect()
}

/// Keeps the first character of the local part and the whole domain (`a***@example.com`).
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Keeps the first and last four characters of a token (`abcd…wxyz`); short tokens are
/// hidden whole.
pub fn mask_token(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() <= 12 {
        return "***".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// A message body is never logged; only its length in characters is.
pub fn describe_body(body: &str) -> String {
    format!("<{} chars>", body.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_not_over_masked_or_panicking() {
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("+1"), "+1");
        assert_eq!(mask_phone("+123456"), "+123*56");
    }

    #[test]
    fn emails_and_tokens_keep_only_what_identifies_nobody() {
        assert_eq!(mask_email("ada.lovelace@example.com"), "a***@example.com");
        assert_eq!(mask_email("nonsense"), "***");
        assert_eq!(mask_token("short"), "***");
        assert_eq!(mask_token("abcdefghijklmnopqrstuvwxyz"), "abcd…wxyz");
    }

    #[test]
    fn body_description_reveals_only_the_length() {
        assert_eq!(describe_body("secret code 1234"), "<16 chars>");
    }
}
