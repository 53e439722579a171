//! Exact-duplicate rows: the kernel behind `axolotl.utils.data.utils.deduplicate_and_log_datasets`.
//!
//! Axolotl keeps the first row of each `sha256(str(row))`, where `row` is the dict that
//! `datasets` builds from the Arrow data. Two rows are therefore duplicates exactly when
//! their Python reprs are equal. Here each row is written as a canonical byte string that is
//! equal for two rows if and only if their reprs are equal:
//!
//! - every value carries a type tag: `None`, `False`/`True`, int, float, str, list, dict;
//!   so `True` is not `1` and `1.0` is not `1`, as in the repr;
//! - ints are written by value, whatever their Arrow width (`int32 1` and `int64 1` both
//!   print `1`); floats as the bits of the float64 Python sees (float32 is widened first, as
//!   `datasets` does), with every NaN written as one NaN (all print `nan`) and `-0.0` kept
//!   apart from `0.0` (they print differently); repr is shortest round-trip, so equal bits
//!   and equal repr coincide;
//! - strings by their UTF-8 bytes; lists and dicts (Arrow structs, and the row itself) by
//!   their length, then their items, dict keys in field order;
//! - a non-empty list of ints that all fit an int64 has one compact form, chosen by the
//!   value alone, so `list<int32>` and `list<int64>` rows still compare equal.
//!
//! Every length is written before what it counts, so the encoding is unambiguous. Rows are
//! encoded and hashed (XXH3-128) in parallel; on a hash hit both rows are encoded again and
//! compared byte for byte, so a hash collision can never drop a distinct row.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::Array;
use arrow_schema::{DataType, Fields};
use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use crate::column::{ChunkedColumn, RowSelection};
use crate::error::KernelError;

pub mod repr;

const NONE: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
/// An unsigned value above `i64::MAX` (only uint64 columns hold those).
const BIG_UINT: u8 = 4;
const FLOAT: u8 = 5;
const STR: u8 = 6;
const LIST: u8 = 7;
/// A non-empty list whose items are all ints within the int64 range.
const INT_LIST: u8 = 8;
const DICT: u8 = 9;

/// One dataset as the kernel sees it: named columns of equal length, and the rows the
/// dataset shows (its indices mapping), in order.
pub struct Table<'a> {
    pub names: Vec<String>,
    pub columns: Vec<ChunkedColumn>,
    pub selection: RowSelection<'a>,
}

impl Table<'_> {
    pub fn rows(&self) -> usize {
        self.selection.len(self.physical_rows())
    }

    fn physical_rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.len())
    }

    fn check(&self, which: &str) -> Result<(), KernelError> {
        if self.names.len() != self.columns.len() {
            return Err(KernelError::invalid(format!(
                "{which}: {} column names for {} columns",
                self.names.len(),
                self.columns.len()
            )));
        }
        if self.columns.is_empty() {
            return Err(KernelError::unsupported(format!("{which}: no columns")));
        }
        for (i, name) in self.names.iter().enumerate() {
            if self.names[..i].contains(name) {
                return Err(KernelError::unsupported(format!(
                    "{which}: column name {name:?} appears twice"
                )));
            }
        }
        let len = self.physical_rows();
        for (name, col) in self.names.iter().zip(&self.columns) {
            if col.len() != len {
                return Err(KernelError::invalid(format!(
                    "{which}: column {name:?} has {} rows, the first column {len}",
                    col.len()
                )));
            }
            if let Some(first) = col.chunks().first() {
                supported(first.data_type())
                    .map_err(|t| unsupported_type(which, name, first.data_type(), &t))?;
            }
        }
        self.selection.validate(len)
    }

    /// The row of the table shown at `position` of the selection.
    fn physical(&self, position: usize) -> usize {
        match &self.selection {
            RowSelection::All => position,
            RowSelection::Indices(ix) => ix[position] as usize,
        }
    }

    /// Appends the canonical encoding of the row at `position` (in selection order).
    fn encode_row(&self, position: usize, out: &mut impl Sink) {
        let row = self.physical(position);
        out.push(DICT);
        put_len(out, self.columns.len());
        for (name, col) in self.names.iter().zip(&self.columns) {
            put_str(out, name);
            let (chunk, r) = col.locate(row);
            encode_value(col.chunks()[chunk].as_ref(), r, out);
        }
    }
}

fn unsupported_type(which: &str, name: &str, dt: &DataType, inner: &DataType) -> KernelError {
    KernelError::unsupported(format!(
        "{which}: column {name:?} of type {dt} holds {inner}, whose Python repr is not reproduced"
    ))
}

/// Ok if every value of this type converts to a Python value whose repr class the encoding
/// models; otherwise the first type that does not.
fn supported(dt: &DataType) -> Result<(), DataType> {
    match dt {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8 => Ok(()),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            supported(f.data_type())
        }
        DataType::Struct(fields) => {
            for (i, f) in fields.iter().enumerate() {
                // A Python dict keeps one of two equal keys: not modelled.
                if fields[..i].iter().any(|g| g.name() == f.name()) {
                    return Err(dt.clone());
                }
                supported(f.data_type())?;
            }
            Ok(())
        }
        other => Err(other.clone()),
    }
}

/// Where an encoding goes: a byte vector (to compare two rows), or straight into the
/// hasher (so that long list buffers are hashed where they lie, not copied first).
pub trait Sink {
    fn push(&mut self, b: u8);
    fn extend_from_slice(&mut self, b: &[u8]);
    fn reserve(&mut self, _additional: usize) {}
}

impl Sink for Vec<u8> {
    #[inline]
    fn push(&mut self, b: u8) {
        Vec::push(self, b)
    }
    #[inline]
    fn extend_from_slice(&mut self, b: &[u8]) {
        Vec::extend_from_slice(self, b)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional)
    }
}

/// Streams an encoding into XXH3-128: small pieces are gathered in a buffer, long slices
/// go to the hasher directly. Equal byte streams give equal hashes however they are split.
struct HashSink {
    buf: Vec<u8>,
    hasher: Xxh3,
}

impl HashSink {
    const DIRECT: usize = 512;
    const FLUSH: usize = 8192;

    fn new() -> Self {
        Self {
            buf: Vec::with_capacity(Self::FLUSH + Self::DIRECT),
            hasher: Xxh3::new(),
        }
    }

    fn flush(&mut self) {
        self.hasher.update(&self.buf);
        self.buf.clear();
    }

    /// The hash of everything written since the last `finish`.
    fn finish(&mut self) -> u128 {
        self.flush();
        let h = self.hasher.digest128();
        self.hasher.reset();
        h
    }
}

impl Sink for HashSink {
    #[inline]
    fn push(&mut self, b: u8) {
        self.buf.push(b);
    }
    #[inline]
    fn extend_from_slice(&mut self, b: &[u8]) {
        if b.len() >= Self::DIRECT {
            self.flush();
            self.hasher.update(b);
        } else {
            self.buf.extend_from_slice(b);
            if self.buf.len() >= Self::FLUSH {
                self.flush();
            }
        }
    }
}

#[inline]
fn put_len(out: &mut impl Sink, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

#[inline]
fn put_str(out: &mut impl Sink, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

#[inline]
fn put_int(out: &mut impl Sink, v: i64) {
    out.push(INT);
    out.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn put_u64(out: &mut impl Sink, v: u64) {
    if v <= i64::MAX as u64 {
        put_int(out, v as i64);
    } else {
        out.push(BIG_UINT);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[inline]
fn put_float(out: &mut impl Sink, v: f64) {
    let bits = if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    };
    out.push(FLOAT);
    out.extend_from_slice(&bits.to_le_bytes());
}

/// Appends the encoding of `array[i]`; the type was accepted by `supported`.
fn encode_value(array: &dyn Array, i: usize, out: &mut impl Sink) {
    if array.is_null(i) {
        out.push(NONE);
        return;
    }
    match array.data_type() {
        DataType::Null => out.push(NONE),
        DataType::Boolean => out.push(if array.as_boolean().value(i) {
            TRUE
        } else {
            FALSE
        }),
        DataType::Int8 => put_int(out, array.as_primitive::<Int8Type>().value(i) as i64),
        DataType::Int16 => put_int(out, array.as_primitive::<Int16Type>().value(i) as i64),
        DataType::Int32 => put_int(out, array.as_primitive::<Int32Type>().value(i) as i64),
        DataType::Int64 => put_int(out, array.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => put_int(out, array.as_primitive::<UInt8Type>().value(i) as i64),
        DataType::UInt16 => put_int(out, array.as_primitive::<UInt16Type>().value(i) as i64),
        DataType::UInt32 => put_int(out, array.as_primitive::<UInt32Type>().value(i) as i64),
        DataType::UInt64 => put_u64(out, array.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => put_float(out, array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => put_float(out, array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => {
            out.push(STR);
            put_str(out, array.as_string::<i32>().value(i));
        }
        DataType::LargeUtf8 => {
            out.push(STR);
            put_str(out, array.as_string::<i64>().value(i));
        }
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            let o = a.value_offsets();
            encode_list(a.values().as_ref(), o[i] as usize, o[i + 1] as usize, out);
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            let o = a.value_offsets();
            encode_list(a.values().as_ref(), o[i] as usize, o[i + 1] as usize, out);
        }
        DataType::FixedSizeList(_, _) => {
            let a = array.as_fixed_size_list();
            let start = a.value_offset_at(i);
            encode_list(
                a.values().as_ref(),
                start,
                start + a.value_length() as usize,
                out,
            );
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            encode_struct(fields, s.columns(), i, out);
        }
        other => unreachable!("type {other} passed `supported`"),
    }
}

fn encode_struct(
    fields: &Fields,
    columns: &[arrow_array::ArrayRef],
    i: usize,
    out: &mut impl Sink,
) {
    out.push(DICT);
    put_len(out, fields.len());
    for (f, c) in fields.iter().zip(columns) {
        put_str(out, f.name());
        encode_value(c.as_ref(), i, out);
    }
}

/// Int items widened to int64, if the range has no nulls and every value fits.
macro_rules! compact_ints {
    ($child:expr, $t:ty, $start:expr, $end:expr, $out:expr) => {{
        let vals = &$child.as_primitive::<$t>().values()[$start..$end];
        $out.push(INT_LIST);
        put_len($out, vals.len());
        $out.reserve(vals.len() * 8);
        for &v in vals {
            $out.extend_from_slice(&(v as i64).to_le_bytes());
        }
        true
    }};
}

fn try_int_list(child: &dyn Array, start: usize, end: usize, out: &mut impl Sink) -> bool {
    if end == start {
        return false; // `[]` is the same whatever the item type: the generic form
    }
    if let Some(nulls) = child.logical_nulls() {
        if nulls.slice(start, end - start).null_count() > 0 {
            return false;
        }
    }
    match child.data_type() {
        DataType::Int8 => compact_ints!(child, Int8Type, start, end, out),
        DataType::Int16 => compact_ints!(child, Int16Type, start, end, out),
        DataType::Int32 => compact_ints!(child, Int32Type, start, end, out),
        DataType::Int64 => {
            let vals = &child.as_primitive::<Int64Type>().values()[start..end];
            out.push(INT_LIST);
            put_len(out, vals.len());
            if cfg!(target_endian = "little") {
                // SAFETY: i64 has no padding; viewing the slice as bytes is sound.
                let bytes = unsafe {
                    std::slice::from_raw_parts(vals.as_ptr() as *const u8, vals.len() * 8)
                };
                out.extend_from_slice(bytes);
            } else {
                for &v in vals {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            true
        }
        DataType::UInt8 => compact_ints!(child, UInt8Type, start, end, out),
        DataType::UInt16 => compact_ints!(child, UInt16Type, start, end, out),
        DataType::UInt32 => compact_ints!(child, UInt32Type, start, end, out),
        DataType::UInt64 => {
            let vals = &child.as_primitive::<UInt64Type>().values()[start..end];
            if vals.iter().any(|&v| v > i64::MAX as u64) {
                return false;
            }
            compact_ints!(child, UInt64Type, start, end, out)
        }
        _ => false,
    }
}

fn encode_list(child: &dyn Array, start: usize, end: usize, out: &mut impl Sink) {
    if try_int_list(child, start, end, out) {
        return;
    }
    out.push(LIST);
    put_len(out, end - start);
    for j in start..end {
        encode_value(child, j, out);
    }
}

/// Hasher for keys that are already uniform hashes: keeps their low 64 bits.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// Rows below this count are hashed on the calling thread: the pool costs more.
const PARALLEL_MIN_ROWS: usize = 2048;

/// A replacement hash over whole encodings (tests force collisions with it); `None`
/// streams every row into XXH3-128.
type HashFn = Option<fn(&[u8]) -> u128>;

fn row_hashes(table: &Table<'_>, hash_fn: HashFn) -> Vec<u128> {
    let n = table.rows();
    if let Some(hash_fn) = hash_fn {
        let mut buf = Vec::new();
        return (0..n)
            .map(|p| {
                buf.clear();
                table.encode_row(p, &mut buf);
                hash_fn(&buf)
            })
            .collect();
    }
    let hash = |sink: &mut HashSink, p: usize| {
        table.encode_row(p, sink);
        sink.finish()
    };
    if n < PARALLEL_MIN_ROWS {
        let mut sink = HashSink::new();
        return (0..n).map(|p| hash(&mut sink, p)).collect();
    }
    crate::parallel::install(|| {
        (0..n)
            .into_par_iter()
            .with_min_len(256)
            .map_init(HashSink::new, hash)
            .collect()
    })
}

/// The positions of the rows to keep in each table: the first row of each repr class,
/// looking at the tables in order (a row of table 1 that equals a row of table 0 is
/// dropped), positions ascending, as Axolotl's `_deduplicate_dataset` chained through
/// `deduplicate_and_log_datasets` computes them.
pub fn unique_rows(tables: &[Table<'_>]) -> Result<Vec<Vec<u64>>, KernelError> {
    unique_rows_with(tables, None)
}

fn unique_rows_with(tables: &[Table<'_>], hash_fn: HashFn) -> Result<Vec<Vec<u64>>, KernelError> {
    for (t, table) in tables.iter().enumerate() {
        table.check(&format!("dataset {t}"))?;
    }
    let total: usize = tables.iter().map(|t| t.rows()).sum();
    // First occurrence of each hash; `more` holds distinct rows with a colliding hash.
    type Firsts = HashMap<u128, (u32, u64), BuildHasherDefault<PassThrough>>;
    let mut firsts: Firsts = HashMap::with_capacity_and_hasher(total, Default::default());
    let mut more: HashMap<u128, Vec<(u32, u64)>> = HashMap::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut out = Vec::with_capacity(tables.len());
    for (t, table) in tables.iter().enumerate() {
        let hashes = row_hashes(table, hash_fn);
        let mut keep = Vec::with_capacity(hashes.len());
        for (p, &h) in hashes.iter().enumerate() {
            let here = (t as u32, p as u64);
            let Some(&first) = firsts.get(&h) else {
                firsts.insert(h, here);
                keep.push(p as u64);
                continue;
            };
            a.clear();
            table.encode_row(p, &mut a);
            let others = more.get(&h).map_or(&[][..], |v| v.as_slice());
            let duplicate = std::iter::once(&first).chain(others).any(|&(ot, op)| {
                b.clear();
                tables[ot as usize].encode_row(op as usize, &mut b);
                a == b
            });
            if !duplicate {
                more.entry(h).or_default().push(here);
                keep.push(p as u64);
            }
        }
        out.push(keep);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int32Builder, ListBuilder};
    use arrow_array::{
        ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, StringArray,
        StructArray, UInt64Array,
    };
    use arrow_schema::Field;
    use std::sync::Arc;
    use xxhash_rust::xxh3::xxh3_128;

    fn table(cols: Vec<(&str, ArrayRef)>) -> Table<'static> {
        Table {
            names: cols.iter().map(|(n, _)| n.to_string()).collect(),
            columns: cols
                .into_iter()
                .map(|(_, a)| ChunkedColumn::new(vec![a]).unwrap())
                .collect(),
            selection: RowSelection::All,
        }
    }

    fn keep(t: Table<'_>) -> Vec<u64> {
        unique_rows(&[t]).unwrap().remove(0)
    }

    #[test]
    fn ints_of_any_width_are_equal_but_not_bools_or_floats() {
        let a = table(vec![(
            "x",
            Arc::new(Int32Array::from(vec![1, 1, 2])) as ArrayRef,
        )]);
        let b = table(vec![(
            "x",
            Arc::new(Int64Array::from(vec![1, 3, 2])) as ArrayRef,
        )]);
        assert_eq!(unique_rows(&[a, b]).unwrap(), vec![vec![0, 2], vec![1]]);
        let bools = table(vec![(
            "x",
            Arc::new(BooleanArray::from(vec![true])) as ArrayRef,
        )]);
        let ints = table(vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]);
        let floats = table(vec![(
            "x",
            Arc::new(Float64Array::from(vec![1.0])) as ArrayRef,
        )]);
        assert_eq!(
            unique_rows(&[bools, ints, floats]).unwrap(),
            vec![vec![0], vec![0], vec![0]]
        );
    }

    #[test]
    fn nans_are_one_value_and_signed_zeros_are_two() {
        let neg_nan = f64::from_bits(f64::NAN.to_bits() | (1 << 63));
        let t = table(vec![(
            "x",
            Arc::new(Float64Array::from(vec![f64::NAN, neg_nan, -0.0, 0.0, -0.0])) as ArrayRef,
        )]);
        assert_eq!(keep(t), vec![0, 2, 3]);
    }

    #[test]
    fn float32_compares_as_its_float64_widening() {
        let a = table(vec![(
            "x",
            Arc::new(Float32Array::from(vec![1.1f32])) as ArrayRef,
        )]);
        let b = table(vec![(
            "x",
            Arc::new(Float64Array::from(vec![1.1f32 as f64, 1.1])) as ArrayRef,
        )]);
        assert_eq!(unique_rows(&[a, b]).unwrap(), vec![vec![0], vec![1]]);
    }

    #[test]
    fn column_names_and_order_matter() {
        let one = || Arc::new(Int64Array::from(vec![1])) as ArrayRef;
        let ab = table(vec![("a", one()), ("b", one())]);
        let ba = table(vec![("b", one()), ("a", one())]);
        let ac = table(vec![("a", one()), ("c", one())]);
        assert_eq!(
            unique_rows(&[ab, ba, ac]).unwrap(),
            vec![vec![0], vec![0], vec![0]]
        );
    }

    #[test]
    fn empty_lists_are_equal_whatever_their_item_type_and_nulls_are_none() {
        let mut ints = ListBuilder::new(Int32Builder::new());
        ints.append_value([]);
        ints.append_value([Some(1), None]);
        ints.append_null();
        ints.append_value([Some(1), Some(2)]);
        let ints = table(vec![("x", Arc::new(ints.finish()) as ArrayRef)]);
        let big = table(vec![(
            "x",
            Arc::new(
                arrow_array::ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
                    Some(vec![]),
                    Some(vec![Some(1), None]),
                    None,
                    Some(vec![Some(1), Some(2)]),
                    Some(vec![Some(2), Some(1)]),
                ]),
            ) as ArrayRef,
        )]);
        assert_eq!(
            unique_rows(&[ints, big]).unwrap(),
            vec![vec![0, 1, 2, 3], vec![4]]
        );
    }

    #[test]
    fn large_uint64_values_are_their_own_ints() {
        let t = table(vec![(
            "x",
            Arc::new(UInt64Array::from(vec![u64::MAX, 5, u64::MAX])) as ArrayRef,
        )]);
        let i = table(vec![(
            "x",
            Arc::new(Int64Array::from(vec![-1, 5])) as ArrayRef,
        )]);
        assert_eq!(unique_rows(&[t, i]).unwrap(), vec![vec![0, 1], vec![0]]);
    }

    #[test]
    fn structs_compare_field_by_field_in_order() {
        let s = StructArray::from(vec![
            (
                Arc::new(Field::new("k", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec!["a", "a", "b"])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("v", DataType::Int64, true)),
                Arc::new(Int64Array::from(vec![1, 1, 1])) as ArrayRef,
            ),
        ]);
        let t = table(vec![("x", Arc::new(s) as ArrayRef)]);
        assert_eq!(keep(t), vec![0, 2]);
    }

    #[test]
    fn strings_do_not_run_into_each_other() {
        let t = table(vec![
            (
                "a",
                Arc::new(StringArray::from(vec!["ab", "a"])) as ArrayRef,
            ),
            ("b", Arc::new(StringArray::from(vec!["", "b"])) as ArrayRef),
        ]);
        assert_eq!(keep(t), vec![0, 1]);
    }

    #[test]
    fn indices_mapping_is_followed_and_positions_are_returned() {
        let t = Table {
            names: vec!["x".into()],
            columns: vec![ChunkedColumn::new(vec![
                Arc::new(Int64Array::from(vec![7, 8])) as ArrayRef,
                Arc::new(Int64Array::from(vec![7])) as ArrayRef,
            ])
            .unwrap()],
            selection: RowSelection::Indices(&[1, 2, 0, 1]),
        };
        assert_eq!(keep(t), vec![0, 1]);
    }

    #[test]
    fn many_rows_use_the_pool_and_agree_with_the_serial_path() {
        let n = 10_000i64;
        let t = table(vec![(
            "x",
            Arc::new(Int64Array::from(
                (0..n).map(|i| i % 777).collect::<Vec<_>>(),
            )) as ArrayRef,
        )]);
        assert_eq!(keep(t), (0..777).collect::<Vec<u64>>());
    }

    #[test]
    fn unsupported_types_and_duplicate_names_are_reported() {
        let t = table(vec![(
            "x",
            Arc::new(arrow_array::BinaryArray::from(vec![&b"a"[..]])) as ArrayRef,
        )]);
        let err = unique_rows(&[t]).unwrap_err();
        assert!(matches!(err, KernelError::Unsupported(_)), "{err}");
        let one = || Arc::new(Int64Array::from(vec![1])) as ArrayRef;
        let err = unique_rows(&[table(vec![("a", one()), ("a", one())])]).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn streamed_hashes_equal_one_shot_hashes_of_the_encoding() {
        let long: Vec<i64> = (0..1000).collect();
        let t = table(vec![(
            "x",
            Arc::new(
                arrow_array::ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
                    Some(long.iter().map(|&v| Some(v)).collect::<Vec<_>>()),
                    Some(vec![Some(1)]),
                ]),
            ) as ArrayRef,
        )]);
        let streamed = row_hashes(&t, None);
        let one_shot = row_hashes(&t, Some(xxh3_128));
        assert_eq!(streamed, one_shot);
    }

    #[test]
    fn hash_collisions_never_drop_distinct_rows() {
        // Every row hashes alike: only the encoding comparison tells rows apart.
        let t = table(vec![(
            "x",
            Arc::new(Int64Array::from(vec![1, 2, 1, 3, 2])) as ArrayRef,
        )]);
        let u = table(vec![(
            "x",
            Arc::new(Int64Array::from(vec![3, 4])) as ArrayRef,
        )]);
        let got = unique_rows_with(&[t, u], Some(|_| 42)).unwrap();
        assert_eq!(got, vec![vec![0, 1, 3], vec![1]]);
    }
}
