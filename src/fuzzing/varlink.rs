//! The Varlink stream framing and the call and reply messages.

use super::{Input, split};
use crate::proto;
use crate::varlink::service::{self, Interface, ServiceInfo};
use serde_json::{Map, Value};

use crate::varlink::{Call, FrameDecoder, FrameError, Reply, VarlinkError};

/// What a stream decodes to: the frames, the error that stopped it, and the
/// bytes of the unfinished message left over.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Vec<u8>>,
    error: Option<FrameError>,
    rest: Vec<u8>,
}

/// What the specification says `stream` is, with messages of at most `max`
/// bytes: the NUL-terminated messages up to the first oversized one.
fn model(max: usize, stream: &[u8]) -> Outcome {
    let mut frames = Vec::new();
    let mut rest = stream;
    while let Some(nul) = rest.iter().position(|&b| b == 0) {
        if nul > max {
            break;
        }
        frames.push(rest[..nul].to_vec());
        rest = &rest[nul + 1..];
    }
    let oversized = rest.iter().position(|&b| b == 0).unwrap_or(rest.len()) > max;
    Outcome {
        frames,
        error: oversized.then_some(FrameError::TooLarge { max }),
        rest: if oversized { Vec::new() } else { rest.to_vec() },
    }
}

/// `FrameDecoder` on arbitrary bytes, cut into arbitrary reads, with an
/// arbitrary size limit: it never panics, never returns a frame over the
/// limit, and gives exactly the frames, error and leftover bytes of
/// [`model`] however the stream is cut (so the frames, each followed by a
/// NUL, are the stream's prefix).
pub fn varlink_frame(data: &[u8]) {
    let mut input = Input::new(data);
    let max = usize::from(input.u16() % 1024);
    let sizes = input.read_sizes();
    let stream = input.rest();
    let mut dec = FrameDecoder::new(max);
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        rest: Vec::new(),
    };
    for chunk in split(stream, &sizes) {
        dec.push(chunk);
        while out.error.is_none() {
            match dec.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max, "frame of {} > {max}", frame.len());
                    assert!(!frame.contains(&0), "frame holds a NUL");
                    out.frames.push(frame);
                }
                Ok(None) => break,
                Err(err) => out.error = Some(err),
            }
        }
    }
    if let Some(err) = &out.error {
        // Failed decoders stay failed.
        assert_eq!(dec.next_frame().as_ref(), Err(err));
        assert_eq!(dec.finish().as_ref(), Err(err));
    } else {
        let left = dec.buffered();
        assert_eq!(dec.has_partial(), left > 0);
        match dec.finish() {
            Ok(()) => assert_eq!(left, 0),
            Err(err) => assert_eq!(err, FrameError::Truncated { len: left }),
        }
        out.rest = dec.take_remaining();
        assert_eq!(out.rest.len(), left);
    }
    assert_eq!(out, model(max, stream));
}

/// The interfaces `org.varlink.service` describes, as the server has them.
const INTERFACES: &[Interface] = &[Interface {
    name: proto::INTERFACE,
    description: proto::DESCRIPTION,
}];

/// One frame parsed as a call and as a reply: neither parser panics, what
/// they accept encodes back to one frame that parses to the same value,
/// and a parsed call to `org.varlink.service` is answered without a panic
/// by a reply that itself round-trips.
pub fn varlink_message(frame: &[u8]) {
    match Call::parse(frame) {
        Ok(call) => check_call(&call),
        // The message is for the log: it must format.
        Err(err) => assert!(!err.to_string().is_empty()),
    }
    match Reply::parse(frame) {
        Ok(reply) => check_reply(&reply),
        Err(err) => assert!(!err.to_string().is_empty()),
    }
}

/// The wire bytes without their terminator, which must be the only NUL
/// (JSON escapes any NUL inside strings).
fn body(encoded: &[u8]) -> &[u8] {
    let (last, body) = encoded.split_last().expect("encoding wrote nothing");
    assert_eq!(*last, 0, "no NUL terminator");
    assert!(!body.contains(&0), "NUL inside the message");
    body
}

fn check_call(call: &Call) {
    let flags = [call.oneway, call.more, call.upgrade];
    assert!(flags.iter().filter(|&&f| f).count() <= 1, "{call:?}");
    if call.names_a_method() {
        assert!(!call.interface().is_empty() && !call.member().is_empty());
        assert_eq!(
            format!("{}.{}", call.interface(), call.member()),
            call.method
        );
    }
    let mut encoded = Vec::new();
    call.encode(&mut encoded);
    let again = Call::parse(body(&encoded)).expect("an encoded call parses");
    let flags = |c: &Call| (c.method.clone(), c.oneway, c.more, c.upgrade);
    assert_eq!(flags(&again), flags(call));
    assert!(
        same_map(&again.parameters, &call.parameters),
        "{again:?} != {call:?}"
    );
    if !call.names_a_method() {
        // Well-formed, but no method can have that name: MethodNotFound.
        check_reply(&VarlinkError::method_not_found(&call.method).into_reply());
    } else if call.interface() == service::INTERFACE {
        let info = ServiceInfo {
            vendor: "podmon".into(),
            product: "podmon".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            url: String::new(),
        };
        match service::handle(call, &info, INTERFACES) {
            Ok(reply) => check_reply(&reply),
            Err(err) => check_reply(&err.into_reply()),
        }
    } else {
        check_reply(&service::unknown_method(call, INTERFACES).into_reply());
    }
}

fn check_reply(reply: &Reply) {
    assert!(!(reply.continues && reply.error.is_some()), "{reply:?}");
    let mut encoded = Vec::new();
    reply.encode(&mut encoded);
    let again = Reply::parse(body(&encoded)).expect("an encoded reply parses");
    assert_eq!(
        (&again.error, again.continues),
        (&reply.error, reply.continues)
    );
    assert!(
        same_map(&again.parameters, &reply.parameters),
        "{again:?} != {reply:?}"
    );
}

/// Equal JSON, but for floats one unit in the last place apart: serde_json
/// (without its `float_roundtrip` feature) reads some long numbers, such as
/// a 65-digit integer, to the f64 next to the nearest one, so printing and
/// reading again can move a float by one ulp (fuzz/regressions/
/// varlink_message/float-one-ulp-off).
fn same_map(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| same_value(v, w)))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || x.to_bits().abs_diff(y.to_bits()) <= 1,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value(v, w))
        }
        (Value::Object(x), Value::Object(y)) => same_map(x, y),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_stops_at_the_first_oversized_message() {
        let out = model(4, b"12\x0012345\0ab\0");
        assert_eq!(out.frames, vec![b"12".to_vec()]);
        assert_eq!(out.error, Some(FrameError::TooLarge { max: 4 }));
        let out = model(4, b"1234\0\0ab");
        assert_eq!(out.frames, vec![b"1234".to_vec(), Vec::new()]);
        assert_eq!((out.error, out.rest), (None, b"ab".to_vec()));
        // An unterminated tail over the limit fails before its NUL comes.
        assert_eq!(
            model(1, b"abc").error,
            Some(FrameError::TooLarge { max: 1 })
        );
    }

    #[test]
    fn decoder_agrees_with_the_model_on_split_streams() {
        // max 8, reads of 1 and 3 bytes, then the stream.
        varlink_frame(b"\x00\x08\x02\x01\x03{}\0{\"a\":1}\0\0{\"too\":\"long\"}\0");
        varlink_message(br#"{"method":"org.varlink.service.GetInfo"}"#);
        varlink_message(br#"{"parameters":{"a":[1,2]},"continues":true}"#);
    }
}
