//! `podmon exec`: exit codes, streams, --timeout, piped stdin, and -it under a pty.

use crate::common::*;
use crate::pty::*;
use crate::support::*;
use std::thread;
use std::time::{Duration, Instant};

/// The command's exit status is podmon's; stdout and stderr land on the
/// matching streams, streamed or synchronous.
fn check_status_and_streams(pod: &Pod) {
    let out = pod.cli(&["exec", "c1", "--", "true"]).assert_code(0);
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    pod.cli(&["exec", "c1", "--", "sh", "-c", "exit 3"])
        .assert_code(3);
    pod.cli(&["exec", "c1", "--", "sh", "-c", "kill -9 $$"])
        .assert_code(137);
    pod.cli(&["exec", "--sync", "c1", "--", "sh", "-c", "exit 3"])
        .assert_code(3);

    // stdout and stderr land on the matching streams, streamed or synchronous.
    for sync in [false, true] {
        let mut args = vec!["exec"];
        if sync {
            args.push("--sync");
        }
        args.extend([
            "c1",
            "--",
            "sh",
            "-c",
            "echo to-out; echo to-err >&2; echo more-out; exit 0",
        ]);
        let out = pod.cli(&args).assert_code(0);
        assert_eq!(out.stdout, "to-out\nmore-out\n", "sync={sync}: {out:?}");
        assert_eq!(out.stderr, "to-err\n", "sync={sync}: {out:?}");
    }
}

/// --timeout kills the command: status 137 and a note on stderr.
fn check_timeout(pod: &Pod) {
    let t = Instant::now();
    let out = pod
        .cli(&["exec", "--timeout", "1", "c1", "--", "sleep", "10"])
        .assert_code(137);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "exec --timeout 1 took {took:?}"
    );
    assert!(
        took >= Duration::from_millis(900),
        "exec --timeout 1 ended after only {took:?}: {out:?}"
    );
    assert!(
        out.stderr.starts_with("podmon: ") && out.stderr.contains("timed out"),
        "a note about the timeout on stderr: {out:?}"
    );
    assert_eq!(out.stdout, "", "{out:?}");
}

/// -i: data piped to stdin round-trips byte for byte; without -i the
/// command's stdin is closed.
fn check_piped_stdin(pod: &Pod) {
    let data = binary_megabyte();
    let out = run_with_input(
        podmon(pod, &["exec", "-i", "c1", "--", "cat"]),
        data.clone(),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "exec -i cat: {} (stderr {:?})",
        out.status,
        out.stderr
    );
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout == data,
        "exec -i cat returned {} bytes for {} (first difference at {:?}) in {:?}",
        out.stdout.len(),
        data.len(),
        first_difference(&out.stdout, &data),
        out.elapsed
    );

    // Without -i the command's stdin is closed: cat ends at once, piped data or not.
    let out = run_with_input(
        podmon(pod, &["exec", "c1", "--", "cat"]),
        b"not for cat\n".to_vec(),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn exec_exit_status_streams_timeout_and_piped_stdin() {
    let pod = Pod::start("cliexec");
    cli_run(&pod, "c1", &[], &["sh", "-c", IDLE]);

    check_status_and_streams(&pod);

    check_timeout(&pod);

    check_piped_stdin(&pod);
}

#[test]
fn exec_it_under_a_pty_gets_the_window_size_and_exit_status() {
    let pod = Pod::start("cliexecit");
    cli_run(&pod, "c1", &[], &["sh", "-c", IDLE]);

    // `exec -it` under a terminal of 33 rows and 101 columns.
    let run_it = |script: &str| {
        let pty = Pty::open(33, 101);
        let before = pty.modes();
        let mut child = pty.spawn(podmon(
            &pod,
            &["exec", "-it", "c1", "--", "sh", "-c", script],
        ));
        let status = wait_child(&mut child, Duration::from_secs(20), "podmon exec -it");
        // Whatever is still in flight through the pty.
        pty.wait_for("\n", Duration::from_secs(2));
        thread::sleep(Duration::from_millis(100));
        let shown = pty.text();
        // The raw mode podmon set for the session is undone on the way out.
        assert_eq!(
            pty.modes(),
            before,
            "terminal modes restored after exec -it"
        );
        (status, shown)
    };

    // A command that looks at its window size a moment after it started.
    let (status, late) = run_it("sleep 0.5; stty size; exit 7");
    assert_eq!(
        status.code(),
        Some(7),
        "exec -it status; terminal showed {late:?}"
    );
    assert!(
        late.contains("33 101"),
        "stty size (after 0.5 s) inside the exec shows our window size: {late:?}"
    );

    // A tty exec has one stream: stderr comes through the terminal too.
    let (status, shown) = run_it("tty; echo err-line >&2");
    assert_eq!(status.code(), Some(0), "{shown:?}");
    assert!(shown.contains("/dev/pts/"), "the exec has a pty: {shown:?}");
    assert!(shown.contains("err-line"), "{shown:?}");

    // A command that asks for the size at once (as `stty size`, a shell
    // or an editor do when they start) must see it too.
    // Three tries, as the size may or may not win the race to the command.
    let mut seen = vec![];
    for _ in 0..3 {
        let (status, shown) = run_it("stty size; exit 7");
        assert_eq!(
            status.code(),
            Some(7),
            "exec -it status; terminal showed {shown:?}"
        );
        seen.push(shown);
    }
    assert!(
        seen.iter().all(|s| s.contains("33 101")),
        "stty size, run at once inside `exec -it`, shows our window size (33 rows, 101 \
         columns); three runs showed {seen:?} (the same command after 0.5 s showed \
         {late:?}): the exec's pty only gets the size from the resize frame sent after \
         it started"
    );
}
