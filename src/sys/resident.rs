//! What of podmon stays resident: its own code pages and the heap.
//!
//! A monitor sits idle for days beside its pod, and most of its binary is
//! code it does not run there (the CLI, argument parsing, startup, error
//! paths). The kernel maps cached pages of a file mapping around every
//! fault (fault-around, 64 KiB windows, whole large folios), so starting
//! up alone left 2.2 of the 2.3 MB of text resident, and `MADV_RANDOM`
//! does not turn that off (measured: no change). What does is dropping
//! the binary's read-only pages from our page tables once the loop has
//! gone idle ([`shed`]): the pages stay in the page cache, the
//! next call faults back (minor faults) only what it runs. The same moment
//! gives glibc's free heap memory back (`malloc_trim`), so a burst of
//! execs or a big reply leaves nothing behind. It runs once the serve loop
//! is set up and whenever the last open connection closes.

use std::cell::Cell;
use std::ffi::c_int;

thread_local! {
    /// Connections open now.
    static OPEN: Cell<usize> = const { Cell::new(0) };
}

/// Held by each connection while it is open: when the last one closes the
/// monitor goes idle, and [`shed`] runs then, with no timer (an idle
/// monitor has no wakeups) and never between the calls of a connected
/// client.
pub struct Connection(());

impl Connection {
    /// Counts a connection as open.
    pub fn open() -> Connection {
        OPEN.set(OPEN.get() + 1);
        Connection(())
    }
}

impl Drop for Connection {
    /// The last close sheds: a client that connects per call pays the
    /// refaults of its next call (minor faults from the page cache).
    fn drop(&mut self) {
        let n = OPEN.get().saturating_sub(1);
        OPEN.set(n);
        if n == 0 {
            shed();
        }
    }
}

/// Drops podmon's own read-only code and data pages from this process's
/// page tables, and trims the heap. Safe at any moment: those segments
/// are never written, so a later access faults the same bytes back from
/// the page cache (as after the kernel reclaimed them).
pub fn shed() {
    // SAFETY: the callback only reads the program headers dl_iterate_phdr
    // hands it; the data pointer is unused.
    unsafe {
        libc::dl_iterate_phdr(Some(drop_read_only), std::ptr::null_mut());
    }
    trim();
}

/// For the first object dl_iterate_phdr reports (the main executable),
/// drops the pages of every loadable segment that is not writable; returns
/// 1 to stop there.
unsafe extern "C" fn drop_read_only(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    _data: *mut libc::c_void,
) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid info whose dlpi_phdr points
    // at dlpi_phnum program headers, valid for the call.
    let (base, phdrs) = unsafe {
        let info = &*info;
        let phdrs = std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
        (info.dlpi_addr as usize, phdrs)
    };
    let page = page_size();
    for ph in phdrs {
        // Writable segments (relocated data, .data, .bss; RELRO is one of
        // them in the file) hold what the file does not: never dropped.
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
            continue;
        }
        let start = (base + ph.p_vaddr as usize) & !(page - 1);
        let end = base + (ph.p_vaddr + ph.p_memsz) as usize;
        // SAFETY: [start, end) lies within a read-only private file mapping
        // the loader made for this executable and nothing ever wrote to:
        // after MADV_DONTNEED an access reads the same bytes from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    1
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

/// Gives the heap's free memory back to the kernel: the top of the heap
/// and whole free pages inside it (a walk over glibc's free lists).
fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only works on the allocator's own state.
    unsafe {
        libc::malloc_trim(0);
    }
}
