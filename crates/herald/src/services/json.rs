//! Reading loosely typed JSON the way the OpenAPI document promises.

/// A JSON number that is an integer in the JSON Schema sense: `3` and `3.0` alike (a
/// client that writes every number as a double is not wrong), but not `3.5`.
pub fn json_integer(value: &serde_json::Value) -> Option<i64> {
    // 2^63 is the first double past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    value.as_i64().or_else(|| {
        value.as_f64().filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f)).map(|f| f as i64)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::json_integer;

    #[test]
    fn integral_doubles_are_integers_and_fractions_are_not() {
        assert_eq!(json_integer(&json!(3)), Some(3));
        assert_eq!(json_integer(&json!(3.0)), Some(3));
        assert_eq!(json_integer(&json!(-2.0)), Some(-2));
        assert_eq!(json_integer(&json!(3.5)), None);
        assert_eq!(json_integer(&json!(1e19)), None);
        assert_eq!(json_integer(&json!("3")), None);
        assert_eq!(json_integer(&json!(i64::MAX)), Some(i64::MAX));
    }
}
