//! A method call: parsing what a client sent and encoding what a client
//! sends, with the flags (`oneway`, `more`, `upgrade`) that decide how the
//! call is answered.

use serde::Serialize;
use serde_json::{Map, Value};

use super::ProtocolError;
use super::header::{
    flag, invalid_type, is_false, parameters_value, parse_header, unknown_key, write_frame,
};
use super::names::is_method_name;

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
        // A string that is not `interface.Member` still makes a well-formed
        // message: it names no method, and the answer is MethodNotFound (see
        // `names_a_method`), not a closed connection.
        call.method = method.ok_or(ProtocolError::MissingMethod)?;
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

    /// Whether `method` is `interface.Member` as the grammar defines them.
    /// A call that fails this is answered with
    /// `org.varlink.service.MethodNotFound` naming what was sent: the
    /// specification closes the connection only for malformed messages, and
    /// a bad name is a well-formed message asking for a method that cannot
    /// exist.
    pub fn names_a_method(&self) -> bool {
        is_method_name(&self.method)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varlink::message::obj;
    use serde_json::json;

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
            let frame = format!("{{\"method\":\"{bad}\",\"oneway\":true}}");
            let call = Call::parse(frame.as_bytes()).unwrap();
            assert!(!call.names_a_method(), "{bad}");
            assert_eq!(call.method, bad);
            // The flags are read, so a oneway call stays unanswered.
            assert!(call.oneway, "{bad}");
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
}
