//! The log directory's files: links and FIFOs planted at a log's names are
//! never followed or opened, rotation renames only what exists.

use std::fs;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::PathBuf;
use std::time::Instant;

use super::*;

/// A fresh directory under the temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("podmon-logfile-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write_fd(fd: &OwnedFd, data: &[u8]) {
    rustix::io::write(fd, data).unwrap();
}

#[test]
fn a_link_at_the_log_name_is_refused_and_its_target_untouched() {
    let s = Scratch::new("link");
    let target = s.join("target");
    fs::write(&target, b"precious").unwrap();
    symlink(&target, s.join("c.log")).unwrap();
    let mut dir = LogDir::open(&s.0).unwrap();
    let e = dir.open_append("c.log", false).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
    let e = open_read(&s.join("c.log")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
    assert_eq!(fs::read(&target).unwrap(), b"precious");
    // A dangling link is refused as well (O_CREAT would create its target).
    fs::remove_file(&target).unwrap();
    assert!(dir.open_append("c.log", false).is_err());
    assert!(!target.exists(), "the link's target was created");
}

#[test]
fn a_fifo_at_the_log_name_neither_blocks_nor_is_written() {
    let s = Scratch::new("fifo");
    rustix::fs::mkfifoat(rustix::fs::CWD, s.join("c.log"), Mode::from_raw_mode(0o600)).unwrap();
    let mut dir = LogDir::open(&s.0).unwrap();
    // No reader: ENXIO instead of blocking in open.
    assert!(dir.open_append("c.log", false).is_err());
    // With a reader it opens, and is refused as not a regular file.
    let _reader = open_fifo_reader(&s.join("c.log"));
    let e = dir.open_append("c.log", false).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert!(open_read(&s.join("c.log")).is_err());
    assert!(fs::metadata(s.join("c.log")).unwrap().file_type().is_fifo());
}

fn open_fifo_reader(p: &Path) -> OwnedFd {
    rustix::fs::open(p, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty()).unwrap()
}

#[test]
fn appends_and_reports_the_size() {
    let s = Scratch::new("append");
    fs::write(s.join("c.log"), b"abc").unwrap();
    let mut dir = LogDir::open(&s.0).unwrap();
    let (fd, size) = dir.open_append("c.log", false).unwrap();
    assert_eq!(size, 3);
    write_fd(&fd, b"def");
    assert_eq!(fs::read(s.join("c.log")).unwrap(), b"abcdef");
    // Exclusive: the file must be new.
    let e = dir.open_append("c.log", true).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    let (_, size) = dir.open_append("new.log", true).unwrap();
    assert_eq!(size, 0);
}

#[test]
fn rotation_shifts_only_the_files_that_exist() {
    let s = Scratch::new("rotate");
    let mut dir = LogDir::open(&s.0).unwrap();
    for g in 0..3 {
        fs::write(s.join("c.log"), format!("gen{g}")).unwrap();
        let moved = dir.rotate("c.log", 64).unwrap();
        assert_eq!(moved, g, "rotation {g} moved {moved} files");
    }
    assert_eq!(fs::read_to_string(s.join("c.log.1")).unwrap(), "gen2");
    assert_eq!(fs::read_to_string(s.join("c.log.2")).unwrap(), "gen1");
    assert_eq!(fs::read_to_string(s.join("c.log.3")).unwrap(), "gen0");
    assert!(!s.join("c.log.4").exists());
    assert!(!s.join("c.log").exists());
}

#[test]
fn rotation_keeps_at_most_keep_files() {
    let s = Scratch::new("keep");
    let mut dir = LogDir::open(&s.0).unwrap();
    for g in 0..5 {
        fs::write(s.join("c.log"), format!("gen{g}")).unwrap();
        dir.rotate("c.log", 2).unwrap();
    }
    assert_eq!(fs::read_to_string(s.join("c.log.1")).unwrap(), "gen4");
    assert_eq!(fs::read_to_string(s.join("c.log.2")).unwrap(), "gen3");
    assert!(!s.join("c.log.3").exists());
    // keep 0: the file goes.
    fs::write(s.join("c.log"), b"x").unwrap();
    assert_eq!(dir.rotate("c.log", 0).unwrap(), 0);
    assert!(!s.join("c.log").exists());
    assert_eq!(fs::read_to_string(s.join("c.log.1")).unwrap(), "gen4");
}

#[test]
fn a_link_at_a_rotated_name_is_replaced_not_followed() {
    let s = Scratch::new("rotlink");
    let target = s.join("target");
    fs::write(&target, b"precious").unwrap();
    symlink(&target, s.join("c.log.1")).unwrap();
    fs::write(s.join("c.log"), b"log").unwrap();
    let mut dir = LogDir::open(&s.0).unwrap();
    dir.rotate("c.log", 1).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"precious");
    let m = fs::symlink_metadata(s.join("c.log.1")).unwrap();
    assert!(m.file_type().is_file(), "c.log.1 is not the rotated file");
    assert_eq!(fs::read(s.join("c.log.1")).unwrap(), b"log");
}

#[test]
fn rotation_with_the_largest_keep_is_cheap_when_few_files_exist() {
    let s = Scratch::new("cheap");
    let mut dir = LogDir::open(&s.0).unwrap();
    let t = Instant::now();
    for i in 0..100u32 {
        fs::write(s.join("c.log"), b"x").unwrap();
        // A keep far beyond what exists (the old code renamed `keep` files).
        let moved = dir.rotate("c.log", u32::MAX).unwrap();
        assert_eq!(moved, i.min(2), "rotation {i}");
        // Keep the directory at two rotated files.
        let _ = fs::remove_file(s.join("c.log.3"));
    }
    let took = t.elapsed();
    assert!(took.as_secs() < 2, "100 rotations took {took:?}");
}

#[test]
fn a_recreated_directory_is_used_again() {
    let s = Scratch::new("recreate");
    let sub = s.join("logs");
    fs::create_dir(&sub).unwrap();
    let mut dir = LogDir::open(&sub).unwrap();
    dir.open_append("c.log", false).unwrap();
    fs::remove_dir_all(&sub).unwrap();
    fs::create_dir(&sub).unwrap();
    let (fd, _) = dir.open_append("c.log", false).unwrap();
    write_fd(&fd, b"back");
    assert_eq!(fs::read(sub.join("c.log")).unwrap(), b"back");
}

#[test]
fn a_full_rotation_of_32_files_is_a_few_milliseconds() {
    let s = Scratch::new("full");
    let mut dir = LogDir::open(&s.0).unwrap();
    for k in 1..=32 {
        fs::write(s.join(&format!("c.log.{k}")), b"x").unwrap();
    }
    let rounds = 20;
    let t = Instant::now();
    for _ in 0..rounds {
        let (_fd, _) = dir.open_append("c.log", false).unwrap();
        assert_eq!(dir.rotate("c.log", 32).unwrap(), 31);
    }
    let each = t.elapsed() / rounds;
    eprintln!("one rotation with 32 rotated files: {each:?}");
    assert!(
        each.as_millis() < 50,
        "a rotation took {each:?} on the loop"
    );
    assert!(!s.join("c.log.33").exists());
}

#[test]
fn rotating_a_removed_log_is_not_an_error() {
    let s = Scratch::new("removed");
    let mut dir = LogDir::open(&s.0).unwrap();
    fs::write(s.join("c.log.1"), b"old").unwrap();
    assert_eq!(dir.rotate("c.log", 3).unwrap(), 1);
    assert_eq!(fs::read(s.join("c.log.2")).unwrap(), b"old");
    assert!(!s.join("c.log.1").exists());
    dir.open_append("c.log", true).unwrap();
}
