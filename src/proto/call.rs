//! Typed calls on top of the library's Varlink client: the request type
//! names the method and the reply type, so callers never spell either.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Method;
use crate::varlink::client::{Client, ClientError, Mode, Upgraded};
use crate::varlink::message::ProtocolError;
use crate::varlink::params;

/// The request as call parameters.
pub fn parameters<M: Method>(req: &M) -> Value {
    Value::Object(params::encode(req))
}

/// The method name and parameters a request goes out as (what the CLI's
/// tests compare).
#[cfg(test)]
pub fn wire<M: Method>(req: &M) -> (&'static str, Value) {
    (M::METHOD, parameters(req))
}

/// Reads reply parameters as `T`; a reply that does not fit the type is a
/// protocol failure (the server broke the contract).
pub fn decode<T: DeserializeOwned>(parameters: Map<String, Value>) -> Result<T, ClientError> {
    serde_json::from_value(Value::Object(parameters))
        .map_err(|e| ClientError::Protocol(ProtocolError::Json(e)))
}

/// A reply as JSON parameters again, for `--json` output and for
/// callers that print what the server said.
pub fn to_map<T: Serialize>(reply: &T) -> Map<String, Value> {
    params::encode(reply)
}

/// Calls `M` and returns its one reply.
pub fn call<M: Method>(client: &mut Client, req: &M) -> Result<M::Reply, ClientError> {
    decode(client.call(M::METHOD, parameters(req))?)
}

/// Calls `M` with `more` and hands every reply to `f`, in order.
pub fn call_more<M: Method>(
    client: &mut Client,
    req: &M,
    mut f: impl FnMut(M::Reply),
) -> Result<(), ClientError> {
    let mut failed = None;
    client.call_more(M::METHOD, parameters(req), |reply| {
        if failed.is_none() {
            match decode(reply) {
                Ok(r) => f(r),
                Err(e) => failed = Some(e),
            }
        }
    })?;
    failed.map_or(Ok(()), Err)
}

/// Sends `M` with `mode`; read its replies with [`next`].
pub fn send<M: Method>(client: &mut Client, req: &M, mode: Mode) -> Result<(), ClientError> {
    client.send(M::METHOD, parameters(req), mode)
}

/// The next reply of a call sent with [`send`], and whether more follow.
pub fn next<M: Method>(client: &mut Client) -> Result<(M::Reply, bool), ClientError> {
    let step = client.next_reply()?;
    Ok((decode(step.parameters)?, step.continues))
}

/// Makes an `upgrade` call of `M`: its one reply, and the connection that
/// then carries frames.
pub fn upgrade<M: Method>(client: Client, req: &M) -> Result<(M::Reply, Upgraded), ClientError> {
    let mut up = client.upgrade(M::METHOD, parameters(req))?;
    let reply = decode(std::mem::take(&mut up.reply))?;
    Ok((reply, up))
}
