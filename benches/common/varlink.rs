//! The benches' Varlink client: podmon's own client
//! (`podmon::varlink::client::Client`) speaking the `io.podmon.Pod` types of
//! `podmon::proto`, with shorthands for the calls the benches make.

use std::path::Path;
use std::time::Duration;

use podmon::proto::{self, Method};
use podmon::varlink::client::{self, ClientError};

pub struct Client(client::Client);

impl Client {
    /// Connects; `timeout` bounds every reply (WaitContainer on a GiB of
    /// logs needs a generous one).
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let c = client::Client::connect(socket)?;
        c.set_read_timeout(Some(timeout))?;
        Ok(Client(c))
    }

    /// Calls the request's method and returns its typed reply; an error
    /// reply is [`ClientError::Varlink`], a reply that does not fit the
    /// reply type [`ClientError::Protocol`].
    pub fn call<M: Method>(&mut self, req: &M) -> Result<M::Reply, ClientError> {
        proto::call(&mut self.0, req)
    }
}

/// Shorthands for the container lifecycle calls the benches make.
impl Client {
    /// Creates container `id` running `command` in `rootfs` (podmon writes
    /// the OCI config).
    pub fn create(
        &mut self,
        id: &str,
        rootfs: &Path,
        command: &[&str],
    ) -> Result<proto::ContainerReply, ClientError> {
        self.create_with(id, rootfs, command, None)
    }

    /// CreateContainer with a log sync policy (none: the server's default).
    pub fn create_with(
        &mut self,
        id: &str,
        rootfs: &Path,
        command: &[&str],
        log_sync: Option<proto::LogSync>,
    ) -> Result<proto::ContainerReply, ClientError> {
        self.call(&proto::CreateContainer {
            id: id.to_owned(),
            rootfs: Some(rootfs.to_string_lossy().into_owned()),
            command: Some(strings(command)),
            log_sync,
            ..proto::CreateContainer::default()
        })
    }

    pub fn start(&mut self, id: &str) -> Result<proto::ContainerReply, ClientError> {
        self.call(&proto::StartContainer { id: id.to_owned() })
    }

    /// Returns once the container stopped and all its output is in its log.
    pub fn wait(&mut self, id: &str) -> Result<proto::WaitContainerReply, ClientError> {
        self.call(&proto::WaitContainer { id: id.to_owned() })
    }

    pub fn delete(&mut self, id: &str, force: bool) -> Result<(), ClientError> {
        self.call(&proto::DeleteContainer {
            id: id.to_owned(),
            force: Some(force),
        })
        .map(drop)
    }

    pub fn exec_sync(
        &mut self,
        id: &str,
        command: &[&str],
    ) -> Result<proto::ExecSyncReply, ClientError> {
        self.call(&proto::ExecSync {
            id: id.to_owned(),
            command: strings(command),
            ..proto::ExecSync::default()
        })
    }
}

/// Shorthands for the monitor-level calls of the upgrade bench.
impl Client {
    /// `org.varlink.service.GetInfo`: the cheapest call the server answers
    /// (no pod state, no /proc or cgroup reads), so a probe measures the
    /// socket's availability and nothing else.
    pub fn get_info(&mut self) -> Result<(), ClientError> {
        self.0
            .call("org.varlink.service.GetInfo", serde_json::json!({}))
            .map(drop)
    }

    pub fn get_pod(&mut self) -> Result<proto::GetPodReply, ClientError> {
        self.call(&proto::GetPod {})
    }

    /// Asks for a live upgrade; the reply comes before the exec, which then
    /// closes this connection.
    pub fn reexec(&mut self) -> Result<(), ClientError> {
        self.call(&proto::Reexec {}).map(drop)
    }
}

/// A reply as the JSON the server sent, for messages that show it.
pub fn json<T: serde::Serialize>(reply: &T) -> serde_json::Value {
    serde_json::Value::Object(proto::call::to_map(reply))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|&a| a.to_owned()).collect()
}
