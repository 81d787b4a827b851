//! The benches' Varlink client: podmon's own client
//! (`podmon::varlink::client::Client`) with the `io.podmon.Pod` prefix and
//! shorthands for the calls the benches make.

use std::path::Path;
use std::time::Duration;

use podmon::varlink::client::{self, ClientError};
use serde_json::{Value, json};

/// The interface every call goes to.
const INTERFACE: &str = "io.podmon.Pod";

pub struct Client(client::Client);

impl Client {
    /// Connects; `timeout` bounds every reply (WaitContainer on a GiB of
    /// logs needs a generous one).
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let c = client::Client::connect(socket)?;
        c.set_read_timeout(Some(timeout))?;
        Ok(Client(c))
    }

    /// Calls `io.podmon.Pod.<method>` and returns the reply's parameters;
    /// an error reply is [`ClientError::Varlink`].
    pub fn call(&mut self, method: &str, parameters: Value) -> Result<Value, ClientError> {
        let reply = self.0.call(&format!("{INTERFACE}.{method}"), parameters)?;
        Ok(Value::Object(reply))
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
    ) -> Result<Value, ClientError> {
        self.call(
            "CreateContainer",
            json!({ "id": id, "rootfs": rootfs, "command": command }),
        )
    }

    pub fn start(&mut self, id: &str) -> Result<Value, ClientError> {
        self.call("StartContainer", json!({ "id": id }))
    }

    /// Returns once the container stopped and all its output is in its log.
    pub fn wait(&mut self, id: &str) -> Result<Value, ClientError> {
        self.call("WaitContainer", json!({ "id": id }))
    }

    pub fn delete(&mut self, id: &str, force: bool) -> Result<Value, ClientError> {
        self.call("DeleteContainer", json!({ "id": id, "force": force }))
    }

    pub fn exec_sync(&mut self, id: &str, command: &[&str]) -> Result<Value, ClientError> {
        self.call("ExecSync", json!({ "id": id, "command": command }))
    }
}
