//! How the monitor is asked to exit from inside the pod layer: the API
//! cannot reach up into the server (dependencies run server → api → pod),
//! so a handler leaves an [`ExitRequest`] on the [`Pod`] and the server's
//! main task, which waits for one (or a signal), acts on it.
//!
//! A `Shutdown` call holds an [`ExitClaim`] while it stops the containers
//! and replies: the server exits only once no claim is left, so neither a
//! signal nor a second call cuts the first one short, and the claim
//! requests the exit when it is dropped, replied or not (a client that
//! hangs up still gets the exit it asked for).

use std::rc::Rc;
use std::time::Duration;

use super::Pod;

/// Why and how the monitor should exit. An enum (not a flag) so that other
/// ways to end the process, such as re-executing a new binary for a live
/// upgrade, can join it and the server handles them all in one `match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitRequest {
    /// Stop serving and exit 0.
    Stop {
        /// Stop and delete every container first (SIGTERM, SIGKILL after
        /// `grace`); otherwise they are left running, their records on disk.
        kill_containers: bool,
        /// How long containers get between SIGTERM and SIGKILL.
        grace: Duration,
    },
    /// Exec the binary on disk in place (a live upgrade), handing the
    /// containers, their pipes and the socket over to it.
    Reexec,
}

/// A request to exit that is made when this is dropped; until then the
/// server waits (see the module's documentation).
pub struct ExitClaim {
    pod: Rc<Pod>,
    request: Option<ExitRequest>,
}

impl Drop for ExitClaim {
    fn drop(&mut self) {
        self.pod.exit_claims.set(self.pod.exit_claims.get() - 1);
        if let Some(r) = self.request.take() {
            self.pod.request_exit(r);
        }
        // The server may be waiting for the last claim, whoever requested.
        self.pod.exit_changed.notify_all();
    }
}

impl Pod {
    /// Asks the monitor to exit. The first request wins: a later one (a
    /// second Shutdown, or a signal while one is handled) is logged and
    /// dropped, so what the first caller was promised happens.
    pub fn request_exit(&self, request: ExitRequest) {
        let mut slot = self.exit.borrow_mut();
        if let Some(first) = &*slot {
            log::info!("exit already requested ({first:?}); ignoring {request:?}");
            return;
        }
        log::debug!("exit requested: {request:?}");
        self.note_stopping(&request);
        *slot = Some(request);
        drop(slot);
        self.exit_changed.notify_all();
    }

    /// Holds the monitor's exit back until the claim is dropped, which
    /// then requests `request`.
    pub fn claim_exit(self: &Rc<Self>, request: ExitRequest) -> ExitClaim {
        self.exit_claims.set(self.exit_claims.get() + 1);
        self.note_stopping(&request);
        ExitClaim {
            pod: self.clone(),
            request: Some(request),
        }
    }

    /// From the first stop asked for (a Shutdown call that still runs
    /// included), creates are refused: [`Pod::stopping`].
    fn note_stopping(&self, request: &ExitRequest) {
        if let ExitRequest::Stop {
            kill_containers, ..
        } = request
            && self.stopping.get().is_none()
        {
            self.stopping.set(Some(*kill_containers));
        }
    }

    /// Whether the monitor is stopping, and if so whether it deletes the
    /// containers: a create now would make one its shutdown may miss.
    pub fn stopping(&self) -> Option<bool> {
        self.stopping.get()
    }

    /// Resolves with the first exit request once there is one and no
    /// [`ExitClaim`] is held: what the server's main task waits for.
    pub async fn exit_requested(&self) -> ExitRequest {
        self.exit_changed
            .wait_until(|| {
                if self.exit_claims.get() > 0 {
                    return None;
                }
                self.exit.borrow().clone()
            })
            .await
    }
}
