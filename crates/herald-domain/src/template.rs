//! Message templates: text with `{field}` placeholders, filled in per recipient.
//!
//! - `{first_name}` is replaced by the field's value.
//! - `{first_name|there}` gives a fallback for a field that is missing, null or empty.
//!   Without a fallback such a field renders as nothing.
//! - `{attributes.tier}` reads a free attribute of the customer.
//! - `{{` and `}}` are literal braces.
//!
//! Rendering is literal: a value is inserted as it is and never read as a template again,
//! so a customer named `{last_name}` is greeted as `{last_name}`.

use std::fmt;

/// Placeholder names a template may use besides `attributes.<key>`.
pub const CUSTOMER_FIELDS: [&str; 7] =
    ["id", "phone", "first_name", "last_name", "email", "location", "preferred_product"];

/// Longest template accepted, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field { name: String, fallback: Option<String> },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is empty")]
    Empty,
    #[error("the template is longer than {MAX_TEMPLATE_CHARS} characters")]
    TooLong,
    #[error("'{{' at character {0} is not closed by '}}' (write '{{{{' for a literal brace)")]
    Unclosed(usize),
    #[error("'}}' at character {0} closes nothing (write '}}}}' for a literal brace)")]
    StrayClose(usize),
    #[error("placeholder '{{{0}}}' is not a field name (letters, digits and '_', or attributes.<key>)")]
    BadName(String),
    #[error("unknown placeholder '{{{0}}}'; known: {known}, or attributes.<key>", known = CUSTOMER_FIELDS.join(", "))]
    UnknownField(String),
    #[error("the template is longer than {0} characters")]
    Longer(usize),
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_known(name: &str) -> bool {
    CUSTOMER_FIELDS.contains(&name) || name.strip_prefix("attributes.").is_some_and(is_identifier)
}

impl Template {
    /// Parses `source` and checks every placeholder names a customer field or attribute.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        Self::parse_checked(source, MAX_TEMPLATE_CHARS, |name| {
            if is_known(name) {
                Ok(())
            } else {
                Err(TemplateError::UnknownField(name.to_owned()))
            }
        })
    }

    /// Parses `source` with placeholders of any well-formed name (`{name}`, `{a.b}`), at
    /// most `max_chars` long; [`Template::fields`] then lists the names it uses.
    pub fn parse_any(source: &str, max_chars: usize) -> Result<Self, TemplateError> {
        if source.chars().count() > max_chars {
            return Err(TemplateError::Longer(max_chars));
        }
        Self::parse_checked(source, usize::MAX, |_| Ok(()))
    }

    fn parse_checked(
        source: &str,
        max_chars: usize,
        check: impl Fn(&str) -> Result<(), TemplateError>,
    ) -> Result<Self, TemplateError> {
        if source.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        if max_chars != usize::MAX && source.chars().count() > max_chars {
            return Err(TemplateError::TooLong);
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().enumerate().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err(TemplateError::StrayClose(at + 1)),
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => return Err(TemplateError::Unclosed(at + 1)),
                            Some((_, c)) => inner.push(c),
                        }
                    }
                    let (name, fallback) = match inner.split_once('|') {
                        Some((name, fallback)) => (name.trim(), Some(fallback.to_owned())),
                        None => (inner.trim(), None),
                    };
                    let well_formed = match name.split_once('.') {
                        Some((prefix, key)) => is_identifier(prefix) && is_identifier(key),
                        None => is_identifier(name),
                    };
                    if !well_formed {
                        return Err(TemplateError::BadName(inner));
                    }
                    check(name)?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Field { name: name.to_owned(), fallback });
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self { source: source.to_owned(), parts })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The placeholder names used, in order of first use.
    pub fn fields(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Field { name, .. } = part {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// Fills the placeholders from `lookup` (a field name to its value; `None` for missing
    /// or null). An empty value counts as missing. Values are inserted literally.
    pub fn render<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field { name, fallback } => match lookup(name).filter(|v| !v.is_empty()) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(fallback.as_deref().unwrap_or_default()),
                },
            }
        }
        out
    }
}

/// `value` with the characters HTML gives a meaning to written as entities, for a value
/// inserted into an HTML body.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn customer(field: &str) -> Option<&'static str> {
        match field {
            "first_name" => Some("Alice"),
            "preferred_product" => Some("Running Shoes"),
            "location" => Some("Nairobi"),
            "last_name" => Some(""),
            "attributes.tier" => Some("gold"),
            _ => None,
        }
    }

    #[test]
    fn placeholders_are_replaced_by_field_values() {
        let t = Template::parse("Hi {first_name}, check out {preferred_product} in {location}!").unwrap();
        assert_eq!(t.render(customer), "Hi Alice, check out Running Shoes in Nairobi!");
        assert_eq!(t.fields(), ["first_name", "preferred_product", "location"]);
    }

    #[test]
    fn missing_null_and_empty_fields_use_the_fallback_or_nothing() {
        let t = Template::parse("Hi {email|friend} {last_name|X}{last_name}!").unwrap();
        assert_eq!(t.render(customer), "Hi friend X!");
        let t = Template::parse("Dear {email}.").unwrap();
        assert_eq!(t.render(customer), "Dear .");
    }

    #[test]
    fn attributes_and_literal_braces() {
        let t = Template::parse("{{VIP}} tier: {attributes.tier}, {attributes.missing|none} }}").unwrap();
        assert_eq!(t.render(customer), "{VIP} tier: gold, none }");
    }

    #[test]
    fn values_are_never_rendered_again() {
        let t = Template::parse("Hi {first_name}").unwrap();
        assert_eq!(t.render(|_| Some("{last_name}")), "Hi {last_name}");
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        assert_eq!(Template::parse(" "), Err(TemplateError::Empty));
        assert_eq!(Template::parse("Hi {first_name"), Err(TemplateError::Unclosed(4)));
        assert_eq!(Template::parse("Hi first_name}"), Err(TemplateError::StrayClose(14)));
        assert_eq!(Template::parse("Hi {nickname}"), Err(TemplateError::UnknownField("nickname".into())));
        assert_eq!(Template::parse("Hi {first name}"), Err(TemplateError::BadName("first name".into())));
        assert_eq!(Template::parse("Hi {x.y}"), Err(TemplateError::UnknownField("x.y".into())));
        assert!(Template::parse(&"a".repeat(MAX_TEMPLATE_CHARS + 1)).is_err());
        let message = TemplateError::UnknownField("nickname".into()).to_string();
        assert!(message.contains("{nickname}") && message.contains("first_name"), "{message}");
    }

    #[test]
    fn any_well_formed_placeholder_parses_and_is_listed() {
        let t = Template::parse_any("Order {order_id|?} ships {date} to {user.city}", 100).unwrap();
        assert_eq!(t.fields(), ["order_id", "date", "user.city"]);
        assert_eq!(
            Template::parse_any("Hi {first name}", 100),
            Err(TemplateError::BadName("first name".into()))
        );
        assert_eq!(Template::parse_any(&"a".repeat(101), 100), Err(TemplateError::Longer(100)));
        assert_eq!(
            escape_html(r#"<b>"Tom" & 'Jerry'</b>"#),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }

    proptest! {
        #[test]
        fn escaped_html_has_no_markup_left(value in ".{0,80}") {
            let escaped = escape_html(&value);
            prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
        }

        #[test]
        fn text_without_braces_renders_as_itself(text in "[^{}]{1,200}") {
            prop_assume!(!text.trim().is_empty());
            let t = Template::parse(&text).unwrap();
            prop_assert_eq!(t.render(|_| None), text);
        }

        #[test]
        fn any_value_is_inserted_verbatim(value in ".{0,50}") {
            let t = Template::parse("<{first_name}>").unwrap();
            let rendered = t.render(|_| Some(value.as_str()));
            let expected = format!("<{value}>");
            prop_assert_eq!(rendered, expected);
        }
    }
}
