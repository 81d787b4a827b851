//! The top-level fields of a message: read strictly (no duplicates, typed
//! flags, vendor extensions skipped) and written with defaults left out, for
//! both calls and replies.

use std::fmt;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::ProtocolError;

pub(super) fn is_false(b: &bool) -> bool {
    !*b
}

/// Serializes a message and its terminator. Serializing borrowed maps of
/// `serde_json::Value` into a `Vec` has no failure mode (string keys, finite
/// numbers, infallible writer); should that ever change the message is
/// dropped and logged rather than sent half-written.
pub(super) fn write_frame<T: Serialize>(out: &mut Vec<u8>, message: &T) {
    let len = out.len();
    match serde_json::to_writer(&mut *out, message) {
        Ok(()) => out.push(0),
        Err(err) => {
            out.truncate(len);
            log::error!("cannot serialize varlink message: {err}");
        }
    }
}

pub(super) fn invalid_type(field: &'static str, expected: &'static str) -> ProtocolError {
    ProtocolError::InvalidType { field, expected }
}

pub(super) fn flag(field: &'static str, value: &Value) -> Result<bool, ProtocolError> {
    match value {
        Value::Bool(b) => Ok(*b),
        // Absent and null are equivalent for nullable fields.
        Value::Null => Ok(false),
        _ => Err(invalid_type(field, "a boolean")),
    }
}

pub(super) fn parameters_value(value: Value) -> Result<Map<String, Value>, ProtocolError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid_type("parameters", "an object")),
    }
}

/// Vendor extensions (`"org.example": {...}`) are ignored, anything else
/// unknown is refused.
pub(super) fn unknown_key(key: String) -> Result<(), ProtocolError> {
    if key.contains('.') {
        Ok(())
    } else {
        Err(ProtocolError::UnknownField(key))
    }
}

/// Parses a message into its top-level fields, in order, refusing duplicates
/// (which `serde_json::Map` would silently collapse).
pub(super) fn parse_header(frame: &[u8]) -> Result<Vec<(String, Value)>, ProtocolError> {
    if frame.is_empty() {
        return Err(ProtocolError::Empty);
    }
    match serde_json::from_slice::<Header>(frame) {
        Ok(Header(Ok(fields))) => Ok(fields),
        Ok(Header(Err(duplicate))) => Err(ProtocolError::DuplicateField(duplicate)),
        Err(err) if err.is_data() && !starts_as_object(frame) => Err(ProtocolError::NotAnObject),
        Err(err) => Err(ProtocolError::Json(err)),
    }
}

/// Whether the first non-whitespace byte opens an object, to tell "not an
/// object" apart from data errors inside an object (e.g. an out-of-range
/// number).
fn starts_as_object(frame: &[u8]) -> bool {
    frame.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Top-level fields of a message, or the first duplicated key.
struct Header(Result<Vec<(String, Value)>, String>);

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = Header;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
                let mut fields: Vec<(String, Value)> = Vec::new();
                let mut duplicate = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<Value>()?;
                    if duplicate.is_none() && fields.iter().any(|(k, _)| *k == key) {
                        duplicate = Some(key.clone());
                    }
                    fields.push((key, value));
                }
                Ok(Header(match duplicate {
                    Some(key) => Err(key),
                    None => Ok(fields),
                }))
            }
        }
        deserializer.deserialize_map(HeaderVisitor)
    }
}
