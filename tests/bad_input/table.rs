//! The table of hostile requests: each case is the bytes sent on a fresh
//! connection and the answer the specification (or the IDL) asks for. The
//! runner sends every case, checks the answer, checks that the connection
//! goes on (or is closed) as it should, and that another client is served
//! after every case.

use podmon::proto::errors::ProtoError;
use serde_json::{Value, json};
use std::io::ErrorKind;
use std::time::Duration;

use crate::common::*;

/// What the server must answer.
#[derive(Debug, Clone)]
pub enum Expect {
    /// The error `name`, its parameter `key` one of `values` (any value
    /// when empty); the connection stays usable.
    Error {
        name: &'static str,
        key: Option<&'static str>,
        values: Vec<String>,
    },
    /// A successful reply; the connection stays usable.
    Ok,
    /// No reply: the connection is closed (malformed message).
    Close,
    /// The error `name` with `key` = `value`, then the close.
    ErrorThenClose {
        name: &'static str,
        key: &'static str,
        value: Value,
    },
    /// No reply at all (oneway); the next call is answered.
    Silent,
}

/// One hostile request.
pub struct Case {
    pub name: String,
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

/// The error `name` naming parameter `key` = one of `values`.
pub fn error(name: &'static str, key: &'static str, values: &[&str]) -> Expect {
    Expect::Error {
        name,
        key: Some(key),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// The error `name`, whatever its parameters.
pub fn error_only(name: &'static str) -> Expect {
    Expect::Error {
        name,
        key: None,
        values: vec![],
    }
}

pub const INVALID_PARAMETER: &str = "org.varlink.service.InvalidParameter";
pub const METHOD_NOT_FOUND: &str = "org.varlink.service.MethodNotFound";
pub const INTERFACE_NOT_FOUND: &str = "org.varlink.service.InterfaceNotFound";
pub const EXPECTED_MORE: &str = "org.varlink.service.ExpectedMore";
pub const LIMIT_EXCEEDED: &str = <podmon::proto::errors::LimitExceeded as ProtoError>::ERROR;
pub const SYSTEM_ERROR: &str = <podmon::proto::errors::SystemError as ProtoError>::ERROR;
pub const GET_INFO: &str = "org.varlink.service.GetInfo";

/// A case whose bytes are `msg` and its NUL.
pub fn raw(name: &str, msg: &[u8], expect: Expect) -> Case {
    let mut bytes = msg.to_vec();
    bytes.push(0);
    Case {
        name: name.to_owned(),
        bytes,
        expect,
    }
}

/// A case calling `method` with `params` (an object, or null).
pub fn call(name: &str, method: &str, params: Value, expect: Expect) -> Case {
    let msg = json!({"method": method, "parameters": params}).to_string();
    raw(name, msg.as_bytes(), expect)
}

/// Like [`call`] with `more` set.
pub fn call_more(name: &str, method: &str, params: Value, expect: Expect) -> Case {
    let msg = json!({"method": method, "parameters": params, "more": true}).to_string();
    raw(name, msg.as_bytes(), expect)
}

/// Runs every case on `pod`; returns a description of each wrong answer.
pub fn run(pod: &Pod, cases: &[Case]) -> Vec<String> {
    let mut other = pod.client();
    let mut wrong = vec![];
    for case in cases {
        if let Err(e) = run_one(pod, case) {
            wrong.push(format!("{}: {e}", case.name));
        }
        // The server serves others throughout.
        let r = other.call(GET_INFO, json!({}));
        if r.error().is_some() {
            wrong.push(format!("{}: another client got {:?}", case.name, r.0));
        }
    }
    wrong
}

fn run_one(pod: &Pod, case: &Case) -> Result<(), String> {
    let mut c = pod.client();
    c.set_read_timeout(Duration::from_secs(10));
    // A server that closes early may make a long write fail: the answer is
    // what counts.
    let _ = c.send_raw(&case.bytes);
    match &case.expect {
        Expect::Ok => {
            let v = reply(&mut c)?;
            if v.get("error").is_some() {
                return Err(format!("want a successful reply, got {v}"));
            }
            still_usable(&mut c)
        }
        Expect::Error { name, key, values } => {
            let v = reply(&mut c)?;
            check_error(&v, name, *key, values)?;
            still_usable(&mut c)
        }
        Expect::ErrorThenClose { name, key, value } => {
            let v = reply(&mut c)?;
            check_error(&v, name, Some(key), &[])?;
            if v["parameters"][*key] != *value {
                return Err(format!("want {key} = {value}, got {v}"));
            }
            closed(&mut c)
        }
        Expect::Close => closed(&mut c),
        Expect::Silent => {
            c.send(GET_INFO, json!({}));
            let v = reply(&mut c)?;
            if !v["parameters"]["interfaces"].is_array() {
                return Err(format!("a oneway call was answered: {v}"));
            }
            Ok(())
        }
    }
}

fn reply(c: &mut Client) -> Result<Value, String> {
    match c.read_raw() {
        Ok(Some(b)) => serde_json::from_slice(&b)
            .map_err(|e| format!("reply is not JSON ({e}): {}", String::from_utf8_lossy(&b))),
        Ok(None) => Err("closed without a reply".to_owned()),
        Err(e) => Err(format!("no reply: {e}")),
    }
}

fn check_error(v: &Value, name: &str, key: Option<&str>, values: &[String]) -> Result<(), String> {
    if v["error"] != json!(name) {
        return Err(format!("want {name}, got {v}"));
    }
    if v.get("continues").is_some_and(|c| c == true) {
        return Err(format!("error reply with continues: {v}"));
    }
    let Some(key) = key else { return Ok(()) };
    let got = &v["parameters"][key];
    let Some(got) = got
        .as_str()
        .map(str::to_owned)
        .or_else(|| (!got.is_null()).then(|| got.to_string()))
    else {
        return Err(format!("want parameter {key}, got {v}"));
    };
    // "command[0]" names the parameter as precisely as "command".
    let named = |want: &String| {
        got == *want || got.starts_with(&format!("{want}[")) || got.starts_with(&format!("{want}."))
    };
    if !values.is_empty() && !values.iter().any(named) {
        return Err(format!("want {key} one of {values:?}, got {v}"));
    }
    Ok(())
}

/// The connection answers the next call.
fn still_usable(c: &mut Client) -> Result<(), String> {
    c.send(GET_INFO, json!({}));
    let v = reply(c).map_err(|e| format!("after the answer: {e}"))?;
    if !v["parameters"]["interfaces"].is_array() {
        return Err(format!("after the answer GetInfo got {v}"));
    }
    Ok(())
}

/// The server closes without sending anything (more).
fn closed(c: &mut Client) -> Result<(), String> {
    match c.read_raw() {
        Ok(None) => Ok(()),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(()),
        Ok(Some(b)) => Err(format!(
            "want the connection closed, got {}",
            String::from_utf8_lossy(&b)
        )),
        Err(e) => Err(format!("want the connection closed: {e}")),
    }
}
