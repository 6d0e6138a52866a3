//! Process memory: keeps a long-running server's resident memory near what
//! its data needs.
//!
//! glibc's allocator gives each thread that allocates an arena of its own,
//! up to eight per core; a server whose blocking threads come and go
//! (FHIR operations, validation, recodes) keeps freed memory in each of
//! them. Measured under the fuzz script: 595 MB resident after 4 minutes
//! with the default, 252 MB with two arenas, for the same requests.
//! Elsewhere (other allocators) these are no-ops.

/// Limits the allocator to two arenas. Call once, before threads start.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX takes a count.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Gives freed memory back to the system (after a snapshot is replaced,
/// and once a minute while serving: 285 MB resident after the 10-minute
/// fuzz run, 181 MB once trimmed).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the top of the heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}
