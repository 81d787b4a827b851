//! See podmon::fuzzing::cri_roundtrip for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podmon::fuzzing::cri_roundtrip(data));
