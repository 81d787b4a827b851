//! Command lines for the OCI runtime CLI, one builder per verb. Only argv
//! here: the driver runs them.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use super::runtime::Runtime;

impl Runtime {
    /// `--root R --log L --log-format json create --bundle B --pid-file P ID`.
    /// The log file gets the runtime's errors as JSON lines (see
    /// [`super::output::error_message`]); the container inherits the
    /// command's stdio.
    pub fn create_args(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log_file: &Path,
    ) -> Vec<OsString> {
        self.create_argv(id, bundle, pid_file, log_file, None)
    }

    /// Like [`Runtime::create_args`] for `terminal: true` specs: the runtime
    /// sends the pty master over the unix socket at `console_socket`.
    pub fn create_args_with_console(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log_file: &Path,
        console_socket: &Path,
    ) -> Vec<OsString> {
        self.create_argv(id, bundle, pid_file, log_file, Some(console_socket))
    }

    fn create_argv(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let flags = [
            OsStr::new("--bundle"),
            bundle.as_os_str(),
            OsStr::new("--pid-file"),
            pid_file.as_os_str(),
        ];
        self.logged("create", log_file, &flags, console_socket, id)
    }

    /// `--root R --log L --log-format json CMD FLAGS... [--console-socket S] ID`:
    /// the commands whose errors podmon reads from the log file.
    fn logged(
        &self,
        cmd: &str,
        log_file: &Path,
        flags: &[&OsStr],
        console_socket: Option<&Path>,
        id: &str,
    ) -> Vec<OsString> {
        let mut argv = self.global();
        argv.extend(
            [
                OsStr::new("--log"),
                log_file.as_os_str(),
                OsStr::new("--log-format"),
                OsStr::new("json"),
                OsStr::new(cmd),
            ]
            .map(OsStr::to_os_string),
        );
        argv.extend(flags.iter().map(|f| f.to_os_string()));
        if let Some(socket) = console_socket {
            argv.push("--console-socket".into());
            argv.push(socket.into());
        }
        argv.push(id.into());
        argv
    }

    /// Adds `--preserve-fds N` to a `create` command line (before the id,
    /// its last word): the runtime passes its fds 3 .. 3+N into the
    /// container. Nothing for N = 0.
    pub fn with_preserved_fds(mut argv: Vec<OsString>, n: usize) -> Vec<OsString> {
        if n > 0 {
            let at = argv.len().saturating_sub(1);
            argv.splice(at..at, ["--preserve-fds".into(), n.to_string().into()]);
        }
        argv
    }

    /// `--root R --log L --log-format json exec --detach --pid-file P
    /// --process J [--console-socket S] ID`: starts an extra process
    /// described by the process JSON file `J` and exits once it runs; the
    /// process inherits the command's stdio and, as an orphan, becomes the
    /// subreaper's child.
    pub fn exec_args(
        &self,
        id: &str,
        process_json: &Path,
        pid_file: &Path,
        log_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let flags = [
            OsStr::new("--detach"),
            OsStr::new("--pid-file"),
            pid_file.as_os_str(),
            OsStr::new("--process"),
            process_json.as_os_str(),
        ];
        self.logged("exec", log_file, &flags, console_socket, id)
    }

    /// `--root R start ID`: runs the user process of a created container.
    pub fn start_args(&self, id: &str) -> Vec<OsString> {
        self.command("start", &[], id, &[])
    }

    /// `--root R kill [--all] ID N`: the signal goes as a number so runtime
    /// name tables do not matter.
    pub fn kill_args(&self, id: &str, signal: i32, all: bool) -> Vec<OsString> {
        let flags: &[&str] = if all { &["--all"] } else { &[] };
        self.command("kill", flags, id, &[signal.to_string().into()])
    }

    /// `--root R delete [--force] ID`; force also kills a running container.
    pub fn delete_args(&self, id: &str, force: bool) -> Vec<OsString> {
        let flags: &[&str] = if force { &["--force"] } else { &[] };
        self.command("delete", flags, id, &[])
    }

    /// `--root R state ID`: prints JSON for [`super::output::parse_state`].
    pub fn state_args(&self, id: &str) -> Vec<OsString> {
        self.command("state", &[], id, &[])
    }

    fn global(&self) -> Vec<OsString> {
        vec!["--root".into(), self.root.clone().into()]
    }

    fn command(&self, cmd: &str, flags: &[&str], id: &str, tail: &[OsString]) -> Vec<OsString> {
        let mut argv = self.global();
        argv.push(cmd.into());
        argv.extend(flags.iter().map(OsString::from));
        argv.push(id.into());
        argv.extend_from_slice(tail);
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::runtime::tests::rt;

    fn strs(argv: &[OsString]) -> Vec<&str> {
        argv.iter().map(|a| a.to_str().expect("utf-8")).collect()
    }

    #[test]
    fn create_argv() {
        let argv = rt().create_args(
            "c1",
            Path::new("/b/c1"),
            Path::new("/b/c1/pid"),
            Path::new("/b/c1/runtime.log"),
        );
        assert_eq!(
            strs(&argv),
            [
                "--root",
                "/run/podmon/pod1/runc",
                "--log",
                "/b/c1/runtime.log",
                "--log-format",
                "json",
                "create",
                "--bundle",
                "/b/c1",
                "--pid-file",
                "/b/c1/pid",
                "c1"
            ]
        );
        let with = Runtime::with_preserved_fds(argv.clone(), 2);
        assert_eq!(strs(&with)[11..], ["--preserve-fds", "2", "c1"]);
        assert_eq!(Runtime::with_preserved_fds(argv.clone(), 0), argv);
        let argv = rt().create_args_with_console(
            "c1",
            Path::new("/b"),
            Path::new("/p"),
            Path::new("/l"),
            Path::new("/s.sock"),
        );
        assert_eq!(
            strs(&argv)[6..],
            [
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/p",
                "--console-socket",
                "/s.sock",
                "c1"
            ]
        );
    }

    #[test]
    fn other_argv() {
        let r = rt();
        let root = ["--root", "/run/podmon/pod1/runc"];
        let with_root = |tail: &[&'static str]| {
            let mut v: Vec<&str> = root.to_vec();
            v.extend_from_slice(tail);
            v
        };
        assert_eq!(strs(&r.start_args("c1")), with_root(&["start", "c1"]));
        assert_eq!(
            strs(&r.kill_args("c1", 9, false)),
            with_root(&["kill", "c1", "9"])
        );
        assert_eq!(
            strs(&r.kill_args("c1", 15, true)),
            with_root(&["kill", "--all", "c1", "15"])
        );
        assert_eq!(
            strs(&r.delete_args("c1", false)),
            with_root(&["delete", "c1"])
        );
        assert_eq!(
            strs(&r.delete_args("c1", true)),
            with_root(&["delete", "--force", "c1"])
        );
        assert_eq!(strs(&r.state_args("c1")), with_root(&["state", "c1"]));
    }
}
