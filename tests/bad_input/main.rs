//! Wrong, hostile and unusual input on the Varlink socket and the CLI: a
//! table of single requests checked against the answer the specification
//! asks for (`table`, with the cases in `wire` and `params`), bounds hit
//! during long calls (`streams`), connections beyond the limits
//! (`accept`), descriptors sent along (`fds`), and what needs several
//! messages to say (`basics`). Afterwards the monitor's descriptors and
//! memory are back where they were.

#[path = "../common/mod.rs"]
mod common;

mod accept;
mod basics;
mod fds;
mod params;
mod streams;
mod table;
mod wire;

use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// The server's bound on one message (`MAX_MESSAGE` in src/server/conn.rs).
pub const MAX_MESSAGE: usize = 8 << 20;
/// Bytes a client may send ahead during a call (`MAX_BUFFERED`).
pub const MAX_BUFFERED: usize = MAX_MESSAGE + (1 << 20);
/// How much more memory than at the start counts as "back at baseline":
/// the allocator may keep a freed 8 MiB buffer's pages for reuse.
pub const RSS_SLACK_KIB: u64 = 12 * 1024;

/// Open descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The monitor's descriptors and memory now.
pub struct Footprint {
    pub fds: usize,
    pub rss_kib: u64,
}

impl Footprint {
    pub fn of(pod: &Pod) -> Footprint {
        Footprint {
            fds: fd_count(pod.pid),
            rss_kib: rss_kib(pod.pid),
        }
    }

    /// Panics unless the monitor's descriptors come back to this baseline
    /// within a few seconds and its memory is within [`RSS_SLACK_KIB`].
    #[track_caller]
    pub fn assert_back(&self, pod: &Pod, after: &str) {
        let back = wait_until(Duration::from_secs(10), || fd_count(pod.pid) <= self.fds);
        assert!(
            back,
            "after {after}: {} descriptors open, {} before",
            fd_count(pod.pid),
            self.fds
        );
        let rss = rss_kib(pod.pid);
        assert!(
            rss <= self.rss_kib + RSS_SLACK_KIB,
            "after {after}: RSS {rss} KiB, {} KiB before",
            self.rss_kib
        );
    }
}

fn ctx(pod: &Pod) -> params::Ctx {
    params::Ctx {
        rootfs: rootfs().display().to_string(),
        missing: pod.dir.join("no-such-dir").display().to_string(),
    }
}

/// A pod with the containers the cases expect: `run` running, `made` created.
fn table_pod(name: &str) -> Pod {
    let pod = Pod::start(name);
    // A pid 1 that ends on SIGTERM, so stopping the pod is quick.
    pod.run(
        "run",
        &["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
    );
    pod.create("made", &["true"]);
    pod
}

#[test]
fn hostile_requests_get_the_answers_the_spec_asks_for() {
    let pod = table_pod("bad-table");
    let mut cases = wire::cases();
    cases.extend(params::cases(&ctx(&pod)));
    // One pass to warm the allocator up, then the baseline.
    let _ = table::run(&pod, &cases[..10]);
    let before = Footprint::of(&pod);
    let wrong = table::run(&pod, &cases);
    assert!(
        wrong.is_empty(),
        "{} of {} cases answered wrongly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    before.assert_back(&pod, "the table");
    // Nothing was created by all that.
    let l = pod
        .client()
        .call_more(LIST_CONTAINERS, serde_json::json!({}));
    assert_eq!(l.len(), 2, "{l:?}");
}

/// The range checks of the parameter-bounds work (InvalidValue naming
/// logMaxFiles, width, height, hostname, GetContainer's id).
#[test]
fn out_of_range_values_name_their_parameter() {
    let pod = table_pod("bad-range");
    let wrong = table::run(&pod, &params::range_checks(&ctx(&pod)));
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
}

#[test]
fn the_table_has_at_least_100_distinct_cases() {
    let ctx = params::Ctx {
        rootfs: "/rootfs".into(),
        missing: "/missing".into(),
    };
    let mut cases = wire::cases();
    cases.extend(params::cases(&ctx));
    cases.extend(params::range_checks(&ctx));
    let bytes: BTreeSet<&[u8]> = cases.iter().map(|c| c.bytes.as_slice()).collect();
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(bytes.len(), cases.len(), "two cases send the same bytes");
    assert_eq!(names.len(), cases.len(), "two cases have the same name");
    assert!(cases.len() >= 100, "only {} cases", cases.len());
}
