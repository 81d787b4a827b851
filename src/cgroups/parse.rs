//! Small helpers shared by the v1 and v2 parsers: number files, "max"
//! limits, flat "key value" files, and tolerant file reading.

use std::io::ErrorKind;
use std::path::Path;

/// Parses a file holding one unsigned number, such as `memory.current`.
pub(crate) fn single_u64(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Parses a limit file that says `max` when unlimited (`memory.max`,
/// `pids.max`); `max` and unparsable text both give `None`.
pub(crate) fn limit_or_max(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        other => other.parse().ok(),
    }
}

/// A parsed flat-keyed file: one `key value` pair per line (`cpu.stat`,
/// `memory.stat`, `memory.events`, `memory.oom_control`, `cpuacct.stat`).
///
/// Lines that do not fit (no value, non-numeric value) are skipped, so a
/// kernel adding odd lines never hides the ones we know.
pub(crate) struct FlatKeyed<'a> {
    pairs: Vec<(&'a str, u64)>,
}

impl<'a> FlatKeyed<'a> {
    /// Splits `text` into its pairs.
    pub(crate) fn parse(text: &'a str) -> Self {
        let pairs = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let key = fields.next()?;
                let value = fields.next()?.parse().ok()?;
                Some((key, value))
            })
            .collect();
        Self { pairs }
    }

    /// The value of `key`, if the file had it.
    pub(crate) fn get(&self, key: &str) -> Option<u64> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// The sum of the keys that are present, or `None` when none is.
    pub(crate) fn sum_present(&self, keys: &[&str]) -> Option<u64> {
        keys.iter()
            .filter_map(|key| self.get(key))
            .reduce(u64::saturating_add)
    }
}

/// Reads `dir/name`, giving `None` when it cannot be read.
///
/// A missing file is normal (older kernel, controller not enabled), so only
/// other errors are logged, at debug level, since stats are best effort.
pub(crate) fn read_opt(dir: &Path, name: &str) -> Option<String> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == ErrorKind::NotFound => None,
        Err(err) => {
            log::debug!("cgroup stats: reading {}: {err}", path.display());
            None
        }
    }
}

/// Reads and parses `dir/name` with `parse`, `None` if either step fails.
pub(crate) fn read_with<T>(dir: &Path, name: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
    read_opt(dir, name).as_deref().and_then(parse)
}

/// Test helper: the path of a fixture under `tests/fixtures/cgroup`.
#[cfg(test)]
pub(crate) fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(rel)
}

/// Test helper: the text of a fixture file under `tests/fixtures/cgroup`.
#[cfg(test)]
pub(crate) fn fixture_text(rel: &str) -> String {
    let path = fixture(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_number_tolerates_whitespace_and_rejects_garbage() {
        assert_eq!(single_u64("123\n"), Some(123));
        assert_eq!(single_u64(""), None);
        assert_eq!(single_u64("-1\n"), None);
        assert_eq!(single_u64("12 34"), None);
    }

    #[test]
    fn max_means_unlimited() {
        assert_eq!(limit_or_max("max\n"), None);
        assert_eq!(limit_or_max("1024\n"), Some(1024));
        assert_eq!(limit_or_max("bogus"), None);
    }

    #[test]
    fn flat_keyed_skips_odd_lines() {
        let kv = FlatKeyed::parse("a 1\nnovalue\nb x\n\nc 3 extra\nd 18446744073709551615\n");
        assert_eq!(kv.get("a"), Some(1));
        assert_eq!(kv.get("b"), None);
        assert_eq!(kv.get("c"), Some(3));
        assert_eq!(kv.get("novalue"), None);
        assert_eq!(kv.sum_present(&["a", "c", "zz"]), Some(4));
        assert_eq!(kv.sum_present(&["zz"]), None);
        // Saturates instead of overflowing on absurd values.
        assert_eq!(kv.sum_present(&["d", "a"]), Some(u64::MAX));
    }

    #[test]
    fn missing_file_is_none() {
        let dir = fixture("does-not-exist");
        assert_eq!(read_opt(&dir, "memory.current"), None);
        assert_eq!(read_with(&dir, "memory.current", single_u64), None);
    }
}
