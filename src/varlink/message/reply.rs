//! A reply, successful or not: what a service sends back for a call and
//! what a client checks before trusting it.

use serde::Serialize;
use serde_json::{Map, Value};

use super::header::{
    flag, invalid_type, is_false, parameters_value, parse_header, unknown_key, write_frame,
};
use super::names::is_method_name;
use super::{ProtocolError, VarlinkError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varlink::message::obj;
    use serde_json::json;

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
}
