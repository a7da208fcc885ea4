//! Strict JSON: a document in which an object gives the same key twice is refused. RFC 8259 leaves
//! duplicate names to the reader, and serde keeps the last one silently, so `{"active_warrant": true, …,
//! "active_warrant": false}` would read as "no warrant": a screening must never depend on key order.

use std::collections::HashSet;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// A JSON document that is not well-formed, or that repeats a key in one object.
#[derive(Debug, thiserror::Error)]
pub enum StrictJsonError {
    /// Not JSON at all (`serde_json`'s message, with line and column).
    #[error("the body is not valid JSON: {0}")]
    Syntax(serde_json::Error),
    /// An object gives one key twice (`serde_json`'s message names the key, the line and the column).
    #[error("{0}")]
    DuplicateKey(serde_json::Error),
}

/// Checks that no object in `bytes` repeats a key.
///
/// # Examples
/// ```
/// use leadmap::formats::json::{check_unique_keys, StrictJsonError};
/// assert!(check_unique_keys(br#"{"a": 1, "b": {"a": 2}}"#).is_ok());
/// let e = check_unique_keys(br#"{"facts": {"warrant": true, "warrant": false}}"#).unwrap_err();
/// assert!(matches!(e, StrictJsonError::DuplicateKey(_)));
/// assert!(e.to_string().starts_with(r#"the key "warrant" is given twice in one object"#), "{e}");
/// ```
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = Unique.deserialize(&mut de).and_then(|()| de.end());
    result.map_err(|e| if e.is_data() { StrictJsonError::DuplicateKey(e) } else { StrictJsonError::Syntax(e) })
}

/// Walks any JSON value, refusing an object that repeats a key.
#[derive(Clone, Copy)]
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key {key:?} is given twice in one object: give each key once"
                )));
            }
            map.next_value_seed(Unique)?;
            keys.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_at_any_depth_and_named_with_their_place() {
        for ok in [&b"[]"[..], br#"{"a":[{"a":1},{"a":2}],"b":null}"#, br#" "text" "#] {
            assert!(check_unique_keys(ok).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
        let e = check_unique_keys(b"{\"lon\": -122.0,\n \"lat\": 45.5, \"lon\": -122.6765}").unwrap_err();
        assert!(matches!(e, StrictJsonError::DuplicateKey(_)));
        assert!(e.to_string().contains(r#"the key "lon" is given twice"#), "{e}");
        assert!(e.to_string().contains("line 2"), "{e}");
        let deep = check_unique_keys(br#"{"substances":[{"substance":"heroin","grams":50,"grams":1}]}"#);
        assert!(matches!(deep, Err(StrictJsonError::DuplicateKey(_))));
        // An escaped spelling of the same key is the same key.
        assert!(check_unique_keys(br#"{"a":1,"\u0061":2}"#).is_err());
        assert!(matches!(check_unique_keys(b"{\"a\":1,"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(check_unique_keys(b"{} {}"), Err(StrictJsonError::Syntax(_))));
    }
}
