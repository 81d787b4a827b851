//! Making the sandbox at start, or finding the one a previous monitor of
//! this state directory left (its pins still mounted, its init still the
//! process recorded) and re-adopting it. This runs before the monitor
//! serves: the short blocking wait for the init's "ok" has a deadline.

use std::cell::Cell;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::init::InitArgs;
use super::{PodNamespace, RECORD, Sandbox, SandboxError, SandboxRecord, SandboxSpec};
use crate::pod::state::pidstat;
use crate::sys::error::SysError;
use crate::sys::idmap::IdMaps;
use crate::sys::ns::{self, NsChoice, NsKind};
use crate::sys::nsspawn;
use crate::sys::process::Watched;

/// How long the init may take to say it is ready.
const READY_DEADLINE: Duration = Duration::from_secs(10);

/// The pod's sandbox: the previous monitor's, re-adopted, when its record
/// is there and still true; else a new one made as `spec` asks (none when
/// it asks for no namespace: every container then gets its own).
pub fn open(
    spec: &SandboxSpec,
    pod: &str,
    state_dir: &Path,
) -> Result<Option<Rc<Sandbox>>, SandboxError> {
    if let Some(record) = read_record(state_dir) {
        match adopt(&record, state_dir) {
            Ok(sb) => {
                if !spec.namespaces.is_empty() && !same_kinds(spec, &record) {
                    log::warn!(
                        "--namespaces differs from the recorded sandbox: the recorded one is kept (it ends with the pod)"
                    );
                }
                log::info!("re-adopted the pod's sandbox (init {:?})", record.init_pid);
                return Ok(Some(Rc::new(sb)));
            }
            Err(why) => {
                log::warn!("the recorded pod sandbox is not usable ({why}): making a new one");
                for n in record.namespaces.iter().filter(|n| n.pinned) {
                    if let Some(p) = &n.path
                        && let Err(e) = ns::unpin(p)
                    {
                        log::warn!("{e}");
                    }
                }
                super::remove_record(state_dir);
            }
        }
    }
    if spec.namespaces.is_empty() {
        return Ok(None);
    }
    spec.validate()?;
    let sb = make(spec, pod, state_dir)?;
    write_record(state_dir, &sb.record)?;
    log::info!(
        "pod namespaces: {} (init {:?})",
        sb.record
            .namespaces
            .iter()
            .map(|n| format!(
                "{}={}",
                n.kind,
                n.path
                    .as_deref()
                    .map_or("host".into(), |p| p.display().to_string())
            ))
            .collect::<Vec<_>>()
            .join(" "),
        sb.record.init_pid
    );
    Ok(Some(Rc::new(sb)))
}

/// Whether the record has the kinds `spec` asks for.
fn same_kinds(spec: &SandboxSpec, record: &SandboxRecord) -> bool {
    let mut asked: Vec<&str> = spec.namespaces.iter().map(|(k, _)| k.name()).collect();
    let mut have: Vec<&str> = record.namespaces.iter().map(|n| n.kind.as_str()).collect();
    asked.sort_unstable();
    have.sort_unstable();
    asked == have
}

/// The record a previous monitor wrote, if there is a readable one.
fn read_record(state_dir: &Path) -> Option<SandboxRecord> {
    let path = state_dir.join(RECORD);
    let bytes = std::fs::read(&path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(r) => Some(r),
        Err(e) => {
            log::error!("{}: {e}: ignored", path.display());
            None
        }
    }
}

fn write_record(state_dir: &Path, r: &SandboxRecord) -> Result<(), SandboxError> {
    let bytes = serde_json::to_vec_pretty(r).map_err(|e| SysError::other("encoding", e))?;
    let dir = crate::sys::files::open_dir(state_dir)
        .map_err(|e| SysError::other("opening", e).with_path(state_dir))?;
    crate::sys::files::write_atomic(&dir, state_dir, RECORD, &bytes, 0o600)
        .map_err(|e| SysError::other("writing", e).with_path(&state_dir.join(RECORD)))?;
    Ok(())
}

/// Takes the recorded sandbox over: every pin still a namespace file,
/// the init (if any) still the process recorded, and watched again (our
/// child still after a live upgrade, else someone else's).
fn adopt(r: &SandboxRecord, state_dir: &Path) -> Result<Sandbox, String> {
    for n in r.namespaces.iter().filter(|n| n.pinned) {
        let Some(p) = &n.path else { continue };
        if !ns::is_namespace_file(p) {
            return Err(format!("{} is no namespace any more", p.display()));
        }
    }
    let init = match (r.init_pid, r.init_start_time) {
        (Some(pid), Some(start)) => {
            let st = pidstat::stat(pid).map_err(|e| format!("init {pid}: {e}"))?;
            if st.start_time != start {
                return Err(format!("pid {pid} is another process now"));
            }
            let child = st.ppid == std::process::id() as i32;
            let w = Watched::adopt(pid, child).map_err(|e| format!("init {pid}: {e}"))?;
            // The pidfd pins what the pid names now: check it is still ours.
            if pidstat::start_time(pid).ok() != Some(start) {
                return Err(format!("init {pid} ended meanwhile"));
            }
            Some(Rc::new(w))
        }
        _ => None,
    };
    Ok(Sandbox {
        record: r.clone(),
        init,
        closing: Cell::new(false),
        state_dir: state_dir.to_owned(),
    })
}

/// Makes the sandbox: the init cloned into the new namespaces, its "ok"
/// awaited, each new namespace pinned; host and joined ones listed.
fn make(spec: &SandboxSpec, pod: &str, state_dir: &Path) -> Result<Sandbox, SandboxError> {
    let new = spec.new_kinds();
    let mut namespaces = Vec::new();
    let mut init = None;
    if !new.is_empty() {
        let args = InitArgs {
            loopback: new.contains(&NsKind::Net),
            sysctls: spec.sysctls.clone(),
            hostname: spec.hostname.clone(),
        };
        let w = start_init(&args, &new, spec.id_maps.as_ref())?;
        for kind in &new {
            let target = ns::pin_path(&spec.base, *kind, pod);
            if let Err(e) = pin_fresh(w.pid(), *kind, &target) {
                abandon(&w, &namespaces);
                return Err(e.into());
            }
            namespaces.push(PodNamespace {
                kind: kind.name().into(),
                path: Some(target),
                pinned: true,
            });
        }
        init = Some(Rc::new(w));
    }
    for (kind, choice) in &spec.namespaces {
        let path = match choice {
            NsChoice::New => continue,
            NsChoice::Host => None,
            NsChoice::Join(p) => Some(p.clone()),
        };
        namespaces.push(PodNamespace {
            kind: kind.name().into(),
            path,
            pinned: false,
        });
    }
    let init_pid = init.as_ref().map(|w| w.pid());
    let init_start_time = match init_pid {
        Some(pid) => Some(pidstat::start_time(pid)?),
        None => None,
    };
    Ok(Sandbox {
        record: SandboxRecord {
            namespaces,
            init_pid,
            init_start_time,
            id_maps: spec.id_maps.clone(),
        },
        init,
        closing: Cell::new(false),
        state_dir: state_dir.to_owned(),
    })
}

/// Pins `kind` of `pid` at `target`, first removing a stale pin a pod of
/// the same name left there (its monitor gone, its record lost).
fn pin_fresh(pid: i32, kind: NsKind, target: &Path) -> Result<(), SysError> {
    if std::fs::symlink_metadata(target).is_ok() {
        log::warn!("{}: a stale pin, replaced", target.display());
        ns::unpin(target)?;
    }
    ns::pin(pid, kind, target)
}

/// Undoes a half-made sandbox: the pins made so far, the init.
fn abandon(init: &Watched, pinned: &[PodNamespace]) {
    for p in pinned.iter().filter_map(|n| n.path.as_ref()) {
        let _ = ns::unpin(p);
    }
    let _ = init.signal(libc::SIGKILL);
    reap_blocking(init);
}

/// Waits for an init we killed (before the loop runs, so blocking).
fn reap_blocking(init: &Watched) {
    if let Some(pid) = rustix::process::Pid::from_raw(init.pid()) {
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    }
}

/// Clones the init into new namespaces of `kinds` and waits (up to
/// [`READY_DEADLINE`]) for its "ok" on the ready pipe.
fn start_init(
    args: &InitArgs,
    kinds: &[NsKind],
    maps: Option<&IdMaps>,
) -> Result<Watched, SandboxError> {
    let (rd, wr) = crate::sys::process::pipe().map_err(|e| SysError::io("pipe", &e))?;
    // /proc/self/exe: this very image, even if the file on disk changed.
    let exe = PathBuf::from("/proc/self/exe");
    let pid = nsspawn::spawn_in_new(&exe, &args.to_args(), kinds, &wr, maps)?;
    drop(wr);
    let w = Watched::open(pid).map_err(|e| SysError::io("pidfd_open", &e))?;
    match read_ready(&rd) {
        Ok(msg) if msg == "ok" => Ok(w),
        other => {
            let _ = w.signal(libc::SIGKILL);
            reap_blocking(&w);
            let why = match other {
                Ok(m) if m.is_empty() => "exited before it was ready".to_owned(),
                Ok(m) => m,
                Err(e) => e,
            };
            Err(SandboxError::Init(why))
        }
    }
}

/// Reads the ready pipe to its end (the init closes it), with a deadline.
fn read_ready(rd: &OwnedFd) -> Result<String, String> {
    let deadline = Instant::now() + READY_DEADLINE;
    let mut out = Vec::new();
    let mut file = std::fs::File::from(rd.try_clone().map_err(|e| e.to_string())?);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("not ready within {READY_DEADLINE:?}"));
        }
        let mut fds = [rustix::event::PollFd::new(rd, rustix::event::PollFlags::IN)];
        let ts = rustix::time::Timespec::try_from(left).unwrap_or(rustix::time::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        let mut buf = [0u8; 4096];
        match file.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the ready pipe: {e}")),
        }
    }
}
