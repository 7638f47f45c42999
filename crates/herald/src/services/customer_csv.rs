//! Reading a customer import: a CSV file whose header names the columns. `phone` is
//! required; `first_name`, `last_name`, `email`, `location` and `preferred_product` are
//! customer fields; any other column becomes an attribute.

use serde_json::{Map, Value};

use super::customers::{validate, CustomerInput, RowError};
use crate::model::CustomerFields;

/// Customer fields a CSV column may name; any other column becomes an attribute.
const CSV_FIELDS: [&str; 6] = ["phone", "first_name", "last_name", "email", "location", "preferred_product"];
/// Per-row errors kept for the answer, at most.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// A file read: the valid rows, and how many were not (the first of them with why).
#[derive(Debug, Default)]
pub struct ParsedCsv {
    pub valid: Vec<CustomerFields>,
    pub rejected: usize,
    pub errors: Vec<RowError>,
}

/// Reads a file; an `Err` (no readable header, or no `phone` column) means no row was taken.
pub fn parse(body: &[u8]) -> Result<ParsedCsv, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the CSV header cannot be read: {e}"))?
        .iter()
        .map(column_name)
        .collect();
    if !header.iter().any(|h| h == "phone") {
        return Err("the CSV header must name a 'phone' column".into());
    }
    let mut parsed = ParsedCsv::default();
    for record in reader.records() {
        let position = match &record {
            Ok(record) => record.position(),
            Err(error) => error.position(),
        };
        let line = position.map_or(0, csv::Position::line);
        let outcome = record
            .map_err(|e| format!("unreadable row: {e}"))
            .and_then(|record| validate(row(&header, &record)));
        match outcome {
            Ok(fields) => parsed.valid.push(fields),
            Err(message) => {
                parsed.rejected += 1;
                if parsed.errors.len() < MAX_REPORTED_ERRORS {
                    parsed.errors.push(RowError { line, message });
                }
            }
        }
    }
    Ok(parsed)
}

/// "Loyalty Tier" is the attribute `loyalty_tier`.
fn column_name(header: &str) -> String {
    header
        .trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect()
}

fn row(header: &[String], record: &csv::StringRecord) -> CustomerInput {
    let mut row = CustomerInput { attributes: Some(Map::new()), ..CustomerInput::default() };
    for (name, value) in header.iter().zip(record.iter()) {
        let value = (!value.is_empty()).then(|| value.to_owned());
        match name.as_str() {
            "phone" => row.phone = value.unwrap_or_default(),
            "first_name" => row.first_name = value,
            "last_name" => row.last_name = value,
            "email" => row.email = value,
            "location" => row.location = value,
            "preferred_product" => row.preferred_product = value,
            other if !CSV_FIELDS.contains(&other) => {
                if let (Some(value), Some(attributes)) = (value, row.attributes.as_mut()) {
                    attributes.insert(other.to_owned(), Value::String(value));
                }
            }
            _ => {}
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_fields_or_attributes_and_bad_rows_are_reported_by_line() {
        let csv = "\u{feff}Phone,First Name,Loyalty Tier,email\n\
                   +254712345678,Alice,gold,\n\
                   not-a-phone,Bob,,\n\
                   +254712345679,,,carol@example.com\n";
        let parsed = parse(csv.as_bytes()).unwrap();
        assert_eq!(parsed.valid.len(), 2);
        assert_eq!(parsed.valid[0].phone, "+254712345678");
        assert_eq!(parsed.valid[0].first_name.as_deref(), Some("Alice"));
        assert_eq!(parsed.valid[0].attributes["loyalty_tier"], "gold");
        assert_eq!(parsed.valid[1].email.as_deref(), Some("carol@example.com"));
        assert!(parsed.valid[1].attributes.is_empty(), "an empty cell is no attribute");
        assert_eq!(parsed.rejected, 1);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 3);
        assert!(parsed.errors[0].message.starts_with("'phone'"), "{:?}", parsed.errors);
    }

    #[test]
    fn a_file_without_a_phone_column_is_refused_whole() {
        let error = parse(b"name,email\nAlice,a@example.com\n").unwrap_err();
        assert_eq!(error, "the CSV header must name a 'phone' column");
    }

    #[test]
    fn a_row_with_the_wrong_number_of_cells_is_rejected_and_the_rest_kept() {
        let parsed = parse(b"phone,first_name\n+254712345678,Alice,extra\n+254712345679,Bob\n").unwrap();
        assert_eq!(parsed.valid.len(), 1);
        assert_eq!(parsed.rejected, 1);
        assert_eq!(parsed.errors[0].line, 2);
        assert!(parsed.errors[0].message.starts_with("unreadable row"), "{:?}", parsed.errors);
    }

    #[test]
    fn only_the_first_errors_are_kept_but_every_rejection_is_counted() {
        let mut csv = String::from("phone\n");
        for _ in 0..MAX_REPORTED_ERRORS + 5 {
            csv.push_str("nope\n");
        }
        let parsed = parse(csv.as_bytes()).unwrap();
        assert_eq!(parsed.rejected, MAX_REPORTED_ERRORS + 5);
        assert_eq!(parsed.errors.len(), MAX_REPORTED_ERRORS);
    }
}
