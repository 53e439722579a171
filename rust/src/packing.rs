//! Bin packing of sequence lengths, as Axolotl's multipack sampler does it.
//!
//! Axolotl's `pack_group` is first-fit in the given order (an item goes to the first bin,
//! in creation order, that has room for it and fewer than `bin_size` items) and scans every
//! bin for every item. Here a max segment tree over the bins' usable room finds that bin in
//! O(log bins): a bin that holds `bin_size` items counts as having no room at all. The
//! other allocators (next-fit, first-fit-decreasing feasibility) follow the same rules.
//!
//! Results are bins of positions into the input, in CSR form ([`Bins`]); the binding layer
//! turns them into Python lists.

use rayon::prelude::*;

use crate::error::KernelError;

/// Largest magnitude of any sum of lengths and capacity we accept: Axolotl computes in
/// int64 (wrapping), and below this bound no intermediate can wrap, so plain `i64`
/// arithmetic gives the same answers.
const SAFE_MAGNITUDE: i128 = 1 << 62;

/// Bins in compressed form: bin `b` holds `items[starts[b]..starts[b + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bins {
    pub items: Vec<usize>,
    pub starts: Vec<usize>,
}

impl Bins {
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bin(&self, b: usize) -> &[usize] {
        &self.items[self.starts[b]..self.starts[b + 1]]
    }

    /// As nested vectors, for tests and small outputs.
    pub fn to_vecs(&self) -> Vec<Vec<usize>> {
        (0..self.len()).map(|b| self.bin(b).to_vec()).collect()
    }

    /// Builds the CSR form from each item's bin (`None`: the item was left out), keeping
    /// items of a bin in input order.
    fn from_assignment(assignment: &[Option<u32>], nbins: usize) -> Self {
        let mut starts = vec![0usize; nbins + 1];
        for b in assignment.iter().flatten() {
            starts[*b as usize + 1] += 1;
        }
        for b in 0..nbins {
            starts[b + 1] += starts[b];
        }
        let mut fill = starts.clone();
        let mut items = vec![0usize; starts[nbins]];
        for (i, b) in assignment.iter().enumerate() {
            if let Some(b) = b {
                let slot = &mut fill[*b as usize];
                items[*slot] = i;
                *slot += 1;
            }
        }
        Bins { items, starts }
    }
}

/// Checks that no sum of `lengths` and `capacity` can leave the range where Axolotl's
/// int64 arithmetic is exact.
pub fn check_magnitudes(lengths: &[i64], capacity: i64) -> Result<(), KernelError> {
    let total: i128 =
        lengths.iter().map(|&l| (l as i128).abs()).sum::<i128>() + (capacity as i128).abs();
    if total >= SAFE_MAGNITUDE {
        return Err(KernelError::unsupported(format!(
            "lengths and capacity add up to {total}, beyond the range where int64 \
             arithmetic cannot wrap"
        )));
    }
    Ok(())
}

/// Max segment tree over bins; a leaf holds the room a new item may use, `i64::MIN` for a
/// bin that cannot take anything (full by item count, or not created yet).
///
/// The tree is 8-ary so that one node's children fill one cache line and a descent is
/// branch-free: `block[k]` holds the values of the children of node `k` (nodes `8k..8k+8`),
/// the root is node 1, and the leaves are the nodes of the last of `depth` levels.
struct RoomTree {
    depth: u32,
    first_leaf: usize,
    root: i64,
    block: Vec<Block>,
}

#[derive(Clone, Copy)]
#[repr(align(64))]
struct Block([i64; 8]);

impl Block {
    #[inline]
    fn max(&self) -> i64 {
        self.0.iter().copied().fold(i64::MIN, i64::max)
    }

    /// Index of the first child whose value is at least `size` (8 if none).
    #[inline]
    fn first_at_least(&self, size: i64) -> usize {
        let mut mask = 0u32;
        for (c, &v) in self.0.iter().enumerate() {
            mask |= ((v >= size) as u32) << c;
        }
        (mask | 0x100).trailing_zeros() as usize
    }
}

impl RoomTree {
    fn new(bins: usize) -> Self {
        let mut depth = 1;
        let mut first_leaf = 8usize;
        while first_leaf < bins {
            depth += 1;
            first_leaf *= 8;
        }
        RoomTree {
            depth,
            first_leaf,
            root: i64::MIN,
            block: vec![Block([i64::MIN; 8]); 2 * first_leaf / 8],
        }
    }

    fn set(&mut self, bin: usize, room: i64) {
        let mut node = self.first_leaf + bin;
        self.block[node / 8].0[node % 8] = room;
        loop {
            node /= 8;
            let v = self.block[node].max();
            if node == 1 {
                self.root = v;
                return;
            }
            let slot = &mut self.block[node / 8].0[node % 8];
            if *slot == v {
                return;
            }
            *slot = v;
        }
    }

    /// The first bin (lowest index) whose room is at least `size`.
    #[inline]
    fn first_with(&self, size: i64) -> Option<usize> {
        if self.root < size {
            return None;
        }
        let mut node = 1usize;
        for _ in 0..self.depth {
            node = 8 * node + self.block[node].first_at_least(size);
        }
        Some(node - self.first_leaf)
    }
}

/// Axolotl's `pack_group`: first fit in the given order. An item goes to the first bin
/// with `room >= size` and fewer than `bin_size` items; otherwise it opens a bin (room
/// `capacity - size`, negative for an oversized item), unless `safe_mode` and there are
/// already `max_bins` bins, in which case it is left out.
pub fn first_fit(
    lengths: &[i64],
    capacity: i64,
    max_bins: i64,
    bin_size: i64,
    safe_mode: bool,
) -> Result<Bins, KernelError> {
    check_magnitudes(lengths, capacity)?;
    if lengths.len() > u32::MAX as usize {
        return Err(KernelError::unsupported(
            "more than 2^32 sequences in one group",
        ));
    }
    let mut tree = RoomTree::new(lengths.len());
    let mut room: Vec<i64> = Vec::new();
    let mut count: Vec<i64> = Vec::new();
    let mut assignment: Vec<Option<u32>> = Vec::with_capacity(lengths.len());
    for &size in lengths {
        match tree.first_with(size) {
            Some(b) => {
                room[b] -= size;
                count[b] += 1;
                tree.set(
                    b,
                    if count[b] < bin_size {
                        room[b]
                    } else {
                        i64::MIN
                    },
                );
                assignment.push(Some(b as u32));
            }
            None => {
                let b = room.len();
                if safe_mode && b as i64 >= max_bins {
                    assignment.push(None);
                    continue;
                }
                room.push(capacity - size);
                count.push(1);
                tree.set(b, if 1 < bin_size { room[b] } else { i64::MIN });
                assignment.push(Some(b as u32));
            }
        }
    }
    Ok(Bins::from_assignment(&assignment, room.len()))
}

/// Concatenates `parts` (bins of positions local to each part) into one [`Bins`] of
/// positions in the whole input, each part shifted by its offset.
fn concat(parts: Vec<(usize, Bins)>) -> Bins {
    let nitems: usize = parts.iter().map(|(_, b)| b.items.len()).sum();
    let nbins: usize = parts.iter().map(|(_, b)| b.len()).sum();
    let mut items = Vec::with_capacity(nitems);
    let mut starts = Vec::with_capacity(nbins + 1);
    starts.push(0);
    for (offset, part) in parts {
        let base = items.len();
        items.extend(part.items.iter().map(|&i| i + offset));
        starts.extend(part.starts[1..].iter().map(|&s| s + base));
    }
    Bins { items, starts }
}

/// Axolotl's `pack_parallel`: groups of `group_size` items packed independently by
/// [`first_fit`] (each group may open as many bins as it has items), bins concatenated in
/// group order. Groups run on the rayon pool when `parallel` is set.
pub fn first_fit_groups(
    lengths: &[i64],
    capacity: i64,
    group_size: usize,
    bin_size: i64,
    safe_mode: bool,
    parallel: bool,
) -> Result<Bins, KernelError> {
    if group_size == 0 {
        return Err(KernelError::invalid("group_size must be positive"));
    }
    check_magnitudes(lengths, capacity)?;
    let pack = |(g, chunk): (usize, &[i64])| {
        first_fit(chunk, capacity, chunk.len() as i64, bin_size, safe_mode)
            .map(|bins| (g * group_size, bins))
    };
    let parts: Result<Vec<_>, KernelError> = if parallel && lengths.len() > group_size {
        crate::parallel::install(|| {
            lengths
                .par_chunks(group_size)
                .enumerate()
                .map(pack)
                .collect()
        })
    } else {
        lengths.chunks(group_size).enumerate().map(pack).collect()
    };
    Ok(concat(parts?))
}

/// What [`next_fit`] returns: the bins, the sum of all lengths, and bins x capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequential {
    pub bins: Bins,
    pub total_used: i64,
    pub total_slots: i64,
}

/// Axolotl's `allocate_sequentially`: next fit in input order (an item that does not fit
/// closes the current bin), then every `num_ranks`-th bin from `rank` on. `total_used`
/// counts every item, `total_slots` every bin, whichever rank they went to.
pub fn next_fit(
    lengths: &[i64],
    rank: usize,
    capacity: i64,
    num_ranks: usize,
) -> Result<Sequential, KernelError> {
    if num_ranks == 0 {
        return Err(KernelError::invalid("num_ranks must be positive"));
    }
    check_magnitudes(lengths, capacity)?;
    let mut starts = vec![0usize];
    let mut remaining = capacity;
    let mut total_used: i64 = 0;
    for (i, &size) in lengths.iter().enumerate() {
        if i == 0 || size > remaining {
            if i > 0 {
                starts.push(i);
            }
            remaining = capacity - size;
        } else {
            remaining -= size;
        }
        total_used += size;
    }
    if !lengths.is_empty() {
        starts.push(lengths.len());
    }
    // The first item never "fits" in the sense above only when it is oversized; either
    // way it starts bin 0, which is what Axolotl's empty-bin check amounts to.
    let all = Bins {
        items: (0..lengths.len()).collect(),
        starts,
    };
    let nbins = all.len();
    let total_slots = (nbins as i128) * (capacity as i128);
    let total_slots = i64::try_from(total_slots)
        .map_err(|_| KernelError::unsupported("number of bins x capacity does not fit in int64"))?;
    let mut items = Vec::new();
    let mut picked = vec![0usize];
    for b in (rank..nbins).step_by(num_ranks) {
        items.extend_from_slice(all.bin(b));
        picked.push(items.len());
    }
    Ok(Sequential {
        bins: Bins {
            items,
            starts: picked,
        },
        total_used,
        total_slots,
    })
}

/// Axolotl's `ffd_check`: whether first fit over the lengths sorted in decreasing order
/// places every item into `num_bins` bins of `capacity`.
pub fn ffd_fits(lengths: &[i64], capacity: i64, num_bins: usize) -> Result<bool, KernelError> {
    check_magnitudes(lengths, capacity)?;
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    // First fit only ever opens the lowest untouched bin, so bins past the item count
    // are never reached.
    let bins = num_bins.min(sorted.len());
    let mut tree = RoomTree::new(bins);
    let mut room = vec![capacity; bins];
    for b in 0..bins {
        tree.set(b, capacity);
    }
    for &size in &sorted {
        match tree.first_with(size) {
            Some(b) => {
                room[b] -= size;
                tree.set(b, room[b]);
            }
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// `lengths[indices]` with numpy's index rules (negative indices count from the end); an
/// index out of range is Unsupported, so that Axolotl raises its own IndexError.
pub fn gather(lengths: &[i64], indices: &[i64]) -> Result<Vec<i64>, KernelError> {
    let n = lengths.len() as i64;
    indices
        .iter()
        .map(|&ix| {
            let pos = if ix < 0 { ix + n } else { ix };
            if pos < 0 || pos >= n {
                Err(KernelError::unsupported(format!(
                    "index {ix} is out of bounds for {n} lengths"
                )))
            } else {
                Ok(lengths[pos as usize])
            }
        })
        .collect()
}

/// One row of Axolotl's `encode_streaming` output: the whole input rows `first..end`,
/// each with its two appended tokens, then `pad` padding tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRow {
    pub first: usize,
    pub end: usize,
    pub pad: usize,
}

/// The layout of Axolotl's `encode_streaming` packing, from the length of each input row
/// (its tokens plus the two appended ones). A full buffer is emitted as it is when the next
/// row arrives; a row that does not fit pads the buffer to `max_tokens` and starts the next
/// one (so an oversized first row yields a row of padding only); the last buffer is padded
/// to `max_tokens` unless already longer. Where Axolotl would pad by a negative amount (a
/// buffer longer than `max_tokens` followed by another row) torch raises: Unsupported.
pub fn stream_layout(
    row_lengths: &[usize],
    max_tokens: usize,
) -> Result<Vec<StreamRow>, KernelError> {
    let mut rows = Vec::new();
    let mut first = 0;
    let mut filled = 0usize;
    for (i, &len) in row_lengths.iter().enumerate() {
        if filled == max_tokens {
            rows.push(StreamRow {
                first,
                end: i,
                pad: 0,
            });
            first = i;
            filled = len;
        } else if filled + len <= max_tokens {
            filled += len;
        } else {
            if filled > max_tokens {
                return Err(KernelError::unsupported(format!(
                    "a buffer of {filled} tokens exceeds max_tokens={max_tokens}; Axolotl \
                     raises on the negative padding"
                )));
            }
            rows.push(StreamRow {
                first,
                end: i,
                pad: max_tokens - filled,
            });
            first = i;
            filled = len;
        }
    }
    if filled > 0 {
        rows.push(StreamRow {
            first,
            end: row_lengths.len(),
            pad: max_tokens.saturating_sub(filled),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Axolotl's quadratic first fit, written plainly, as the reference.
    fn naive_first_fit(
        lengths: &[i64],
        cap: i64,
        max_bins: i64,
        bin_size: i64,
        safe: bool,
    ) -> Vec<Vec<usize>> {
        let mut room: Vec<i64> = vec![];
        let mut bins: Vec<Vec<usize>> = vec![];
        for (i, &s) in lengths.iter().enumerate() {
            if let Some(b) =
                (0..room.len()).find(|&b| room[b] >= s && (bins[b].len() as i64) < bin_size)
            {
                room[b] -= s;
                bins[b].push(i);
                continue;
            }
            if room.len() as i64 >= max_bins && safe {
                continue;
            }
            room.push(cap - s);
            bins.push(vec![i]);
        }
        bins
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn first_fit_matches_the_quadratic_reference() {
        let mut seed = 7;
        for round in 0..300 {
            let n = (lcg(&mut seed) % 60) as usize;
            let cap = (lcg(&mut seed) % 40) as i64 - 5;
            let lengths: Vec<i64> = (0..n).map(|_| (lcg(&mut seed) % 50) as i64 - 3).collect();
            let bin_size = (lcg(&mut seed) % 6) as i64 - 1;
            let max_bins = (lcg(&mut seed) % 10) as i64 - 1;
            let safe = round % 2 == 0;
            let got = first_fit(&lengths, cap, max_bins, bin_size, safe).unwrap();
            assert_eq!(
                got.to_vecs(),
                naive_first_fit(&lengths, cap, max_bins, bin_size, safe),
                "{lengths:?} cap={cap} max_bins={max_bins} bin_size={bin_size} safe={safe}"
            );
        }
    }

    #[test]
    fn oversized_item_opens_a_bin_with_negative_room() {
        let bins = first_fit(&[5, 3, 9, 1], 8, 100, 2, true).unwrap();
        assert_eq!(bins.to_vecs(), vec![vec![0, 1], vec![2], vec![3]]);
    }

    #[test]
    fn safe_mode_skips_items_beyond_max_bins() {
        let bins = first_fit(&[6, 6, 6, 1], 8, 2, 10, true).unwrap();
        assert_eq!(bins.to_vecs(), vec![vec![0, 3], vec![1]]);
        let bins = first_fit(&[6, 6, 6, 1], 8, 2, 10, false).unwrap();
        assert_eq!(bins.to_vecs(), vec![vec![0, 3], vec![1], vec![2]]);
    }

    #[test]
    fn groups_are_packed_separately_and_offset() {
        let lengths = [3, 3, 3, 3, 3];
        for parallel in [false, true] {
            let bins = first_fit_groups(&lengths, 6, 2, 10, true, parallel).unwrap();
            assert_eq!(bins.to_vecs(), vec![vec![0, 1], vec![2, 3], vec![4]]);
        }
        assert!(first_fit_groups(&[], 6, 2, 10, true, true)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn next_fit_strides_ranks_and_counts_everything() {
        let s = next_fit(&[5, 3, 9, 1, 2], 0, 8, 1).unwrap();
        assert_eq!(s.bins.to_vecs(), vec![vec![0, 1], vec![2], vec![3, 4]]);
        assert_eq!((s.total_used, s.total_slots), (20, 24));
        let s = next_fit(&[5, 3, 9, 1, 2], 1, 8, 2).unwrap();
        assert_eq!(s.bins.to_vecs(), vec![vec![2]]);
        assert_eq!((s.total_used, s.total_slots), (20, 24));
        let s = next_fit(&[], 0, 8, 1).unwrap();
        assert!(s.bins.is_empty());
        assert_eq!((s.total_used, s.total_slots), (0, 0));
    }

    #[test]
    fn ffd_reports_whether_everything_fits() {
        assert!(ffd_fits(&[5, 3, 9, 1], 10, 2).unwrap());
        assert!(!ffd_fits(&[5, 3, 9, 1], 8, 2).unwrap());
        assert!(!ffd_fits(&[5, 5, 5], 9, 2).unwrap());
        assert!(!ffd_fits(&[1], 10, 0).unwrap());
        assert!(ffd_fits(&[], 10, 0).unwrap());
    }

    #[test]
    fn huge_values_are_unsupported() {
        assert!(matches!(
            first_fit(&[i64::MAX / 2, i64::MAX / 2], 1, 10, 10, true),
            Err(KernelError::Unsupported(_))
        ));
    }

    #[test]
    fn gather_wraps_negative_indices_and_rejects_out_of_range() {
        assert_eq!(gather(&[1, 2, 3], &[2, -1, 0]).unwrap(), vec![3, 3, 1]);
        assert!(gather(&[1, 2, 3], &[3]).is_err());
        assert!(gather(&[1, 2, 3], &[-4]).is_err());
    }

    #[test]
    fn stream_layout_flushes_full_buffers_and_pads_the_rest() {
        // max 8: rows of 3+3 fill 6, the next 3 does not fit -> pad 2.
        let rows = stream_layout(&[3, 3, 3], 8).unwrap();
        assert_eq!(
            rows,
            vec![
                StreamRow {
                    first: 0,
                    end: 2,
                    pad: 2
                },
                StreamRow {
                    first: 2,
                    end: 3,
                    pad: 5
                }
            ]
        );
        // An exactly full buffer is emitted without padding when the next row comes.
        let rows = stream_layout(&[4, 4, 2], 8).unwrap();
        assert_eq!(
            rows[0],
            StreamRow {
                first: 0,
                end: 2,
                pad: 0
            }
        );
        // An oversized first row: a row of padding, then the row itself, unpadded.
        let rows = stream_layout(&[10], 8).unwrap();
        assert_eq!(
            rows,
            vec![
                StreamRow {
                    first: 0,
                    end: 0,
                    pad: 8
                },
                StreamRow {
                    first: 0,
                    end: 1,
                    pad: 0
                }
            ]
        );
        assert!(stream_layout(&[10, 2], 8).is_err());
        assert!(stream_layout(&[], 8).unwrap().is_empty());
    }
}
