//! Owns giving freed memory back to the system once a load is over. glibc's malloc keeps what
//! the process frees in its arenas for reuse and returns to the system only the free top of each
//! heap; after a load (TLS buffers, message bodies and Graph answers freed all over the heaps of
//! every worker thread) a gateway that holds little again stays at its peak resident size
//! (measured with `cargo bench --bench memory`: 147 MiB resident after a load, 86 MiB of it in
//! use). A watcher looks every few seconds at how far the resident size exceeds what the
//! allocator has handed out and, when the gap has grown by more than a few megabytes since it
//! last looked, asks glibc to give whole free pages back (`malloc_trim`, which also walks the
//! arenas of other threads). Elsewhere than on glibc it does nothing. The same watcher has hubs
//! without sessions give up their folder indexes after a while (`HubRegistry`), so what a load
//! leaves behind is the body cache's bound and little more.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::hub::{HubRegistry, INDEX_LINGER};

/// How often the gap between resident and allocated memory is looked at.
const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Growth of that gap since the last trim that makes it worth trimming again: below it a trim
/// would give back little, and each one locks every arena while it walks it.
const TRIM_SLACK_BYTES: u64 = 16 * 1024 * 1024;

/// Releases the folder indexes of hubs without sessions, and gives freed memory back to the
/// system while it is worth it, every [`CHECK_INTERVAL`] until `shutdown` turns true.
pub async fn give_back_freed_memory(
    registry: Arc<HubRegistry>,
    mut shutdown: watch::Receiver<bool>,
) {
    // The gap left by the last trim (or at start): free memory the allocator could not give
    // back (pages partly in use) is not trimmed again and again.
    let mut floor = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let released = registry.release_unused_indexes(INDEX_LINGER);
        if released > 0 {
            tracing::debug!(released, "folder indexes of hubs without sessions released");
        }
        if !trimming_supported() {
            continue;
        }
        let Some(gap) = unallocated_resident_bytes() else {
            continue;
        };
        let floor = floor.get_or_insert(gap);
        if gap < *floor {
            *floor = gap;
        } else if gap - *floor > TRIM_SLACK_BYTES {
            // malloc_trim takes each arena's lock in turn: off the runtime's workers.
            let after = tokio::task::spawn_blocking(|| {
                trim();
                unallocated_resident_bytes()
            })
            .await
            .ok()
            .flatten();
            if let Some(after) = after {
                tracing::debug!(before = gap, after, "gave freed memory back to the system");
                *floor = after;
            }
        }
    }
}

/// Resident bytes beyond those malloc has handed out and not had back: free memory it keeps,
/// plus what is not malloc's at all (code, stacks), which stays about constant.
fn unallocated_resident_bytes() -> Option<u64> {
    let resident = crate::metrics::resident_memory_bytes()?;
    Some(resident.saturating_sub(allocated_bytes()?))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trimming_supported() -> bool {
    true
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trimming_supported() -> bool {
    false
}

/// Bytes malloc has handed out: in use in its heaps, and in chunks it mapped on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn allocated_bytes() -> Option<u64> {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    Some((info.uordblks + info.hblkhd) as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn allocated_bytes() -> Option<u64> {
    None
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free pages of the allocator's own heaps.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Freed memory comes back to the system: many small blocks allocated and freed on another
    /// thread (so in another arena, out of reach of the main heap's own trimming) stay resident
    /// until a trim.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_gives_freed_memory_back() {
        let blocks = std::thread::spawn(|| {
            let mut blocks: Vec<Vec<u8>> = (0..40_000).map(|i| vec![i as u8; 4000]).collect();
            // All freed but the last, at the heap's top, which keeps glibc from trimming the
            // heap on its own.
            let keep = blocks.pop();
            blocks.clear();
            keep
        })
        .join()
        .unwrap();
        let before = unallocated_resident_bytes().unwrap();
        trim();
        let after = unallocated_resident_bytes().unwrap();
        drop(blocks);
        assert!(
            before.saturating_sub(after) > 64 * 1024 * 1024,
            "a trim gave back {} bytes ({before} -> {after} not allocated but resident)",
            before.saturating_sub(after)
        );
    }
}
