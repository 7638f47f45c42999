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

/// Masks every phone number a text quotes (a run of 7 to 15 digits, with an optional
/// leading `+`) as [`mask_phone`] does; the rest of the text is kept. For provider error
/// texts, which often quote the number they refused.
pub fn mask_numbers(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit() || c == '+') {
        masked.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let plus = usize::from(candidate.starts_with('+'));
        let digits = candidate[plus..].bytes().take_while(u8::is_ascii_digit).count();
        let run = &candidate[..plus + digits];
        if (7..=15).contains(&digits) {
            masked.push_str(&mask_phone(run));
        } else {
            masked.push_str(if run.is_empty() { &candidate[..1] } else { run });
        }
        rest = &candidate[run.len().max(1)..];
    }
    masked.push_str(rest);
    masked
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
    fn numbers_in_a_text_are_masked_and_the_rest_kept() {
        assert_eq!(
            mask_numbers("The 'To' number +14155551001 is not valid (code 21211)"),
            "The 'To' number +141******01 is not valid (code 21211)"
        );
        assert_eq!(mask_numbers("msisdn 447911121001 barred"), "msisdn 4479******01 barred");
        assert_eq!(mask_numbers("+ and ++1 and 12+3"), "+ and ++1 and 12+3");
        assert_eq!(mask_numbers("HTTP 400: Ünïcode 20003"), "HTTP 400: Ünïcode 20003");
    }

    proptest::proptest! {
        #[test]
        fn masking_numbers_keeps_the_length_and_every_non_digit(text in "[ -~äé€]{0,60}") {
            let masked = mask_numbers(&text);
            proptest::prop_assert_eq!(masked.chars().count(), text.chars().count());
            for (a, b) in text.chars().zip(masked.chars()) {
                proptest::prop_assert!(a == b || (a.is_ascii_digit() && b == '*'));
            }
        }
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
