//! Typed decoding and encoding of call and reply parameters.
//!
//! Method handlers work with plain serde structs; this module turns every
//! decoding failure into the `org.varlink.service.InvalidParameter` error the
//! specification asks for, naming the offending field so the client can tell
//! which one to fix.
//!
//! Parameter structs should carry `#[serde(deny_unknown_fields)]` (the
//! specification asks services to refuse unknown fields; serde cannot do so
//! on a struct's behalf) and use `Option<T>` for the IDL's `?T` fields, which
//! makes an absent field and `null` equivalent, as the specification requires.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;
use thiserror::Error;

use super::message::VarlinkError;

/// A parameter that could not be decoded, with serde's reason for logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid parameter {parameter:?}: {reason}")]
pub struct ParamError {
    /// Path of the field: `id`, `container.status`, `env[2]`; `parameters`
    /// when the object as a whole is wrong.
    pub parameter: String,
    /// serde's description of the problem, for the server's log.
    pub reason: String,
}

impl ParamError {
    /// The field had the right type (an integer) but a value its Rust type
    /// cannot hold: `-1` or `2^32` for a `u32`. The IDL's `int` is 64 bits,
    /// so for the caller this is a value out of range, not a wrong type.
    pub fn integer_out_of_range(&self) -> bool {
        self.reason.starts_with("invalid value: integer")
    }
}

impl From<ParamError> for VarlinkError {
    fn from(err: ParamError) -> Self {
        VarlinkError::invalid_parameter(&err.parameter)
    }
}

/// Deserializes parameters into `T`; a missing field, an unknown field or a
/// wrongly typed field becomes `org.varlink.service.InvalidParameter` naming
/// that field (nested fields as `a.b`, array elements as `a[0]`).
pub fn decode<T: DeserializeOwned>(parameters: &Map<String, Value>) -> Result<T, VarlinkError> {
    try_decode(parameters).map_err(|err| {
        log::debug!("{err}");
        VarlinkError::from(err)
    })
}

/// Like [`decode`], but keeps serde's reason so callers can log or report it.
pub fn try_decode<T: DeserializeOwned>(parameters: &Map<String, Value>) -> Result<T, ParamError> {
    serde_path_to_error::deserialize(parameters).map_err(|err| {
        let mut parameter = path_string(err.path());
        let reason = err.inner().to_string();
        if let Some(missing) = missing_field(&reason) {
            if !parameter.is_empty() {
                parameter.push('.');
            }
            parameter.push_str(missing);
        }
        if parameter.is_empty() {
            parameter.push_str("parameters");
        }
        ParamError { parameter, reason }
    })
}

/// Serializes a reply struct into a parameters map; `None` fields are omitted
/// when the struct says so with `skip_serializing_if`.
///
/// A value that does not serialize to an object (a programming error, e.g. a
/// map with non-string keys) is logged and yields empty parameters; use
/// [`try_encode`] to handle that case.
pub fn encode<T: Serialize>(value: &T) -> Map<String, Value> {
    try_encode(value).unwrap_or_else(|err| {
        log::error!("cannot encode varlink parameters: {err}");
        Map::new()
    })
}

/// Why a value cannot be used as parameters.
#[derive(Debug, Error)]
pub enum EncodeError {
    /// serde_json refused the value.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The value serialized to something other than an object or unit.
    #[error("parameters must serialize to a JSON object, not {0}")]
    NotAnObject(&'static str),
}

/// Serializes a reply struct into a parameters map, reporting failures; a
/// unit value (`()`, unit struct) gives empty parameters.
pub fn try_encode<T: Serialize>(value: &T) -> Result<Map<String, Value>, EncodeError> {
    match serde_json::to_value(value)? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        Value::Bool(_) => Err(EncodeError::NotAnObject("a boolean")),
        Value::Number(_) => Err(EncodeError::NotAnObject("a number")),
        Value::String(_) => Err(EncodeError::NotAnObject("a string")),
        Value::Array(_) => Err(EncodeError::NotAnObject("an array")),
    }
}

/// `a.b[2].c` from serde_path_to_error's segments.
fn path_string(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// The field name in serde's "missing field `x`" message: serde reports a
/// missing field at the enclosing struct, so the path alone does not name it.
fn missing_field(reason: &str) -> Option<&str> {
    reason
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(field, _)| field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varlink::message::INVALID_PARAMETER;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Create {
        id: String,
        command: Option<Vec<String>>,
        memory_max: Option<u64>,
        limits: Option<Limits>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        pids: u32,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Empty {}

    fn params(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn bad_param<T: DeserializeOwned + std::fmt::Debug>(v: Value) -> String {
        let err = decode::<T>(&params(v)).unwrap_err();
        assert_eq!(err.name, INVALID_PARAMETER);
        match err.parameters.get("parameter") {
            Some(Value::String(s)) => s.clone(),
            other => panic!("no parameter name: {other:?}"),
        }
    }

    #[test]
    fn decodes_valid_parameters() {
        let c: Create = decode(&params(json!({
            "id": "web", "command": ["sh", "-c", "true"], "memoryMax": 1024, "limits": {"pids": 5}
        })))
        .unwrap();
        assert_eq!(c.id, "web");
        assert_eq!(c.memory_max, Some(1024));
        assert_eq!(c.limits, Some(Limits { pids: 5 }));
    }

    #[test]
    fn null_and_absent_optional_fields_are_equivalent() {
        let a: Create = decode(&params(json!({"id": "x"}))).unwrap();
        let b: Create = decode(&params(
            json!({"id": "x", "command": null, "memoryMax": null}),
        ))
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn names_missing_field() {
        assert_eq!(bad_param::<Create>(json!({})), "id");
        assert_eq!(
            bad_param::<Create>(json!({"id": "x", "limits": {}})),
            "limits.pids"
        );
    }

    #[test]
    fn names_unknown_field() {
        assert_eq!(bad_param::<Create>(json!({"id": "x", "bogus": 1})), "bogus");
        assert_eq!(
            bad_param::<Create>(json!({"id": "x", "limits": {"pids": 1, "cpu": 2}})),
            "limits.cpu"
        );
        assert_eq!(bad_param::<Empty>(json!({"x": 1})), "x");
    }

    #[test]
    fn names_wrongly_typed_field() {
        assert_eq!(bad_param::<Create>(json!({"id": 5})), "id");
        assert_eq!(bad_param::<Create>(json!({"id": null})), "id");
        assert_eq!(
            bad_param::<Create>(json!({"id": "x", "memoryMax": -1})),
            "memoryMax"
        );
        assert_eq!(
            bad_param::<Create>(json!({"id": "x", "memoryMax": 1.5})),
            "memoryMax"
        );
        assert_eq!(
            bad_param::<Create>(json!({"id": "x", "command": "sh"})),
            "command"
        );
        assert_eq!(
            bad_param::<Create>(json!({"id": "x", "command": ["sh", 1]})),
            "command[1]"
        );
        assert_eq!(
            bad_param::<Create>(json!({"id": "x", "limits": {"pids": "5"}})),
            "limits.pids"
        );
    }

    #[test]
    fn try_decode_keeps_the_reason() {
        let err = try_decode::<Create>(&params(json!({"id": "x", "bogus": 1}))).unwrap_err();
        assert_eq!(err.parameter, "bogus");
        assert!(err.reason.contains("unknown field"), "{}", err.reason);
    }

    #[test]
    fn empty_parameters_decode_into_empty_struct() {
        let _: Empty = decode(&Map::new()).unwrap();
        let _: () = decode(&Map::new()).unwrap_or(());
    }

    #[test]
    fn encode_omits_skipped_none_fields() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out {
            exit_code: i32,
            #[serde(skip_serializing_if = "Option::is_none")]
            signal: Option<String>,
        }
        let map = encode(&Out {
            exit_code: 137,
            signal: None,
        });
        assert_eq!(Value::Object(map), json!({"exitCode": 137}));
        let map = encode(&Out {
            exit_code: 137,
            signal: Some("SIGKILL".into()),
        });
        assert_eq!(
            Value::Object(map),
            json!({"exitCode": 137, "signal": "SIGKILL"})
        );
    }

    #[test]
    fn encode_unit_and_non_objects() {
        assert!(encode(&()).is_empty());
        assert!(matches!(
            try_encode(&5),
            Err(EncodeError::NotAnObject("a number"))
        ));
        assert!(encode(&"s").is_empty());
    }
}
