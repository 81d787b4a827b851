//! The parameters of every io.podmon.Pod method, decoded as `api` decodes
//! them, and their replies, decoded as the CLI decodes them.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::proto::{self, Method};
use crate::sys::signal;
use crate::sys::time::parse_rfc3339;
use crate::varlink::message::INVALID_PARAMETER;
use crate::varlink::params;

/// Runs `$check::<M>` for the method whose index is `$i`, and lists the
/// methods' names, from one list.
macro_rules! methods {
    ($($m:ident),* $(,)?) => {
        /// Every method the fuzz target decodes, by member name; the
        /// regression test holds this list to the IDL.
        pub const METHODS: &[&str] = &[$(<proto::$m as Method>::NAME),*];

        fn check_method(index: usize, parameters: &Map<String, Value>) {
            let checks: &[fn(&Map<String, Value>)] = &[$(check::<proto::$m>),*];
            checks[index % checks.len()](parameters);
        }
    };
}

methods!(
    CreateContainer,
    StartContainer,
    KillContainer,
    WaitContainer,
    DeleteContainer,
    GetContainer,
    ListContainers,
    SetLogRateLimit,
    ReopenLog,
    ReadLogs,
    ExecSync,
    Exec,
    Attach,
    OpenConsole,
    Resize,
    Stats,
    GetPod,
    WatchEvents,
    Shutdown,
    Reexec,
    RunInPod,
    PortForward,
    PurgeLog,
);

/// The first byte picks the method, the rest is the JSON of its
/// parameters. Decoding never panics; a failure is InvalidParameter naming
/// a parameter that is in the input (or one the input lacks); what decodes
/// encodes back to parameters that decode to the same encoding. The same
/// JSON read as the method's reply obeys the same round trip.
pub fn method_params(data: &[u8]) {
    let Some((&index, json)) = data.split_first() else {
        return;
    };
    // The server only ever sees an object: Call::parse refuses the rest.
    if let Ok(Value::Object(parameters)) = serde_json::from_slice::<Value>(json) {
        check_method(usize::from(index), &parameters);
    }
}

fn check<M: Method>(parameters: &Map<String, Value>) {
    match params::decode::<M>(parameters) {
        Ok(request) => {
            assert!(params::try_decode::<M>(parameters).is_ok());
            round_trip::<M>(&request);
            check_texts(parameters);
        }
        Err(err) => {
            let Err(detail) = params::try_decode::<M>(parameters) else {
                panic!("{}: decode failed, try_decode did not", M::NAME);
            };
            assert_eq!(err.name, INVALID_PARAMETER, "{}: {err}", M::NAME);
            let named = err.parameters.get("parameter").and_then(Value::as_str);
            assert_eq!(named, Some(detail.parameter.as_str()));
            assert!(
                names_a_parameter(&detail.parameter, &detail.reason, parameters),
                "{}: {detail} does not name a parameter of {parameters:?}",
                M::NAME
            );
        }
    }
    // Replies: what the client accepts, it can print and read again.
    if let Ok(reply) = serde_json::from_value::<M::Reply>(Value::Object(parameters.clone())) {
        round_trip::<M::Reply>(&reply);
    }
}

/// Encoding a decoded value and decoding that again reaches a fixed point
/// after one step (defaults filled in, nulls dropped).
fn round_trip<T: Serialize + DeserializeOwned>(value: &T) {
    let once = params::try_encode(value).expect("a decoded value encodes");
    let again: T = params::try_decode(&once).expect("an encoded value decodes");
    let twice = params::try_encode(&again).expect("a decoded value encodes");
    assert_eq!(once, twice, "{}", std::any::type_name::<T>());
}

/// Whether the error's parameter is `parameters` (the whole object), starts
/// with a key of the input (the bad field or one inside it), or is a field
/// serde reports missing.
fn names_a_parameter(parameter: &str, reason: &str, input: &Map<String, Value>) -> bool {
    let is_input_key = input.keys().any(|key| {
        parameter
            .strip_prefix(key.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    });
    let missing = reason
        .strip_prefix("missing field `")
        .and_then(|r| r.split_once('`'))
        .is_some_and(|(field, _)| parameter.ends_with(field));
    parameter == "parameters" || is_input_key || missing
}

/// The texts the handlers parse next, through the same parsers: `user`
/// (Exec, ExecSync) gives ids that print and parse back to the same,
/// `signal` (KillContainer) a signal number whose name parses back to it,
/// `since` (ReadLogs) a time or nothing; none of them panics.
fn check_texts(parameters: &Map<String, Value>) {
    let text = |key| parameters.get(key).and_then(Value::as_str);
    if let Some(Ok(user)) = text("user").map(proto::parse_user) {
        let printed = match user.gid {
            Some(gid) => format!("{}:{gid}", user.uid),
            None => user.uid.to_string(),
        };
        assert_eq!(proto::parse_user(&printed), Ok(user));
    }
    if let Some(Ok(n)) = text("signal").map(signal::parse_signal) {
        assert!((1..=signal::SIGRTMAX).contains(&n), "signal {n}");
        if let Some(name) = signal::signal_name(n) {
            assert_eq!(signal::parse_signal(name), Ok(n), "{name}");
        }
    }
    if let Some(since) = text("since") {
        let _ = parse_rfc3339(since);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_parameter_is_named_by_the_input_or_as_missing() {
        let input = map(json!({"id": 5, "limit": {"burst": "x"}}));
        assert!(names_a_parameter("id", "invalid type", &input));
        assert!(names_a_parameter("limit.burst", "invalid type", &input));
        assert!(names_a_parameter(
            "command",
            "missing field `command`",
            &input
        ));
        assert!(names_a_parameter("parameters", "invalid type", &input));
        assert!(!names_a_parameter("identity", "invalid type", &input));
        assert!(!names_a_parameter("cwd", "invalid type", &input));
    }

    #[test]
    fn every_method_decodes_its_own_parameters() {
        let get = [5u8]
            .iter()
            .chain(br#"{"id":"web"}"#)
            .copied()
            .collect::<Vec<_>>();
        method_params(&get);
        // A wrong type: InvalidParameter naming "id".
        method_params(b"\x05{\"id\":7}");
        assert_eq!(METHODS[5], "GetContainer");
    }
}
