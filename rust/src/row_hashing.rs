//! fast-axolotl 0.2.0's `parallel_hash_rows` and `deduplicate_indices`: the SHA-256 of
//! each row's UTF-8 bytes, and the first row of each digest not seen before.
//!
//! Rows are hashed on scoped threads (not a pool: nothing survives the call, so a fork
//! after it is harmless) only when there are enough of them to pay for starting a thread.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

pub type Sha = [u8; 32];

/// Rows per thread below which another thread costs more than it saves (a thread starts
/// in ~20 µs; a short row hashes in ~0.2 µs).
pub const MIN_ROWS_PER_THREAD: usize = 20_000;

/// The threads to use for `rows` rows when the caller asked for `requested` (0: one per
/// available core), never more than the rows justify.
pub fn threads_for(rows: usize, requested: usize) -> usize {
    if rows < 2 * MIN_ROWS_PER_THREAD {
        return 1; // and skip available_parallelism(), which reads cgroup files
    }
    let wanted = if requested == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        requested
    };
    wanted.min(rows / MIN_ROWS_PER_THREAD).max(1)
}

/// `sha256(row).digest()` of every row, in order, on `threads` threads.
pub fn sha256_all<R: AsRef<[u8]> + Sync>(rows: &[R], threads: usize) -> Vec<Sha> {
    let mut out = vec![[0u8; 32]; rows.len()];
    let hash_into = |src: &[R], dst: &mut [Sha]| {
        for (r, d) in src.iter().zip(dst.iter_mut()) {
            *d = Sha256::digest(r.as_ref()).into();
        }
    };
    if threads <= 1 || rows.len() < 2 {
        hash_into(rows, &mut out);
        return out;
    }
    let chunk = rows.len().div_ceil(threads);
    std::thread::scope(|s| {
        let mut pieces = rows.chunks(chunk).zip(out.chunks_mut(chunk));
        let first = pieces.next();
        for (src, dst) in pieces {
            s.spawn(move || hash_into(src, dst));
        }
        if let Some((src, dst)) = first {
            hash_into(src, dst);
        }
    });
    out
}

/// The digest a lower-case 64-digit hex string spells, as `hexdigest()` writes it; None
/// for any other string (such a string can never equal a computed hex digest).
pub fn parse_hexdigest(s: &[u8]) -> Option<Sha> {
    if s.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// Positions of the rows whose digest is neither in `existing` nor of an earlier row.
pub fn first_unseen(digests: &[Sha], existing: impl IntoIterator<Item = Sha>) -> Vec<usize> {
    let mut seen: HashSet<Sha, ahash::RandomState> = HashSet::default();
    seen.extend(existing);
    seen.reserve(digests.len());
    digests
        .iter()
        .enumerate()
        .filter(|(_, d)| seen.insert(**d))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::repr::hex;

    #[test]
    fn digests_are_hashlib_sha256_of_the_bytes() {
        let d = sha256_all(&["a", ""], 1);
        assert_eq!(
            &hex(&d[0]),
            b"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
        );
        assert_eq!(
            &hex(&d[1]),
            b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn threaded_hashing_keeps_row_order() {
        let rows: Vec<String> = (0..1001).map(|i| format!("row {i}")).collect();
        assert_eq!(sha256_all(&rows, 3), sha256_all(&rows, 1));
    }

    #[test]
    fn only_lower_case_64_digit_hex_parses() {
        let h = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
        assert_eq!(hex(&parse_hexdigest(h.as_bytes()).unwrap()), *h.as_bytes());
        assert_eq!(parse_hexdigest(h.to_uppercase().as_bytes()), None);
        assert_eq!(parse_hexdigest(&h.as_bytes()[1..]), None);
        assert_eq!(parse_hexdigest(b"x"), None);
    }

    #[test]
    fn first_unseen_skips_existing_and_repeated_digests() {
        let d = sha256_all(&["a", "b", "a", "c"], 1);
        assert_eq!(first_unseen(&d, [d[1]]), vec![0, 3]);
        assert_eq!(first_unseen(&d, []), vec![0, 1, 3]);
    }

    #[test]
    fn threads_are_capped_by_the_rows() {
        assert_eq!(threads_for(10, 8), 1);
        assert_eq!(threads_for(3 * MIN_ROWS_PER_THREAD, 8), 3);
        assert_eq!(threads_for(10 * MIN_ROWS_PER_THREAD, 2), 2);
    }
}
