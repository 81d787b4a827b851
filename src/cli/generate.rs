//! `podmon __generate completions SHELL | man DIR`: shell completions and
//! man pages made from the clap definitions at install time, so they can
//! never disagree with the binary they describe.
//!
//! Done by the binary rather than a build script because the definitions
//! use the library (value parsers, limits), which a build script cannot
//! see; the generators' code is only paged in when it runs. Like
//! `__pod-init` it is read before clap, so it is no subcommand of the
//! definitions and shows up in no help, completion or man page.

use std::io;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// The argument that selects this mode (first after the program name).
pub const GENERATE_ARG: &str = "__generate";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Generated {
    /// The completion script for a shell, on stdout.
    Completions(Shell),
    /// Man pages into a directory: podmon.1 and podmon-SUBCOMMAND.1.
    Man(std::path::PathBuf),
}

/// Reads `completions SHELL` or `man DIR`.
pub fn parse(args: &[String]) -> Result<Generated, String> {
    match args {
        [what, shell] if what == "completions" => shell
            .parse::<Shell>()
            .map(Generated::Completions)
            .map_err(|_| format!("unknown shell {shell:?} (bash, zsh, fish, elvish, powershell)")),
        [what, dir] if what == "man" => Ok(Generated::Man(dir.into())),
        _ => Err(format!(
            "usage: podmon {GENERATE_ARG} completions SHELL | man DIR"
        )),
    }
}

/// Runs `podmon __generate ARGS...`; returns the exit status (2 for bad
/// arguments, 1 when writing failed, after saying why).
pub fn run(args: &[String]) -> i32 {
    let what = match parse(args) {
        Ok(what) => what,
        Err(e) => {
            eprintln!("podmon: {e}");
            return 2;
        }
    };
    let done = match &what {
        Generated::Completions(shell) => completions(*shell, &mut io::stdout().lock()),
        Generated::Man(dir) => man(dir),
    };
    match done {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("podmon: cannot generate: {e}");
            1
        }
    }
}

/// Writes the completion script of `shell` to `out`.
pub fn completions(shell: Shell, out: &mut impl io::Write) -> io::Result<()> {
    clap_complete::generate(shell, &mut Cli::command(), "podmon", out);
    out.flush()
}

/// Writes podmon.1 and one page per visible subcommand into `dir`.
pub fn man(dir: &Path) -> io::Result<()> {
    clap_mangen::generate_to(Cli::command(), dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse(&args(&["completions", "fish"])),
            Ok(Generated::Completions(Shell::Fish))
        );
        assert_eq!(
            parse(&args(&["man", "/m"])),
            Ok(Generated::Man("/m".into()))
        );
        assert!(parse(&args(&["completions", "tcsh"])).is_err());
        assert!(parse(&args(&["man"])).is_err());
        assert_eq!(run(&args(&["bogus"])), 2);
    }

    #[test]
    fn completions_know_the_subcommands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            completions(shell, &mut out).unwrap();
            let script = String::from_utf8(out).unwrap();
            assert!(script.contains("set-log-limit"), "{shell}: subcommands");
            assert!(script.contains("memory-max"), "{shell}: options");
            assert!(!script.contains(GENERATE_ARG), "{shell}: not this mode");
        }
    }
}
