//! Varlink call and reply messages, and the error replies defined by
//! `org.varlink.service`.
//!
//! Parsing is strict where the specification demands the connection be
//! closed (malformed JSON, a non-object message, a missing or invalid
//! `method`, non-boolean flags, conflicting flags, unknown unprefixed header
//! fields, duplicate header fields): those are [`ProtocolError`]s. Vendor
//! extension headers (keys containing a `.`) are ignored, as the
//! specification asks.

use std::fmt;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use thiserror::Error;

/// `org.varlink.service.InterfaceNotFound`.
pub const INTERFACE_NOT_FOUND: &str = "org.varlink.service.InterfaceNotFound";
/// `org.varlink.service.MethodNotFound`.
pub const METHOD_NOT_FOUND: &str = "org.varlink.service.MethodNotFound";
/// `org.varlink.service.MethodNotImplemented`.
pub const METHOD_NOT_IMPLEMENTED: &str = "org.varlink.service.MethodNotImplemented";
/// `org.varlink.service.InvalidParameter`.
pub const INVALID_PARAMETER: &str = "org.varlink.service.InvalidParameter";
/// `org.varlink.service.PermissionDenied`.
pub const PERMISSION_DENIED: &str = "org.varlink.service.PermissionDenied";
/// `org.varlink.service.ExpectedMore`.
pub const EXPECTED_MORE: &str = "org.varlink.service.ExpectedMore";
/// `org.varlink.service.ExpectedUpgrade`.
pub const EXPECTED_UPGRADE: &str = "org.varlink.service.ExpectedUpgrade";

/// A message that breaks the wire protocol.
///
/// There is no reply for these: a server (or client) that sees one closes the
/// connection. The variants exist so the log says what the peer got wrong.
#[derive(Debug, Error)]
pub enum ProtocolError {
    /// The message between two NULs was empty.
    #[error("empty message")]
    Empty,
    /// The message is not valid UTF-8 JSON.
    #[error("malformed JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The message is valid JSON but not an object.
    #[error("message is not a JSON object")]
    NotAnObject,
    /// A header field appears twice, so its value is ambiguous.
    #[error("duplicate field {0:?}")]
    DuplicateField(String),
    /// An unprefixed header field the specification does not define.
    #[error("unknown field {0:?}")]
    UnknownField(String),
    /// A call without `method`.
    #[error("call without \"method\"")]
    MissingMethod,
    /// `method` is not `interface.Member` as the grammar defines them.
    #[error("invalid method name {0:?}")]
    InvalidMethod(String),
    /// A header field has the wrong JSON type.
    #[error("field {field:?} must be {expected}")]
    InvalidType {
        /// The header field.
        field: &'static str,
        /// What the specification requires, e.g. "a boolean".
        expected: &'static str,
    },
    /// More than one of `oneway`, `more` and `upgrade` is true.
    #[error("at most one of \"oneway\", \"more\" and \"upgrade\" may be set")]
    ConflictingFlags,
    /// A reply sets `continues` together with `error`.
    #[error("error reply with \"continues\" set")]
    ErrorWithContinues,
    /// A reply sets `continues` although the call did not set `more`.
    #[error("reply with \"continues\" to a call without \"more\"")]
    UnexpectedContinues,
    /// A reply's `error` is not a qualified error name.
    #[error("invalid error name {0:?}")]
    InvalidErrorName(String),
}

/// One method call, as received by a service or sent by a client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Call {
    /// Fully qualified method name, `interface.Member`.
    pub method: String,
    /// Input parameters; an absent or `null` `parameters` becomes empty.
    pub parameters: Map<String, Value>,
    /// The caller wants no reply at all, not even an error.
    pub oneway: bool,
    /// The caller accepts several replies (`continues`).
    pub more: bool,
    /// The caller asks to take the connection over after the reply.
    pub upgrade: bool,
}

/// One reply (or error reply), as sent by a service or received by a client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    /// Output parameters, or the error's parameters.
    pub parameters: Map<String, Value>,
    /// More replies to the same call follow; only for calls with `more`.
    pub continues: bool,
    /// Qualified error name when the call failed.
    pub error: Option<String>,
}

/// An error reply in the making: a qualified name plus parameters.
///
/// Handlers return it so the dispatcher can turn it into a [`Reply`] (or drop
/// it for `oneway` calls) in one place.
#[derive(Debug, Clone, PartialEq)]
pub struct VarlinkError {
    /// Qualified error name, e.g. `io.podmon.Pod.NoSuchContainer`.
    pub name: String,
    /// The error's parameters as declared in the interface.
    pub parameters: Map<String, Value>,
}

impl Call {
    /// Parses one frame received from a client.
    pub fn parse(frame: &[u8]) -> Result<Call, ProtocolError> {
        let mut call = Call::default();
        let mut method = None;
        for (key, value) in parse_header(frame)? {
            match key.as_str() {
                "method" => match value {
                    Value::String(s) => method = Some(s),
                    _ => return Err(invalid_type("method", "a string")),
                },
                "parameters" => call.parameters = parameters_value(value)?,
                "oneway" => call.oneway = flag("oneway", &value)?,
                "more" => call.more = flag("more", &value)?,
                "upgrade" => call.upgrade = flag("upgrade", &value)?,
                _ => unknown_key(key)?,
            }
        }
        let method = method.ok_or(ProtocolError::MissingMethod)?;
        if !is_method_name(&method) {
            return Err(ProtocolError::InvalidMethod(method));
        }
        call.method = method;
        if [call.oneway, call.more, call.upgrade]
            .iter()
            .filter(|&&set| set)
            .count()
            > 1
        {
            return Err(ProtocolError::ConflictingFlags);
        }
        Ok(call)
    }

    /// Builds a plain call, the common case for clients.
    pub fn new(method: impl Into<String>, parameters: Map<String, Value>) -> Call {
        Call {
            method: method.into(),
            parameters,
            ..Call::default()
        }
    }

    /// The interface part of the method name, used to route the call.
    pub fn interface(&self) -> &str {
        self.method
            .rsplit_once('.')
            .map_or("", |(interface, _)| interface)
    }

    /// The member (method) name within the interface.
    pub fn member(&self) -> &str {
        self.method
            .rsplit_once('.')
            .map_or(self.method.as_str(), |(_, member)| member)
    }

    /// Whether the caller expects any reply; `oneway` calls get none, not even
    /// errors.
    pub fn wants_reply(&self) -> bool {
        !self.oneway
    }

    /// Appends the call's JSON and its NUL terminator to `out`; false flags and
    /// empty parameters are omitted, as the specification recommends.
    pub fn encode(&self, out: &mut Vec<u8>) {
        #[derive(Serialize)]
        struct Wire<'a> {
            method: &'a str,
            #[serde(skip_serializing_if = "Map::is_empty")]
            parameters: &'a Map<String, Value>,
            #[serde(skip_serializing_if = "is_false")]
            oneway: bool,
            #[serde(skip_serializing_if = "is_false")]
            more: bool,
            #[serde(skip_serializing_if = "is_false")]
            upgrade: bool,
        }
        write_frame(
            out,
            &Wire {
                method: &self.method,
                parameters: &self.parameters,
                oneway: self.oneway,
                more: self.more,
                upgrade: self.upgrade,
            },
        );
    }
}

impl Reply {
    /// A successful, final reply.
    pub fn ok(parameters: Map<String, Value>) -> Reply {
        Reply {
            parameters,
            continues: false,
            error: None,
        }
    }

    /// A successful reply to a `more` call after which further replies follow.
    pub fn continues(parameters: Map<String, Value>) -> Reply {
        Reply {
            parameters,
            continues: true,
            error: None,
        }
    }

    /// Appends the reply's JSON and its NUL terminator to `out`; `continues`
    /// appears only when true, `error` only when set and `parameters` only when
    /// not empty.
    pub fn encode(&self, out: &mut Vec<u8>) {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(skip_serializing_if = "Map::is_empty")]
            parameters: &'a Map<String, Value>,
            #[serde(skip_serializing_if = "is_false")]
            continues: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<&'a str>,
        }
        write_frame(
            out,
            &Wire {
                parameters: &self.parameters,
                continues: self.continues,
                error: self.error.as_deref(),
            },
        );
    }

    /// Parses one frame received from a service.
    pub fn parse(frame: &[u8]) -> Result<Reply, ProtocolError> {
        let mut reply = Reply::default();
        for (key, value) in parse_header(frame)? {
            match key.as_str() {
                "parameters" => reply.parameters = parameters_value(value)?,
                "continues" => reply.continues = flag("continues", &value)?,
                "error" => match value {
                    Value::String(s) => reply.error = Some(s),
                    Value::Null => reply.error = None,
                    _ => return Err(invalid_type("error", "a string")),
                },
                _ => unknown_key(key)?,
            }
        }
        if let Some(name) = &reply.error {
            if !is_method_name(name) {
                return Err(ProtocolError::InvalidErrorName(name.clone()));
            }
            if reply.continues {
                return Err(ProtocolError::ErrorWithContinues);
            }
        }
        Ok(reply)
    }

    /// Turns an error reply into the error it carries; `None` for success.
    pub fn into_error(self) -> Result<Map<String, Value>, VarlinkError> {
        match self.error {
            Some(name) => Err(VarlinkError {
                name,
                parameters: self.parameters,
            }),
            None => Ok(self.parameters),
        }
    }
}

impl VarlinkError {
    /// Builds an error from its name and a JSON object of parameters; `null`
    /// means no parameters. Any other non-object value is a programming error:
    /// it is logged and stored under `"value"` rather than lost.
    pub fn new(name: impl Into<String>, parameters: Value) -> Self {
        let name = name.into();
        let parameters = match parameters {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                log::error!("varlink error {name} built with non-object parameters {other}");
                let mut map = Map::new();
                map.insert("value".to_owned(), other);
                map
            }
        };
        VarlinkError { name, parameters }
    }

    /// The call named an interface this service does not implement.
    pub fn interface_not_found(interface: &str) -> Self {
        Self::with_string(INTERFACE_NOT_FOUND, "interface", interface)
    }

    /// The interface is known but has no such member; `method` is the fully
    /// qualified name the client sent.
    pub fn method_not_found(method: &str) -> Self {
        Self::with_string(METHOD_NOT_FOUND, "method", method)
    }

    /// The interface declares the method but this service does not provide it.
    pub fn method_not_implemented(method: &str) -> Self {
        Self::with_string(METHOD_NOT_IMPLEMENTED, "method", method)
    }

    /// A parameter is missing, unknown or of the wrong type; `parameter` names
    /// it (a path such as `env[2]` for nested values).
    pub fn invalid_parameter(parameter: &str) -> Self {
        Self::with_string(INVALID_PARAMETER, "parameter", parameter)
    }

    /// The method only works with `more` set.
    pub fn expected_more() -> Self {
        Self::new(EXPECTED_MORE, Value::Null)
    }

    /// The method only works with `upgrade` set.
    pub fn expected_upgrade() -> Self {
        Self::new(EXPECTED_UPGRADE, Value::Null)
    }

    /// The peer is not allowed to make this call.
    pub fn permission_denied() -> Self {
        Self::new(PERMISSION_DENIED, Value::Null)
    }

    /// Whether this is the error `name`; saves string compares at call sites.
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }

    /// The error reply to send.
    pub fn into_reply(self) -> Reply {
        Reply {
            parameters: self.parameters,
            continues: false,
            error: Some(self.name),
        }
    }

    fn with_string(name: &str, key: &str, value: &str) -> Self {
        let mut parameters = Map::new();
        parameters.insert(key.to_owned(), Value::String(value.to_owned()));
        VarlinkError {
            name: name.to_owned(),
            parameters,
        }
    }
}

/// Renders `name: key=value, ...` with strings unquoted, for logs and CLI
/// messages.
impl fmt::Display for VarlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let mut sep = ": ";
        for (key, value) in &self.parameters {
            match value {
                Value::String(s) => write!(f, "{sep}{key}={s}")?,
                other => write!(f, "{sep}{key}={other}")?,
            }
            sep = ", ";
        }
        Ok(())
    }
}

impl std::error::Error for VarlinkError {}

/// Whether `name` is `interface.Member` per the Varlink grammar; error names
/// have the same shape.
pub fn is_method_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((interface, member)) => is_interface_name(interface) && is_member_name(member),
        None => false,
    }
}

/// Whether `name` is a valid interface name: at least two dot-separated
/// components of letters, digits and inner hyphens, the first starting with a
/// letter.
pub fn is_interface_name(name: &str) -> bool {
    let mut components = name.split('.');
    let Some(first) = components.next() else {
        return false;
    };
    if !first.starts_with(|c: char| c.is_ascii_alphabetic()) || !is_component(first) {
        return false;
    }
    let mut rest = 0;
    for component in components {
        if !is_component(component) {
            return false;
        }
        rest += 1;
    }
    rest > 0
}

/// One interface name component: `[A-Za-z0-9]([-]*[A-Za-z0-9])*`.
fn is_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !c.starts_with('-')
        && !c.ends_with('-')
}

/// A type, method or error name: `[A-Z][A-Za-z0-9]*`.
fn is_member_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Serializes a message and its terminator. Serializing borrowed maps of
/// `serde_json::Value` into a `Vec` has no failure mode (string keys, finite
/// numbers, infallible writer); should that ever change the message is
/// dropped and logged rather than sent half-written.
fn write_frame<T: Serialize>(out: &mut Vec<u8>, message: &T) {
    let len = out.len();
    match serde_json::to_writer(&mut *out, message) {
        Ok(()) => out.push(0),
        Err(err) => {
            out.truncate(len);
            log::error!("cannot serialize varlink message: {err}");
        }
    }
}

fn invalid_type(field: &'static str, expected: &'static str) -> ProtocolError {
    ProtocolError::InvalidType { field, expected }
}

fn flag(field: &'static str, value: &Value) -> Result<bool, ProtocolError> {
    match value {
        Value::Bool(b) => Ok(*b),
        // Absent and null are equivalent for nullable fields.
        Value::Null => Ok(false),
        _ => Err(invalid_type(field, "a boolean")),
    }
}

fn parameters_value(value: Value) -> Result<Map<String, Value>, ProtocolError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid_type("parameters", "an object")),
    }
}

/// Vendor extensions (`"org.example": {...}`) are ignored, anything else
/// unknown is refused.
fn unknown_key(key: String) -> Result<(), ProtocolError> {
    if key.contains('.') {
        Ok(())
    } else {
        Err(ProtocolError::UnknownField(key))
    }
}

/// Parses a message into its top-level fields, in order, refusing duplicates
/// (which `serde_json::Map` would silently collapse).
fn parse_header(frame: &[u8]) -> Result<Vec<(String, Value)>, ProtocolError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn parse_plain_call() {
        let call =
            Call::parse(br#"{"method":"io.podmon.Pod.GetContainer","parameters":{"id":"web"}}"#)
                .unwrap();
        assert_eq!(call.method, "io.podmon.Pod.GetContainer");
        assert_eq!(call.interface(), "io.podmon.Pod");
        assert_eq!(call.member(), "GetContainer");
        assert_eq!(call.parameters, obj(json!({"id": "web"})));
        assert!(!call.oneway && !call.more && !call.upgrade);
        assert!(call.wants_reply());
    }

    #[test]
    fn parse_each_flag() {
        let c = Call::parse(br#"{"method":"a.b.C","oneway":true}"#).unwrap();
        assert!(c.oneway && !c.more && !c.upgrade && !c.wants_reply());
        let c = Call::parse(br#"{"method":"a.b.C","more":true}"#).unwrap();
        assert!(!c.oneway && c.more && !c.upgrade);
        let c = Call::parse(br#"{"method":"a.b.C","upgrade":true}"#).unwrap();
        assert!(!c.oneway && !c.more && c.upgrade);
        let c = Call::parse(br#"{"method":"a.b.C","oneway":false,"more":null,"upgrade":false}"#)
            .unwrap();
        assert!(!c.oneway && !c.more && !c.upgrade);
        // Two flags set at once is a protocol violation...
        for pair in [
            br#"{"method":"a.b.C","oneway":true,"more":true}"#.as_slice(),
            br#"{"method":"a.b.C","more":true,"upgrade":true}"#,
            br#"{"method":"a.b.C","oneway":true,"upgrade":true}"#,
        ] {
            assert!(matches!(
                Call::parse(pair),
                Err(ProtocolError::ConflictingFlags)
            ));
        }
        // ...and so is a non-boolean flag.
        for bad in [
            br#"{"method":"a.b.C","oneway":1}"#.as_slice(),
            br#"{"method":"a.b.C","more":"true"}"#,
            br#"{"method":"a.b.C","upgrade":{}}"#,
        ] {
            assert!(matches!(
                Call::parse(bad),
                Err(ProtocolError::InvalidType {
                    expected: "a boolean",
                    ..
                })
            ));
        }
    }

    #[test]
    fn parameters_absent_null_and_empty_are_equivalent() {
        for frame in [
            br#"{"method":"a.b.C"}"#.as_slice(),
            br#"{"method":"a.b.C","parameters":null}"#,
            br#"{"method":"a.b.C","parameters":{}}"#,
        ] {
            assert!(Call::parse(frame).unwrap().parameters.is_empty());
        }
        assert!(matches!(
            Call::parse(br#"{"method":"a.b.C","parameters":[]}"#),
            Err(ProtocolError::InvalidType {
                field: "parameters",
                ..
            })
        ));
    }

    #[test]
    fn malformed_calls_are_protocol_errors() {
        assert!(matches!(Call::parse(b""), Err(ProtocolError::Empty)));
        assert!(matches!(Call::parse(b"{"), Err(ProtocolError::Json(_))));
        assert!(matches!(
            Call::parse(b"{\"method\":\"a.b.C\"} x"),
            Err(ProtocolError::Json(_))
        ));
        assert!(matches!(
            Call::parse(b"{\"method\":\"a.b.\xff\"}"),
            Err(ProtocolError::Json(_))
        ));
        assert!(matches!(Call::parse(b"\xff"), Err(ProtocolError::Json(_))));
        assert!(matches!(
            Call::parse(b"[1]"),
            Err(ProtocolError::NotAnObject)
        ));
        assert!(matches!(
            Call::parse(b"\"a.b.C\""),
            Err(ProtocolError::NotAnObject)
        ));
        assert!(matches!(
            Call::parse(b"null"),
            Err(ProtocolError::NotAnObject)
        ));
        assert!(matches!(
            Call::parse(b"{}"),
            Err(ProtocolError::MissingMethod)
        ));
        assert!(matches!(
            Call::parse(br#"{"parameters":{}}"#),
            Err(ProtocolError::MissingMethod)
        ));
        assert!(matches!(
            Call::parse(br#"{"method":42}"#),
            Err(ProtocolError::InvalidType {
                field: "method",
                ..
            })
        ));
        for bad in [
            "GetInfo",
            "a.getInfo",
            ".Foo",
            "a..b.Foo",
            "a.b.",
            "-a.b.Foo",
            "a.b-.Foo",
            "1a.b.Foo",
        ] {
            let frame = format!("{{\"method\":\"{bad}\"}}");
            assert!(
                matches!(
                    Call::parse(frame.as_bytes()),
                    Err(ProtocolError::InvalidMethod(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Call::parse(br#"{"method":"a.b.C","bogus":1}"#),
            Err(ProtocolError::UnknownField(k)) if k == "bogus"
        ));
        assert!(matches!(
            Call::parse(br#"{"method":"a.b.C","method":"a.b.D"}"#),
            Err(ProtocolError::DuplicateField(k)) if k == "method"
        ));
    }

    #[test]
    fn valid_method_names() {
        for good in [
            "a.b.C",
            "io.podmon.Pod.GetContainer",
            "org.varlink.service.GetInfo",
            "a-b.1c.X9",
            "x.2.Y",
        ] {
            assert!(is_method_name(good), "{good}");
        }
    }

    #[test]
    fn vendor_extensions_are_ignored() {
        let call =
            Call::parse(br#"{"method":"a.b.C","org.example":{"trace":1},"parameters":{"x":1}}"#)
                .unwrap();
        assert_eq!(call.parameters, obj(json!({"x": 1})));
    }

    #[test]
    fn whitespace_is_accepted() {
        let call = Call::parse(b" {\n \"method\" : \"a.b.C\" ,\n\t\"more\": true }\n").unwrap();
        assert!(call.more);
    }

    #[test]
    fn call_encode_omits_defaults_and_round_trips() {
        let mut out = Vec::new();
        Call::new("a.b.C", Map::new()).encode(&mut out);
        assert_eq!(out, b"{\"method\":\"a.b.C\"}\0");

        let call = Call {
            method: "io.podmon.Pod.ListContainers".into(),
            parameters: obj(json!({"x": [1, "two"], "s": "\u{0}é"})),
            more: true,
            ..Call::default()
        };
        let mut out = Vec::new();
        call.encode(&mut out);
        assert_eq!(out.last(), Some(&0));
        assert_eq!(
            out.iter().filter(|&&b| b == 0).count(),
            1,
            "NUL inside JSON must be escaped"
        );
        assert_eq!(Call::parse(&out[..out.len() - 1]).unwrap(), call);
    }

    #[test]
    fn reply_encoding() {
        let mut out = Vec::new();
        Reply::ok(Map::new()).encode(&mut out);
        assert_eq!(out, b"{}\0");

        let mut out = Vec::new();
        Reply::ok(obj(json!({"a": 1}))).encode(&mut out);
        assert_eq!(out, b"{\"parameters\":{\"a\":1}}\0");

        let mut out = Vec::new();
        Reply::continues(obj(json!({"a": 1}))).encode(&mut out);
        assert_eq!(out, b"{\"parameters\":{\"a\":1},\"continues\":true}\0");

        let mut out = Vec::new();
        VarlinkError::expected_more().into_reply().encode(&mut out);
        assert_eq!(out, b"{\"error\":\"org.varlink.service.ExpectedMore\"}\0");

        let mut out = Vec::new();
        VarlinkError::invalid_parameter("id")
            .into_reply()
            .encode(&mut out);
        assert_eq!(
            out,
            b"{\"parameters\":{\"parameter\":\"id\"},\"error\":\"org.varlink.service.InvalidParameter\"}\0"
        );
    }

    #[test]
    fn reply_round_trip() {
        let replies = [
            Reply::ok(Map::new()),
            Reply::ok(obj(
                json!({"container": {"id": "web", "pid": 42, "signal": null}}),
            )),
            Reply::continues(obj(json!({"n": 1}))),
            VarlinkError::new("io.podmon.Pod.NoSuchContainer", json!({"id": "web"})).into_reply(),
            VarlinkError::permission_denied().into_reply(),
        ];
        for reply in replies {
            let mut out = Vec::new();
            reply.encode(&mut out);
            let (last, body) = out.split_last().unwrap();
            assert_eq!(*last, 0);
            assert_eq!(Reply::parse(body).unwrap(), reply);
        }
    }

    #[test]
    fn reply_parse_rejects_protocol_violations() {
        assert!(matches!(
            Reply::parse(br#"{"error":"a.b.E","continues":true}"#),
            Err(ProtocolError::ErrorWithContinues)
        ));
        assert!(matches!(
            Reply::parse(br#"{"error":"nope"}"#),
            Err(ProtocolError::InvalidErrorName(_))
        ));
        assert!(matches!(
            Reply::parse(br#"{"error":5}"#),
            Err(ProtocolError::InvalidType { .. })
        ));
        assert!(matches!(
            Reply::parse(br#"{"continues":1}"#),
            Err(ProtocolError::InvalidType { .. })
        ));
        assert!(matches!(
            Reply::parse(br#"{"surprise":1}"#),
            Err(ProtocolError::UnknownField(_))
        ));
        assert!(matches!(
            Reply::parse(b"[]"),
            Err(ProtocolError::NotAnObject)
        ));
        assert!(matches!(Reply::parse(b""), Err(ProtocolError::Empty)));
        // Null parameters are the same as none; vendor keys are ignored.
        let r = Reply::parse(br#"{"parameters":null,"com.example":1}"#).unwrap();
        assert_eq!(r, Reply::ok(Map::new()));
    }

    #[test]
    fn reply_into_error() {
        let err =
            Reply::parse(br#"{"error":"io.podmon.Pod.NoSuchContainer","parameters":{"id":"web"}}"#)
                .unwrap()
                .into_error()
                .unwrap_err();
        assert!(err.is("io.podmon.Pod.NoSuchContainer"));
        assert_eq!(err.to_string(), "io.podmon.Pod.NoSuchContainer: id=web");
        assert_eq!(
            Reply::ok(obj(json!({"a": 1}))).into_error().unwrap(),
            obj(json!({"a": 1}))
        );
    }

    #[test]
    fn standard_errors() {
        let cases = [
            (
                VarlinkError::interface_not_found("x.y"),
                INTERFACE_NOT_FOUND,
                json!({"interface": "x.y"}),
            ),
            (
                VarlinkError::method_not_found("x.y.Z"),
                METHOD_NOT_FOUND,
                json!({"method": "x.y.Z"}),
            ),
            (
                VarlinkError::method_not_implemented("x.y.Z"),
                METHOD_NOT_IMPLEMENTED,
                json!({"method": "x.y.Z"}),
            ),
            (
                VarlinkError::invalid_parameter("id"),
                INVALID_PARAMETER,
                json!({"parameter": "id"}),
            ),
            (VarlinkError::expected_more(), EXPECTED_MORE, json!({})),
            (
                VarlinkError::expected_upgrade(),
                EXPECTED_UPGRADE,
                json!({}),
            ),
            (
                VarlinkError::permission_denied(),
                PERMISSION_DENIED,
                json!({}),
            ),
        ];
        for (err, name, params) in cases {
            assert_eq!(err.name, name);
            assert_eq!(Value::Object(err.parameters), params);
        }
        assert_eq!(VarlinkError::expected_more().to_string(), EXPECTED_MORE);
        let odd = VarlinkError::new("a.b.E", json!(3));
        assert_eq!(Value::Object(odd.parameters), json!({"value": 3}));
    }
}
