//! SMS encoding as networks count it: GSM 03.38 7-bit when every character is in that
//! alphabet or its extension table (whose characters take an escape and count two), UCS-2
//! (UTF-16) otherwise. One SMS holds 160 GSM-7 units or 70 UCS-2 units; a concatenated
//! message 153 or 67 per segment (the rest is the concatenation header), and a segment
//! never splits an escaped character or a surrogate pair. Smart encoding replaces the
//! typographic characters word processors produce (curly quotes, dashes, non-breaking
//! spaces, ellipses) by their GSM-7 look-alikes, so that such a text stays GSM-7 (a third
//! of the segments of UCS-2).

use std::borrow::Cow;

/// How an SMS text travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SmsEncoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// The length of an SMS text as a network counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SmsLength {
    /// Characters as a person counts them (Unicode scalar values).
    pub characters: usize,
    pub encoding: SmsEncoding,
    /// 7-bit units for GSM-7 (escaped characters count two), UTF-16 units for UCS-2.
    pub units: usize,
    /// Parts the message is sent in, what the sender pays for.
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "\u{c}^{}\\[~]|€";

/// Units of one single-part SMS, and of one segment of a concatenated one.
const GSM7_SINGLE: usize = 160;
const GSM7_SEGMENT: usize = 153;
const UCS2_SINGLE: usize = 70;
const UCS2_SEGMENT: usize = 67;

/// GSM-7 units of `c`: 1 in the basic alphabet, 2 in the extension table, `None` outside.
pub fn gsm7_units(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Segments for characters of these unit sizes, packed in order into parts of `segment`
/// units (a character never split across two parts), or 1 when all fit `single`.
fn segments(sizes: impl Iterator<Item = usize> + Clone, single: usize, segment: usize) -> usize {
    let total: usize = sizes.clone().sum();
    if total == 0 {
        return 0;
    }
    if total <= single {
        return 1;
    }
    let (mut parts, mut used) = (1, 0);
    for size in sizes {
        if used + size > segment {
            parts += 1;
            used = 0;
        }
        used += size;
    }
    parts
}

/// Counts `text` as an SMS.
pub fn sms_length(text: &str) -> SmsLength {
    let characters = text.chars().count();
    if text.chars().all(|c| gsm7_units(c).is_some()) {
        let sizes = text.chars().map(|c| gsm7_units(c).unwrap_or(1));
        let units = sizes.clone().sum();
        let segments = segments(sizes, GSM7_SINGLE, GSM7_SEGMENT);
        SmsLength { characters, encoding: SmsEncoding::Gsm7, units, segments }
    } else {
        let sizes = text.chars().map(char::len_utf16);
        let units = sizes.clone().sum();
        let segments = segments(sizes, UCS2_SINGLE, UCS2_SEGMENT);
        SmsLength { characters, encoding: SmsEncoding::Ucs2, units, segments }
    }
}

/// The GSM-7 look-alike of a typographic character, if it has one.
fn look_alike(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{00B4}' | '\u{0060}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' => "-",
        '\u{00A0}' | '\u{2002}' | '\u{2003}' | '\u{2007}' | '\u{2008}' | '\u{2009}' | '\u{200A}'
        | '\u{202F}' => " ",
        '\u{2026}' => "...",
        '\u{2022}' => "-",
        '\u{00D7}' => "x",
        '\u{2039}' => "<",
        '\u{203A}' => ">",
        '\t' => " ",
        '\u{200B}' | '\u{FEFF}' | '\u{00AD}' => "",
        _ => return None,
    })
}

/// `text` with typographic characters replaced by their GSM-7 look-alikes, when that does
/// not make it more segments (an ellipsis becomes three dots); `text` itself otherwise.
/// Other characters are kept: a text with an emoji or Cyrillic stays UCS-2, as it must.
pub fn smart_encode(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| look_alike(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match look_alike(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    if sms_length(&out).segments <= sms_length(text).segments {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn sms_length_counts_like_a_network() {
        let plain = sms_length("Hello");
        assert_eq!(
            (plain.encoding, plain.characters, plain.units, plain.segments),
            (SmsEncoding::Gsm7, 5, 5, 1)
        );
        assert_eq!(sms_length(&"a".repeat(160)).segments, 1);
        assert_eq!(sms_length(&"a".repeat(161)).segments, 2);
        assert_eq!(sms_length(&"a".repeat(306)).segments, 2);
        assert_eq!(sms_length(&"a".repeat(307)).segments, 3);
        let euro = sms_length("€5");
        assert_eq!((euro.encoding, euro.characters, euro.units), (SmsEncoding::Gsm7, 2, 3), "€ is an escape");
        let unicode = sms_length("Habari 👋");
        assert_eq!((unicode.encoding, unicode.characters, unicode.units), (SmsEncoding::Ucs2, 8, 9));
        assert_eq!(sms_length(&"ü€ж".repeat(24)).segments, 2, "72 UTF-16 units: two UCS-2 parts");
        assert_eq!(sms_length(&"а".repeat(70)).segments, 1);
        assert_eq!(sms_length(&"а".repeat(71)).segments, 2);
        assert_eq!(sms_length(&"а".repeat(134)).segments, 2);
        assert_eq!(sms_length(&"а".repeat(135)).segments, 3);
        assert_eq!(sms_length("").segments, 0);
    }

    #[test]
    fn an_escaped_character_is_never_split_across_segments() {
        // 152 units, then a two-unit €: it does not fit the first segment's last unit.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        let length = sms_length(&text);
        assert_eq!(length.units, 164);
        assert_eq!(length.segments, 2);
        let tight = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(sms_length(&tight).units, 306, "2 × 153 by units");
        assert_eq!(sms_length(&tight).segments, 3, "but the € moves to the second part");
        // A surrogate pair (an emoji) is never split either.
        let emoji = format!("{}👋{}", "ж".repeat(66), "ж".repeat(10));
        assert_eq!(sms_length(&emoji).segments, 2);
        let tight = format!("{}👋{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(sms_length(&tight).units, 134, "2 × 67 by units");
        assert_eq!(sms_length(&tight).segments, 3);
    }

    #[test]
    fn smart_encoding_keeps_typographic_text_gsm7() {
        let word = "\u{201C}Don\u{2019}t miss it\u{201D} \u{2013} 50%\u{00A0}off\u{2026}";
        assert_eq!(sms_length(word).encoding, SmsEncoding::Ucs2);
        let smart = smart_encode(word);
        assert_eq!(smart, "\"Don't miss it\" - 50% off...");
        assert_eq!(sms_length(&smart).encoding, SmsEncoding::Gsm7);
        assert!(matches!(smart_encode("plain text"), Cow::Borrowed(_)));
        assert_eq!(sms_length(&smart_encode("Habari 👋 \u{2019}")).encoding, SmsEncoding::Ucs2, "emoji stay");
    }

    fn segments_by_formula(units: usize, single: usize, segment: usize) -> usize {
        match units {
            0 => 0,
            n if n <= single => 1,
            n => n.div_ceil(segment),
        }
    }

    proptest! {
        #[test]
        fn basic_gsm7_text_uses_the_textbook_segment_counts(text in "[a-zA-Z0-9 .,!?@£$]{0,800}") {
            let length = sms_length(&text);
            prop_assert_eq!(length.encoding, SmsEncoding::Gsm7);
            prop_assert_eq!(length.units, text.chars().count());
            prop_assert_eq!(length.segments, segments_by_formula(length.units, 160, 153));
        }

        #[test]
        fn bmp_ucs2_text_uses_the_textbook_segment_counts(text in "[а-яА-Я ]{0,400}ж") {
            let length = sms_length(&text);
            prop_assert_eq!(length.encoding, SmsEncoding::Ucs2);
            prop_assert_eq!(length.segments, segments_by_formula(length.units, 70, 67));
        }

        #[test]
        fn segments_hold_every_unit_and_never_fewer_than_the_units_need(text in "\\PC{0,600}") {
            let length = sms_length(&text);
            let (single, segment) = match length.encoding {
                SmsEncoding::Gsm7 => (160, 153),
                SmsEncoding::Ucs2 => (70, 67),
            };
            if length.units > single {
                prop_assert!(length.segments >= length.units.div_ceil(segment));
                // At most one unit wasted per segment boundary.
                prop_assert!(length.segments <= length.units.div_ceil(segment - 1));
            } else {
                prop_assert_eq!(length.segments, usize::from(length.units > 0));
            }
        }

        #[test]
        fn smart_encoding_turns_typographic_text_into_gsm7(text in "[a-z \u{2018}\u{2019}\u{201C}\u{201D}\u{2013}\u{2014}\u{00A0}€]{0,400}") {
            let smart = smart_encode(&text);
            prop_assert_eq!(sms_length(&smart).encoding, SmsEncoding::Gsm7);
            let twice = smart_encode(&smart).into_owned();
            prop_assert_eq!(twice.as_str(), smart.as_ref());
        }

        #[test]
        fn smart_encoding_never_costs_a_segment(text in "[a-z\u{2026}\u{2019}ж👋]{0,300}") {
            let smart = smart_encode(&text);
            prop_assert!(sms_length(&smart).segments <= sms_length(&text).segments);
        }
    }
}
