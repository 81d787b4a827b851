//! Byte-exact reconstruction of large mixed output from the CRI log.

use crate::common::*;
use crate::support::*;
use serde_json::json;
use std::fs;
use std::time::Instant;

/// The spec's size, 128 MiB. Measured on the test machine (2 shared cores,
/// debug builds of podmon and of this test): about 15 s for this test alone
/// (generating 4.7 s, start..WaitContainer 2.7 s, checking 3.2 s; ~900000
/// records).
const EXACT_SIZE: usize = 128 << 20;

/// The two streams rebuilt from a CRI log, with what the walk saw.
struct Streams {
    out: Vec<u8>,
    err: Vec<u8>,
    records: usize,
    partials: usize,
    longest: usize,
    first_ts: String,
    last_ts: String,
}

/// Walks every record of `log` (strictly) and rebuilds stdout and stderr.
fn split_streams(log: &[u8], out_cap: usize, err_cap: usize) -> Streams {
    let mut out = Vec::with_capacity(out_cap);
    let mut err = Vec::with_capacity(err_cap);
    let (mut records, mut partials, mut longest) = (0usize, 0usize, 0usize);
    let (mut first_ts, mut last_ts) = (String::new(), String::new());
    for_each_record(log, false, |_, ts, stream, partial, content| {
        records += 1;
        partials += usize::from(partial);
        longest = longest.max(content.len());
        if first_ts.is_empty() {
            first_ts = ts.to_string();
        }
        if last_ts.as_str() != ts {
            last_ts = ts.to_string();
        }
        let dst = if stream == "stdout" {
            &mut out
        } else {
            &mut err
        };
        dst.extend_from_slice(content);
        if !partial {
            dst.push(b'\n');
        }
    });
    Streams {
        out,
        err,
        records,
        partials,
        longest,
        first_ts,
        last_ts,
    }
}

#[test]
fn byte_exact_reconstruction_of_mixed_output() {
    let _h = heavy();
    let pod = Pod::start("lg-exact");
    let t0 = Instant::now();
    let out_data = mixed_stream(0x5eed_0001, EXACT_SIZE);
    let err_data = mixed_stream(0x5eed_0002, 1 << 20);
    let root = copy_rootfs(&pod.dir);
    fs::write(root.join("out.bin"), &out_data).unwrap();
    fs::write(root.join("err.bin"), &err_data).unwrap();
    let gen_time = t0.elapsed();

    pod.create_with(
        "x",
        &["sh", "-c", "cat /out.bin & cat /err.bin >&2; wait"],
        json!({ "rootfs": root.display().to_string() }),
    );
    let t1 = Instant::now();
    pod.start_container("x");
    let w = pod.wait("x");
    let run_time = t1.elapsed();
    assert_eq!(w["exitCode"], json!(0), "{w}");

    let t2 = Instant::now();
    let log = read_bytes(&pod.log_path("x"));
    assert_eq!(
        w["container"]["logBytesWritten"],
        json!(log.len()),
        "logBytesWritten differs from the log file's size"
    );
    let st = split_streams(&log, out_data.len() + 1, err_data.len() + 1);
    let (longest, records, partials) = (st.longest, st.records, st.partials);
    assert!(
        longest <= MAX_LINE,
        "a record holds {longest} bytes, more than {MAX_LINE}"
    );
    for ts in [&st.first_ts, &st.last_ts] {
        let (s, _) = rfc3339_to_unix(ts);
        assert!((s - unix_now()).abs() < 300, "timestamp {ts} not near now");
    }
    assert!(
        st.out == out_data,
        "stdout differs: {}",
        first_difference(&st.out, &out_data)
    );
    assert!(
        st.err == err_data,
        "stderr differs: {}",
        first_difference(&st.err, &err_data)
    );
    eprintln!(
        "byte-exact: {} MiB stdout + {} KiB stderr; generating {gen_time:?}, \
         start..WaitContainer {run_time:?}, checking {:?}; {records} records, {partials} P, \
         log {} bytes",
        out_data.len() >> 20,
        err_data.len() >> 10,
        t2.elapsed(),
        log.len()
    );
}
