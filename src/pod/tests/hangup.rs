//! A caller that goes away (a client that hung up, its handler dropped)
//! stops no operation halfway and leaves no exec running or unreaped.

use std::time::Duration;

use super::{clean_up, on_reactor, pod, request, spec};
use crate::pod::Status;
use crate::pod::exec;
use crate::pod::lifecycle;
use crate::reactor::{ops, sync};

/// Our children (of any thread) whose command line is `args`, zombies too.
fn children_running(args: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = args
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok().as_deref() == Some(&want))
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let after = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
            after.split_whitespace().nth(1) == Some(me.as_str())
        })
        .collect()
}

/// Polls `f` every 10 ms for up to 5 s.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if f() {
            return true;
        }
        ops::sleep(Duration::from_millis(10)).await;
    }
    f()
}

#[test]
fn abandoned_create_and_start_run_to_their_end() {
    on_reactor(|| async {
        let (pod, _fake, bundle) = pod();
        let create = Box::pin(lifecycle::create(
            &pod,
            request("c1", &bundle),
            Default::default(),
        ));
        // Polled once (the operation begins), then dropped.
        let _ = sync::select(create, std::future::ready(())).await;
        assert!(
            eventually(|| pod.get("c1").is_ok()).await,
            "the create stopped"
        );
        let start = Box::pin(lifecycle::start(&pod, "c1"));
        let _ = sync::select(start, std::future::ready(())).await;
        let c = pod.get("c1").expect("c1");
        assert!(
            eventually(|| c.status() == Status::Running && !c.state.borrow().starting).await,
            "the start stopped halfway: {:?}",
            c.status()
        );
        clean_up(&pod).await;
    });
}

#[test]
fn abandoned_execs_are_killed_and_reaped() {
    on_reactor(|| async {
        let (pod, _fake, bundle) = pod();
        super::container(&pod, &bundle, "c1", true).await;

        // Dropped while its runtime runs: started, then killed and reaped.
        let first = spec(&["sleep", "1001"]);
        let starting = Box::pin(exec::spawn_exec(&pod, "c1", &first, false, None));
        let _ = sync::select(starting, std::future::ready(())).await;
        // Dropped once running.
        let running = exec::spawn_exec(&pod, "c1", &spec(&["sleep", "1002"]), false, None)
            .await
            .expect("exec");
        assert_eq!(
            children_running(&["sleep", "1002"]),
            [running.process.pid()]
        );
        drop(running);
        // Dropped while ExecSync waits for it.
        let third = spec(&["sleep", "1003"]);
        let sync_call = exec::exec_sync(&pod, "c1", &third, None, 1024);
        let waited = sync::timeout(Duration::from_millis(300), sync_call).await;
        assert!(waited.is_none(), "sleep 1003 ended by itself");

        for tag in ["1001", "1002", "1003"] {
            assert!(
                eventually(|| children_running(&["sleep", tag]).is_empty()).await,
                "sleep {tag} still runs or is unreaped: {:?}",
                children_running(&["sleep", tag])
            );
        }
        assert!(pod.execs.borrow().is_empty(), "execs still registered");
        clean_up(&pod).await;
    });
}
