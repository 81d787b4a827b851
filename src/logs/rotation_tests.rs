//! Exact rotation, on both backends: over many limits, line lengths and
//! buffer sizes, no file passes logMaxSize by a whole record, every file
//! holds whole records, and the files read oldest first are exactly the
//! records written, none lost or repeated (with room enough to keep them
//! all), or the newest ones (with fewer files kept).

use std::path::Path;

use super::cri::{self, Stream};
use super::driver::{CriFile, LogDriver, Rotation};
use crate::reactor::tests::on_both;
use crate::sys::time::Timestamp;

/// A small deterministic generator (xorshift64*), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// The current file and its rotated ones, oldest first.
fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut n = 1;
    let mut out = Vec::new();
    while let Ok(b) = std::fs::read(dir.join(format!("c.log.{n}"))) {
        out.push(b);
        n += 1;
    }
    out.reverse();
    out.push(std::fs::read(dir.join("c.log")).unwrap());
    out
}

/// One case: `lines` lines of up to `line_max` bytes, split into records
/// of at most `max_line`, written in buffers of up to `buf_max` bytes.
async fn case(dir: &Path, rng: &mut Rng, max_size: u64, keep: u32, max_line: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let rotation = Rotation {
        max_size: Some(max_size),
        max_files: keep,
    };
    let mut f = CriFile::open(&dir.join("c.log"), max_line, rotation).unwrap();
    let ts = Timestamp::now();
    let (mut all, mut longest) = (Vec::new(), 0);
    for _ in 0..1 + rng.below(40) {
        let mut buf = Vec::new();
        for _ in 0..1 + rng.below(30) {
            let len = rng.below(3 * max_line as u64) as usize;
            let mut line = vec![b'a' + (rng.below(26) as u8); len];
            line.push(b'\n');
            let before = buf.len();
            cri::format_chunk(Stream::Stdout, &ts, &line, max_line, &mut buf);
            for rec in buf[before..].split_inclusive(|&b| b == b'\n') {
                longest = longest.max(rec.len() as u64);
            }
        }
        all.extend_from_slice(&buf);
        let (r, _) = f.write(buf).await;
        r.unwrap();
    }
    let got = files(dir);
    assert!(got.len() <= keep as usize + 1, "{} files kept", got.len());
    for (i, file) in got.iter().enumerate() {
        assert!(
            (file.len() as u64) < max_size + longest,
            "file {i} of {}: {} bytes, limit {max_size}, longest record {longest}",
            got.len(),
            file.len()
        );
        assert!(file.is_empty() || file.ends_with(b"\n"), "a record cut");
        if i + 1 < got.len() {
            assert!(file.len() as u64 >= max_size, "rotated early");
        }
    }
    let joined: Vec<u8> = got.concat();
    assert!(
        all.ends_with(&joined),
        "the files are not the newest records"
    );
    if got.len() <= keep as usize {
        assert_eq!(joined.len(), all.len(), "records lost with room to keep");
    }
}

#[test]
fn rotation_never_passes_the_limit_by_a_record() {
    on_both(|b| async move {
        let dir = std::env::temp_dir().join(format!("podmon-rot-{}-{b:?}", std::process::id()));
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..30 {
            let max_size = 200 + rng.below(20_000);
            let keep = [0, 1, 2, 5, 32][round % 5];
            let max_line = [16, 100, 1000, 16 * 1024][round % 4];
            case(&dir, &mut rng, max_size, keep, max_line).await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}
