//! Shorthands on a [`Pod`]: calls on a new connection, the CLI, the
//! container lifecycle in one line each, and the files the server writes.

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

    /// CreateContainer with extra parameters merged in.
    #[track_caller]
    pub fn create_with(&self, id: &str, command: &[&str], extra: Value) -> Value {
        let mut p = json!({
            "id": id,
            "rootfs": rootfs().display().to_string(),
            "command": command,
        });
        if let Value::Object(m) = extra {
            for (k, v) in m {
                p[k] = v;
            }
        }
        let r = self.call("io.podmon.Pod.CreateContainer", p);
        r.ok()["container"].clone()
    }

    #[track_caller]
    pub fn start_container(&self, id: &str) -> Value {
        self.call("io.podmon.Pod.StartContainer", json!({ "id": id }))
            .ok()["container"]
            .clone()
    }

    /// create + start.
    #[track_caller]
    pub fn run(&self, id: &str, command: &[&str]) -> Value {
        self.create(id, command);
        self.start_container(id)
    }

    #[track_caller]
    pub fn get(&self, id: &str) -> Value {
        self.call("io.podmon.Pod.GetContainer", json!({ "id": id }))
            .ok()["container"]
            .clone()
    }

    /// WaitContainer; returns the reply parameters.
    #[track_caller]
    pub fn wait(&self, id: &str) -> Value {
        self.call("io.podmon.Pod.WaitContainer", json!({ "id": id }))
            .ok()
    }

    #[track_caller]
    pub fn kill(&self, id: &str, signal: &str) {
        self.call(
            "io.podmon.Pod.KillContainer",
            json!({ "id": id, "signal": signal }),
        )
        .ok();
    }

    #[track_caller]
    pub fn delete(&self, id: &str, force: bool) {
        self.call(
            "io.podmon.Pod.DeleteContainer",
            json!({ "id": id, "force": force }),
        )
        .ok();
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
