//! The rayon pool the kernels run on, safe across `fork()`.
//!
//! `datasets.map(num_proc=...)` and DataLoader workers fork the Python process. A forked
//! child inherits rayon's global registry but none of its threads, so work submitted to
//! it there never runs. Kernels therefore never use the global pool: they use this one,
//! which is rebuilt the first time it is needed in a new process id. The parent's pool
//! object is leaked in the child (its threads do not exist there; dropping it would try to
//! signal them).
//!
//! The size comes from `FAST_AXOLOTL_NUM_THREADS`, else `RAYON_NUM_THREADS`, else the
//! number of available cores.

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);

fn configured_threads() -> usize {
    ["FAST_AXOLOTL_NUM_THREADS", "RAYON_NUM_THREADS"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .filter_map(|v| v.trim().parse::<usize>().ok())
        .find(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The pool of this process, created on first use (and again after a fork).
pub fn pool() -> Arc<ThreadPool> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, pool)) = slot.as_ref() {
        if *owner == pid {
            return Arc::clone(pool);
        }
    }
    if let Some((_, inherited)) = slot.take() {
        std::mem::forget(inherited); // the parent's threads are not ours to stop
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(configured_threads())
            .thread_name(|i| format!("fast-axolotl-{i}"))
            .build()
            .expect("building a rayon thread pool"),
    );
    *slot = Some((pid, Arc::clone(&pool)));
    pool
}

/// Runs `f` inside this process's pool, so rayon iterators in `f` use it.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Threads of this process's pool.
pub fn threads() -> usize {
    pool().current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn install_runs_parallel_iterators_in_the_pool() {
        let sum: u64 = install(|| (0..10_000u64).into_par_iter().sum());
        assert_eq!(sum, 10_000 * 9_999 / 2);
        assert!(threads() >= 1);
    }
}
