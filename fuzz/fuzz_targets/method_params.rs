//! See podmon::fuzzing::method_params for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podmon::fuzzing::method_params(data));
