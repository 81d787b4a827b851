//! Shorthands on a [`Pod`]: calls on a new connection, the CLI, the
//! container lifecycle in one line each, and the files the server writes.

use podmon::proto::call::parameters;
use podmon::proto::{self, Method};
use serde_json::{Value, json};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::{Client, Gate, Out, Pod, Reply, TIMEOUT, podmon_bin, rootfs, run_with_timeout};

impl Pod {
    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }

    /// One call on a new connection.
    #[track_caller]
    pub fn call(&self, method: &str, params: Value) -> Reply {
        self.client().call(method, params)
    }

    /// Runs `podmon --socket SOCK ARGS...`.
    pub fn cli(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(podmon_bin());
        cmd.arg("--socket").arg(&self.socket).args(args);
        cmd.env_remove("PODMON_SOCKET");
        run_with_timeout(&mut cmd, TIMEOUT)
    }

    #[track_caller]
    pub fn cli_ok(&self, args: &[&str]) -> Out {
        self.cli(args).assert_ok()
    }

    /// CreateContainer from the shared rootfs; returns the container.
    #[track_caller]
    pub fn create(&self, id: &str, command: &[&str]) -> Value {
        self.create_with(id, command, json!({}))
    }

    /// CreateContainer with extra parameters merged in (as given: they
    /// may be ones the server must refuse).
    #[track_caller]
    pub fn create_with(&self, id: &str, command: &[&str], extra: Value) -> Value {
        let req = proto::CreateContainer {
            id: id.into(),
            rootfs: Some(rootfs().display().to_string()),
            command: Some(command.iter().map(|&a| a.into()).collect()),
            ..proto::CreateContainer::default()
        };
        let mut p = parameters(&req);
        if let Value::Object(m) = extra {
            for (k, v) in m {
                p[k] = v;
            }
        }
        let r = self.call(proto::CreateContainer::METHOD, p);
        r.ok()["container"].clone()
    }

    #[track_caller]
    pub fn start_container(&self, id: &str) -> Value {
        let req = proto::StartContainer { id: id.into() };
        self.request(&req).ok()["container"].clone()
    }

    /// create + start.
    #[track_caller]
    pub fn run(&self, id: &str, command: &[&str]) -> Value {
        self.create(id, command);
        self.start_container(id)
    }

    #[track_caller]
    pub fn get(&self, id: &str) -> Value {
        let req = proto::GetContainer { id: id.into() };
        self.request(&req).ok()["container"].clone()
    }

    /// WaitContainer; returns the reply parameters.
    #[track_caller]
    pub fn wait(&self, id: &str) -> Value {
        let req = proto::WaitContainer { id: id.into() };
        self.request(&req).ok()
    }

    #[track_caller]
    pub fn kill(&self, id: &str, signal: &str) {
        let req = proto::KillContainer {
            id: id.into(),
            signal: Some(signal.into()),
            all: None,
        };
        self.request(&req).ok();
    }

    #[track_caller]
    pub fn delete(&self, id: &str, force: bool) {
        let req = proto::DeleteContainer {
            id: id.into(),
            force: Some(force),
        };
        self.request(&req).ok();
    }

    /// One well-formed call of `M` on a new connection: the method name and
    /// the parameters as the server's own types encode them. The reply
    /// stays raw JSON, as every reply of the harness does.
    #[track_caller]
    fn request<M: Method>(&self, req: &M) -> Reply {
        self.call(M::METHOD, parameters(req))
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.log_dir.join(format!("{id}.log"))
    }

    pub fn log(&self, id: &str) -> String {
        let p = self.log_path(id);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read log {}: {e}", p.display()))
    }

    pub fn exit_file(&self, id: &str) -> Option<String> {
        fs::read_to_string(self.exit_dir.join(id)).ok()
    }

    /// A file the test creates to let a container go on (see `gated_command`).
    pub fn gate(&self, id: &str) -> Gate {
        Gate::new(&self.name, id)
    }
}
