//! How much memory this process may still take: what the machine has available and
//! what `ulimit -v` leaves. Sizes derived from input are compared with it before they
//! are allocated (an allocation failure aborts a Rust program) — and giving back what
//! a phase freed, so the next phase's peak does not sit on top of it — and the
//! allocator the binaries install ([`HugePageAlloc`]), which backs large buffers with
//! transparent huge pages where that pays.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// `MemAvailable` of `/proc/meminfo`, in bytes (None where there is none).
pub fn available_memory() -> Option<u64> {
    meminfo_field("/proc/meminfo", "MemAvailable:")
}

/// What the address-space limit (`ulimit -v`) leaves above the process's current
/// virtual size, in bytes (None without a limit).
pub fn address_space_left() -> Option<u64> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As).current?;
    let used = meminfo_field("/proc/self/status", "VmSize:").unwrap_or(0);
    Some(limit.saturating_sub(used))
}

/// The smaller of the two: the memory a new allocation can count on.
pub fn memory_budget() -> Option<u64> {
    match (available_memory(), address_space_left()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A `KEY: N kB` line of a `/proc` file, in bytes.
fn meminfo_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Hands freed memory back to the system. glibc keeps what a thread frees in that
/// thread's own arena, and what is freed below its (self-raising) mmap threshold in the
/// heap, and both stay in the process's resident set: untrimmed before the CSR build,
/// the Parquet reader's decoded row groups (freed on the rayon pool) held 75 MB of a
/// 20M-row ingest, lifting its peak from 1.93× the store to 2.09×, and the id maps'
/// outgrown hash tables held 50 MB of a shuffled string-id CSV's (`docs/benchmarks.md`).
/// Ingest trims once, when the parse is done, for every reader. A no-op elsewhere.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it takes each arena's lock itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The system allocator, asking the kernel to back every allocation that spans a whole
/// 2 MiB page with transparent huge pages (`madvise(MADV_HUGEPAGE)`) once
/// [`advise_huge_pages_where_they_pay`] has said so. The binaries install it
/// (`#[global_allocator]`) and make that call at startup; the libraries work with any
/// allocator.
///
/// Why: an ingest fills hundreds of MB of fresh buffers — row columns, CSR columns, the
/// 64 MB read blocks, the id tables — and with 4 KiB pages every one of them is a page
/// fault, and every random access into them a likely TLB miss. Most distributions ship
/// THP in `madvise` mode, so nothing is huge unless asked for. 20M-row CSV on a 2-core
/// Intel Xeon VM, runs back to back: wall 2.97 → 2.79 s, system CPU 0.68 → 0.42 s
/// (`docs/benchmarks.md`).
/// Where THP is off (`never`) the advice is ignored; on other systems this is the system
/// allocator unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct HugePageAlloc;

/// The huge-page size advised for (x86-64 and most aarch64 kernels).
const HUGE_PAGE: usize = 2 << 20;

/// Whether [`HugePageAlloc`] advises huge pages; off until the process decides.
static HUGE_PAGES: AtomicBool = AtomicBool::new(false);

/// Turns [`HugePageAlloc`]'s advice on or off for the allocations that follow.
pub fn set_huge_pages(on: bool) {
    HUGE_PAGES.store(on, Ordering::Relaxed);
}

/// Turns the huge-page advice on unless this kernel hands its free memory back to a
/// hypervisor ([`free_memory_goes_to_a_hypervisor`]). Call once, at startup.
///
/// Why not there: a guest that reports free pages (virtio-balloon free page reporting,
/// as on the Firecracker microVMs measured here) gives every free 2 MiB block back to
/// the host about two seconds after it was freed, so a fresh huge page is nearly
/// always one the host must fault in again, while a 4 KiB page is often taken from the
/// smaller free blocks that are never reported. Measured on a 2-core Intel Xeon
/// microVM, each run started three seconds after the last: 20M-row CSV ingest 1.70 →
/// 1.39 s (system CPU 1.06 → 0.42 s), its Parquet form 1.76 → 1.40 s, the same rows
/// shuffled 2.33 → 1.80 s, a 100M-row CSV 8.5 → 6.8 s; huge pages won only when a run
/// came right after another had freed its memory (`docs/benchmarks.md`).
pub fn advise_huge_pages_where_they_pay() {
    set_huge_pages(!free_memory_goes_to_a_hypervisor());
}

/// Whether a virtio balloon device of this (Linux) machine has free page reporting
/// negotiated: the kernel then returns the free memory it has not touched for a while
/// to the host.
pub fn free_memory_goes_to_a_hypervisor() -> bool {
    let Ok(devices) = std::fs::read_dir("/sys/bus/virtio/drivers/virtio_balloon") else {
        return false;
    };
    devices.flatten().any(|device| {
        std::fs::read_to_string(device.path().join("features"))
            .is_ok_and(|features| reports_free_pages(&features))
    })
}

/// Whether a virtio device's `features` (one `0`/`1` per feature bit, lowest first)
/// include `VIRTIO_BALLOON_F_REPORTING`, bit 5.
fn reports_free_pages(features: &str) -> bool {
    const VIRTIO_BALLOON_F_REPORTING: usize = 5;
    features.as_bytes().get(VIRTIO_BALLOON_F_REPORTING) == Some(&b'1')
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are the caller's; `advise_huge_pages` only adds a hint on
// memory that the allocation just returned owns.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `System::alloc`, which the caller's contract covers.
        let ptr = unsafe { System.alloc(layout) };
        advise_huge_pages(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `System::alloc_zeroed`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise_huge_pages(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `System::realloc`; `ptr` came from `System` with `layout`.
        let ptr = unsafe { System.realloc(ptr, layout, new_size) };
        advise_huge_pages(ptr, new_size);
        ptr
    }
}

/// Advises huge pages for the allocation of `len` bytes at `ptr` when the advice is on
/// and it can hold a whole 2 MiB page (not for a null pointer or a smaller allocation).
///
/// The advice covers the allocation's pages from the one holding `ptr` on — for an
/// allocation the system allocator mapped on its own, its whole mapping. Advising only
/// the 2 MiB-aligned interior would split the mapping in three, and a split mapping
/// cannot be grown in place (`mremap`): every `Vec` growth then copied the buffer into
/// fresh 4 KiB pages before the advice reached them (`perf record -e page-faults`).
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        if ptr.is_null() || len < HUGE_PAGE || !HUGE_PAGES.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            size if size > 0 => size as usize,
            _ => return,
        };
        let start = ptr as usize / page * page;
        let end = (ptr as usize).saturating_add(len).next_multiple_of(page);
        // SAFETY: [start, end) is the pages of the allocation just made or resized
        // (which its caller alone owns) and at most the ends of their neighbours'
        // first and last pages; MADV_HUGEPAGE changes how pages are backed, never their
        // contents, and its failure (a kernel without THP) leaves them as they were.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len, HUGE_PAGE);
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The `VmFlags` of the one mapping that holds all of `len` bytes at `ptr` (None if
    /// no single mapping does).
    fn flags_of_mapping_holding(ptr: *const u8, len: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let (from, to) = (ptr as usize, ptr as usize + len);
        let mut holds = false;
        for line in smaps.lines() {
            let header = line
                .split_whitespace()
                .next()
                .and_then(|t| t.split_once('-'));
            if let Some((Ok(start), Ok(end))) = header.map(|(start, end)| {
                (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            }) {
                holds = start <= from && to <= end;
            } else if let Some(flags) = line.strip_prefix("VmFlags:").filter(|_| holds) {
                return Some(flags.to_string());
            }
        }
        None
    }

    #[test]
    fn large_buffers_are_advised_huge_when_asked_and_grow_in_one_mapping() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            eprintln!("this kernel has no transparent huge pages: nothing to check");
            return;
        }
        let alloc = HugePageAlloc;
        let layout = Layout::from_size_align(8 << 20, 8).unwrap();
        let advised = |ptr: *const u8, len: usize| {
            let flags = flags_of_mapping_holding(ptr, len).expect("one mapping");
            flags.split_whitespace().any(|f| f == "hg")
        };
        // SAFETY: a non-zero layout; each pointer is checked, written within its
        // length, resized with the layout it was made with and freed with its own.
        unsafe {
            set_huge_pages(false);
            let plain = alloc.alloc(layout);
            assert!(!plain.is_null());
            plain.write_bytes(7, layout.size());
            assert!(
                !advised(plain, layout.size()),
                "no advice until it is turned on"
            );
            alloc.dealloc(plain, layout);
            set_huge_pages(true);
            let ptr = alloc.alloc(layout);
            assert!(!ptr.is_null());
            ptr.write_bytes(7, layout.size());
            assert!(advised(ptr, layout.size()));
            let grown = alloc.realloc(ptr, layout, 32 << 20);
            assert!(!grown.is_null());
            assert_eq!(*grown.add(layout.size() - 1), 7, "contents kept");
            // Advice on a part of the mapping would split it, and a later growth could
            // not be done in place: the buffer stays one advised mapping.
            assert!(advised(grown, 32 << 20));
            alloc.dealloc(grown, Layout::from_size_align(32 << 20, 8).unwrap());
        }
    }

    #[test]
    fn free_page_reporting_is_bit_five_of_the_balloon_features() {
        // What this machine's Firecracker balloon offers: bits 1, 2, 5 and 32.
        let reporting = format!("01100101{}1{}", "0".repeat(24), "0".repeat(95));
        assert!(reports_free_pages(&reporting));
        let without = format!("01100001{}1{}", "0".repeat(24), "0".repeat(95));
        assert!(!reports_free_pages(&without));
        assert!(!reports_free_pages("0110"), "a short list has no bit 5");
        assert!(!reports_free_pages(""));
    }
}
