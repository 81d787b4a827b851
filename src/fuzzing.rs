//! Entry points for the fuzz targets in `fuzz/` and for
//! `tests/fuzz_regressions.rs`; not an API.
//!
//! Each function takes the fuzzer's raw bytes, turns the first few into
//! choices (limits, how the stream is split into reads) and checks the
//! parser's invariants on the rest, panicking when one breaks. They live in
//! the library, rather than in the fuzz crate, for two reasons: the parsers
//! they reach stay `pub(crate)`, and the stable `cargo test` replays every
//! committed seed and every input a fuzzer once found through exactly the
//! code the fuzzer ran, without nightly. Like a test, this module may call
//! any layer; nothing in the crate calls it.

mod cgroups;
mod cri;
mod params;
mod upgrade;
mod varlink;

pub use cgroups::cgroup_parsers;
pub use cri::cri_roundtrip;
pub use params::{METHODS, method_params};
pub use upgrade::upgrade_frame;
pub use varlink::{varlink_frame, varlink_message};

/// A fuzz target's check: panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name its fuzz target and corpus directory have, so
/// the regression test can replay `fuzz/corpus/<name>/` without a list of
/// its own.
pub const TARGETS: &[(&str, Target)] = &[
    ("varlink_frame", varlink_frame),
    ("varlink_message", varlink_message),
    ("upgrade_frame", upgrade_frame),
    ("cri_roundtrip", cri_roundtrip),
    ("method_params", method_params),
    ("cgroup_parsers", cgroup_parsers),
];

/// The fuzzer's bytes read front to back as small choices; an exhausted
/// input reads as zeros, so every input is valid and short ones are cheap.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.data.split_first().unwrap_or((&0, &[]));
        self.data = rest;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Up to `n` bytes.
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// How to cut a stream into reads: a count (0..=15) and that many read
    /// sizes, used in turn; no sizes (or only zeros) means one read.
    fn read_sizes(&mut self) -> Vec<usize> {
        let n = self.byte() & 15;
        (0..n).map(|_| usize::from(self.byte())).collect()
    }

    /// Everything not read yet.
    fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// `data` cut into reads of the given sizes, cycling through them; a size
/// of 0 is an empty read (pushing nothing must change nothing).
fn split<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.iter().all(|&s| s == 0) {
        return vec![data];
    }
    let mut chunks = Vec::new();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_reads_zeros_once_exhausted() {
        let mut input = Input::new(&[1, 2, 3]);
        assert_eq!(input.u16(), 0x0102);
        assert_eq!(input.u32(), 0x0300_0000);
        assert_eq!(input.take(5), b"");
        assert_eq!(input.read_sizes(), Vec::<usize>::new());
    }

    #[test]
    fn split_cycles_sizes_and_keeps_every_byte() {
        let chunks = split(b"abcdefgh", &[3, 0, 1]);
        assert_eq!(chunks, [&b"abc"[..], b"", b"d", b"efg", b"", b"h"]);
        assert_eq!(split(b"abc", &[0, 0]), [&b"abc"[..]]);
        assert_eq!(split(b"", &[2]), Vec::<&[u8]>::new());
    }
}
