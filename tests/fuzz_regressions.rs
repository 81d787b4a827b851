//! The fuzz targets' inputs, replayed on the stable toolchain: every seed in
//! `fuzz/corpus/TARGET/` and every input a fuzzer once failed on in
//! `fuzz/regressions/TARGET/` goes through the same `podmon::fuzzing`
//! function the target calls, so the checks the fuzzers make hold in every
//! `cargo test`, with or without nightly.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use podmon::fuzzing::{METHODS, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files directly in `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("reading a corpus directory").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs every input of `kind` (`corpus` or `regressions`) through its
/// target and returns how many ran; fails naming each input that panicked.
fn replay(kind: &str) -> usize {
    let mut ran = 0;
    let mut failed = Vec::new();
    for (name, target) in TARGETS {
        for path in inputs(&fuzz_dir().join(kind).join(name)) {
            let data = fs::read(&path).expect("reading a fuzz input");
            if panic::catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failed.push(path.display().to_string());
            }
            ran += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail:\n{}",
        failed.join("\n")
    );
    ran
}

#[test]
fn seed_corpus_passes() {
    for (name, _) in TARGETS {
        let seeds = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(
            seeds.len() >= 3,
            "fuzz/corpus/{name}: only {} seeds",
            seeds.len()
        );
    }
    replay("corpus");
}

#[test]
fn found_inputs_stay_fixed() {
    replay("regressions");
}

#[test]
fn every_target_is_a_fuzz_target() {
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for (name, _) in TARGETS {
        let source = fuzz_dir().join(format!("fuzz_targets/{name}.rs"));
        let text = fs::read_to_string(&source).unwrap_or_default();
        assert!(
            text.contains(&format!("podmon::fuzzing::{name}(")),
            "{} does not call podmon::fuzzing::{name}",
            source.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} not in fuzz/Cargo.toml"
        );
    }
}

#[test]
fn method_params_covers_every_method_of_the_idl() {
    let mut idl: Vec<&str> = podmon::proto::DESCRIPTION
        .lines()
        .filter_map(|l| l.strip_prefix("method "))
        .filter_map(|l| l.split('(').next())
        .collect();
    let mut fuzzed = METHODS.to_vec();
    idl.sort_unstable();
    fuzzed.sort_unstable();
    assert_eq!(fuzzed, idl);
}

/// KillContainer's `signal` "SIGRTMIN+2147483647": the real-time offset
/// overflowed an i32 in `sys::signal::parse_signal` (a panic in debug
/// builds, which would take the whole monitor down; a wrapped, refused
/// number in release). Found while adding the handlers' text parsers to
/// `method_params`; the file is `fuzz/regressions/method_params/`.
#[test]
fn kill_signal_with_a_huge_real_time_offset() {
    let input = br#"{"id":"x","signal":"SIGRTMIN+2147483647"}"#;
    let mut data = vec![2]; // METHODS[2]
    data.extend_from_slice(input);
    assert_eq!(METHODS[2], "KillContainer");
    podmon::fuzzing::method_params(&data);
    let on_disk = fuzz_dir().join("regressions/method_params/kill-signal-rtmin-overflow");
    assert_eq!(fs::read(on_disk).unwrap(), data);
}

/// A call whose parameters hold a 65-digit integer: serde_json reads it as
/// a float one ulp away from the nearest, so printing the call and reading
/// it again moved the number by one ulp and the round trip check failed.
/// Not a podmon bug (an f64 parameter arrives within an ulp, as serde_json
/// without `float_roundtrip` promises): the check now allows one ulp, and
/// still requires everything else to be exact. Found by varlink_message.
#[test]
fn long_integer_parameter_survives_a_round_trip_within_an_ulp() {
    let path = fuzz_dir().join("regressions/varlink_message/float-one-ulp-off");
    let data = fs::read(path).unwrap();
    assert!(data.starts_with(br#"{"method":"a.b.C","parameters":{"n":444"#));
    podmon::fuzzing::varlink_message(&data);
}
