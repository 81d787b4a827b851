//! io.podmon.Pod.PortForward: with `upgrade`, the connection becomes a
//! TCP connection to a port in the pod's network namespace.

use std::rc::Rc;

use super::{HandlerError, Replier, decode};
use crate::pod::{Pod, limits, port_forward};
use crate::proto;
use crate::session;
use crate::varlink::{Call, VarlinkError, params};

/// Connects first, so a port nobody listens on is an error reply on a
/// connection that stays Varlink; then replies and copies bytes.
pub async fn handle(pod: &Rc<Pod>, call: &Call, r: &mut Replier<'_>) -> Result<(), HandlerError> {
    let p: proto::PortForward = decode(call)?;
    let port = limits::port(p.port)?;
    if !r.upgrade_requested() {
        return Err(VarlinkError::expected_upgrade().into());
    }
    let tcp = port_forward::connect(pod, port).await?;
    r.reply(params::encode(&proto::container::Empty {})).await?;
    let (sock, io) = r.take_upgrade().expect("upgrade requested");
    session::forward(sock, io.leftover, io.pending, tcp).await;
    Ok(())
}
