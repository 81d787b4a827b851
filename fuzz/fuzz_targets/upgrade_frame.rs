//! See podmon::fuzzing::upgrade_frame for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podmon::fuzzing::upgrade_frame(data));
