//! See podmon::fuzzing::cgroup_parsers for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podmon::fuzzing::cgroup_parsers(data));
