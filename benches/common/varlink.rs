//! A minimal blocking Varlink client: one NUL-terminated JSON message per
//! call, one reply back. Kept free of podmon's own client on purpose, so
//! the benches measure the server as any outside client sees it.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

/// The interface every call goes to.
const INTERFACE: &str = "io.podmon.Pod";

/// A Varlink error reply: its name and parameters.
#[derive(Debug)]
pub struct CallError {
    pub error: String,
    pub parameters: Value,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.error, self.parameters)
    }
}

/// Why a call failed: the transport, or an error reply.
#[derive(Debug)]
pub enum Failure {
    Io(io::Error),
    Reply(CallError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Io(e) => write!(f, "transport: {e}"),
            Failure::Reply(e) => write!(f, "error reply: {e}"),
        }
    }
}

impl std::error::Error for Failure {}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects; `timeout` bounds every reply (WaitContainer on a GiB of
    /// logs needs a generous one).
    pub fn connect(socket: &Path, timeout: Duration) -> io::Result<Client> {
        let s = UnixStream::connect(socket)?;
        s.set_read_timeout(Some(timeout))?;
        Ok(Client {
            writer: s.try_clone()?,
            reader: BufReader::new(s),
        })
    }

    /// Calls `io.podmon.Pod.<method>` and returns the reply's parameters.
    pub fn call(&mut self, method: &str, parameters: Value) -> Result<Value, Failure> {
        let msg = json!({ "method": format!("{INTERFACE}.{method}"), "parameters": parameters });
        let mut bytes = serde_json::to_vec(&msg).map_err(io::Error::other)?;
        bytes.push(0);
        self.writer.write_all(&bytes)?;
        let mut reply =
            serde_json::from_slice::<Value>(&self.read_message()?).map_err(io::Error::other)?;
        let parameters = reply
            .get_mut("parameters")
            .map(Value::take)
            .unwrap_or(Value::Null);
        match reply.get("error").and_then(Value::as_str) {
            Some(error) => Err(Failure::Reply(CallError {
                error: error.to_owned(),
                parameters,
            })),
            None => Ok(parameters),
        }
    }

    /// One message: the bytes up to (without) the next NUL.
    fn read_message(&mut self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.reader.read_until(0, &mut buf)?;
        if buf.pop() != Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(buf)
    }
}

/// Shorthands for the container lifecycle calls the benches make.
impl Client {
    /// Creates container `id` running `command` in `rootfs` (podmon writes
    /// the OCI config).
    pub fn create(&mut self, id: &str, rootfs: &Path, command: &[&str]) -> Result<Value, Failure> {
        self.call(
            "CreateContainer",
            json!({ "id": id, "rootfs": rootfs, "command": command }),
        )
    }

    pub fn start(&mut self, id: &str) -> Result<Value, Failure> {
        self.call("StartContainer", json!({ "id": id }))
    }

    /// Returns once the container stopped and all its output is in its log.
    pub fn wait(&mut self, id: &str) -> Result<Value, Failure> {
        self.call("WaitContainer", json!({ "id": id }))
    }

    pub fn delete(&mut self, id: &str, force: bool) -> Result<Value, Failure> {
        self.call("DeleteContainer", json!({ "id": id, "force": force }))
    }

    pub fn exec_sync(&mut self, id: &str, command: &[&str]) -> Result<Value, Failure> {
        self.call("ExecSync", json!({ "id": id, "command": command }))
    }
}
