//! scripts/install into a temporary DESTDIR: every file where it belongs,
//! the units pointing at PREFIX/bin/podmon, the man pages rendering and
//! the completions loading in their shells; and `--version` naming the
//! runtime.

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PREFIX: &str = "/usr";

fn installed(dest: &Path, rel: &str) -> std::path::PathBuf {
    dest.join(PREFIX.trim_start_matches('/')).join(rel)
}

/// Runs `scripts/install` with the binary under test into `dest`.
fn install(dest: &Path) -> Out {
    let out = run_with_timeout(
        Command::new(project_dir().join("scripts/install"))
            .env("PODMON_BIN", podmon_bin())
            .env("PREFIX", PREFIX)
            .env("DESTDIR", dest),
        Duration::from_secs(60),
    );
    assert!(out.success(), "{out:?}");
    out
}

/// `man -l` when man is installed, else the roff header.
fn check_man_page(page: &Path, sub: &str) {
    let title = if sub.is_empty() {
        "podmon".to_owned()
    } else {
        format!("podmon-{sub}")
    };
    let text = fs::read_to_string(page).unwrap();
    assert!(
        text.contains(&format!(".TH {title} 1")),
        "{}: no .TH header",
        page.display()
    );
    if find_executable("man").is_none() {
        return;
    }
    let out = run_with_timeout(
        Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "100"),
        Duration::from_secs(30),
    );
    assert!(out.success(), "{out:?}");
    assert!(
        out.stdout.contains("NAME") && out.stdout.contains(&title),
        "{out:?}"
    );
    if sub == "create" {
        assert!(out.stdout.contains("--memory-max"), "{out:?}");
    }
}

/// The bash completion loads without a word on stderr and completes the
/// subcommands; zsh's and fish's parse where those shells exist.
fn check_completions(dest: &Path) {
    let bash = installed(dest, "share/bash-completion/completions/podmon");
    let script = format!(
        "set -e; source '{}'; complete -p podmon; \
         COMP_WORDS=(podmon set-); COMP_CWORD=1; _podmon podmon set- podmon; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bash.display()
    );
    let out = run_with_timeout(
        Command::new("bash").arg("-c").arg(&script),
        Duration::from_secs(30),
    );
    assert!(out.success() && out.stderr.is_empty(), "{out:?}");
    assert!(out.stdout.contains("-F _podmon podmon"), "{out:?}");
    assert!(out.stdout.lines().any(|l| l == "set-log-limit"), "{out:?}");
    let zsh = installed(dest, "share/zsh/site-functions/_podmon");
    assert!(
        fs::read_to_string(&zsh)
            .unwrap()
            .starts_with("#compdef podmon")
    );
    let fish = installed(dest, "share/fish/vendor_completions.d/podmon.fish");
    assert!(
        fs::read_to_string(&fish)
            .unwrap()
            .contains("complete -c podmon")
    );
    for (shell, file) in [("zsh", &zsh), ("fish", &fish)] {
        if find_executable(shell).is_some() {
            let out = run_with_timeout(
                Command::new(shell).arg("-n").arg(file),
                Duration::from_secs(30),
            );
            assert!(out.success(), "{shell} -n: {out:?}");
        }
    }
}

#[test]
fn install_puts_everything_in_place() {
    let dest = test_base().join(format!("install-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dest);
    fs::create_dir_all(&dest).unwrap();
    install(&dest);

    let bin = installed(&dest, "bin/podmon");
    assert_eq!(fs::read(&bin).unwrap(), fs::read(podmon_bin()).unwrap());
    let out = run_with_timeout(Command::new(&bin).arg("--version"), Duration::from_secs(10));
    assert!(out.stdout.starts_with("podmon "), "{out:?}");

    for unit in ["podmon@.service", "podmon@.socket"] {
        let text = fs::read_to_string(installed(&dest, "lib/systemd/system").join(unit))
            .unwrap_or_else(|e| panic!("{unit}: {e}"));
        let source = fs::read_to_string(project_dir().join("contrib/systemd").join(unit)).unwrap();
        for (mine, theirs) in text.lines().zip(source.lines()) {
            if theirs.starts_with("ExecStart=") {
                assert!(
                    mine.starts_with("ExecStart=/usr/bin/podmon serve"),
                    "{mine}"
                );
            } else {
                assert_eq!(mine, theirs, "{unit}: only ExecStart= changes");
            }
        }
    }

    let man1 = installed(&dest, "share/man/man1");
    let pages: Vec<String> = fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for sub in [
        "", "serve", "create", "exec", "logs", "stats", "ps", "shutdown",
    ] {
        let name = if sub.is_empty() {
            "podmon.1".to_owned()
        } else {
            format!("podmon-{sub}.1")
        };
        assert!(pages.contains(&name), "{name} in {pages:?}");
        check_man_page(&man1.join(&name), sub);
    }
    assert!(installed(&dest, "share/doc/podmon/README.md").is_file());
    check_completions(&dest);

    // Installing again over the same tree works (an upgrade).
    install(&dest);
    fs::remove_dir_all(&dest).unwrap();
}

/// `--version` names the runtime serve would pick: crun before runc on
/// PATH, or says there is none.
#[test]
fn version_names_the_runtime() {
    let dir = test_base().join(format!("version-{}", std::process::id()));
    let (d1, d2) = (dir.join("a"), dir.join("b"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&d1).unwrap();
    fs::create_dir_all(&d2).unwrap();
    let version = |path: &str| {
        let out = run_with_timeout(
            Command::new(podmon_bin())
                .arg("--version")
                .env("PATH", path),
            Duration::from_secs(10),
        );
        assert!(out.success(), "{out:?}");
        out.stdout
    };
    let head = format!("podmon {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        version(&d1.display().to_string()),
        format!("{head}runtime: no runtime found (looked for crun, runc on $PATH)\n")
    );
    fs::copy(runc(), d1.join("runc")).unwrap();
    let path = format!("{}:{}", d1.display(), d2.display());
    assert_eq!(
        version(&path),
        format!("{head}runtime: {}\n", d1.join("runc").display())
    );
    // crun wins over runc, even later on PATH; but not on a hybrid-cgroup
    // host (cgroup2 at /sys/fs/cgroup/unified), where crun 1.8 cannot run.
    fs::copy(runc(), d2.join("crun")).unwrap();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let hybrid = mounts
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup/unified ") && l.contains(" - cgroup2 "));
    let chosen = if hybrid {
        d1.join("runc")
    } else {
        d2.join("crun")
    };
    assert_eq!(
        version(&path),
        format!("{head}runtime: {}\n", chosen.display())
    );
    fs::remove_dir_all(&dir).unwrap();
}
