//! See podmon::fuzzing::varlink_message for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podmon::fuzzing::varlink_message(data));
