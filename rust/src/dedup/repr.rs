//! `str(row)` and `sha256(str(row))` of a row, byte for byte as CPython writes them: the
//! kernel behind `axolotl.utils.data.utils._deduplicate_dataset`, whose callers may keep
//! the hex digests (`seen_hashes`) and compare them with Axolotl's own.
//!
//! The Python values are those `datasets` builds (see the parent module); their reprs:
//! `None`, `True`/`False`, ints in decimal, floats as `float.__repr__` (shortest round-trip
//! digits; scientific notation when the decimal exponent is below -4 or above 15; `nan`,
//! `inf`), strings as `str.__repr__` (quote choice, escapes, and whether a non-ASCII
//! character prints as itself — that last part follows the interpreter's own
//! `str.isprintable`, given as a table, so the Unicode version is the interpreter's),
//! lists as `[a, b]`, dicts (structs and the row) as `{'k': v}`.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::Array;
use arrow_schema::DataType;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::Table;
use crate::error::KernelError;

/// `str.isprintable()` of every code point: one byte per code point, non-zero if printable.
pub struct Printable<'a>(pub &'a [u8]);

impl Printable<'_> {
    #[inline]
    fn get(&self, c: char) -> bool {
        self.0.get(c as usize).is_some_and(|&b| b != 0)
    }
}

/// Appends `repr(s)`.
pub fn put_str_repr(out: &mut Vec<u8>, s: &str, printable: &Printable<'_>) {
    let quote = if s.contains('\'') && !s.contains('"') {
        b'"'
    } else {
        b'\''
    };
    out.push(quote);
    let bytes = s.as_bytes();
    let mut plain = 0; // start of the run of bytes copied as they are
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (width, escape) = if b < 0x80 {
            if (0x20..0x7f).contains(&b) && b != b'\\' && b != quote {
                i += 1;
                continue;
            }
            (1, b as u32)
        } else {
            let c = s[i..].chars().next().expect("i is on a char boundary");
            if printable.get(c) {
                i += c.len_utf8();
                continue;
            }
            (c.len_utf8(), c as u32)
        };
        out.extend_from_slice(&bytes[plain..i]);
        i += width;
        plain = i;
        // write! to a Vec cannot fail
        let _ = match escape {
            0x5c => write!(out, "\\\\"),
            0x09 => write!(out, "\\t"),
            0x0a => write!(out, "\\n"),
            0x0d => write!(out, "\\r"),
            q if q == quote as u32 => write!(out, "\\{}", quote as char),
            cp if cp <= 0xff => write!(out, "\\x{cp:02x}"),
            cp if cp <= 0xffff => write!(out, "\\u{cp:04x}"),
            cp => write!(out, "\\U{cp:08x}"),
        };
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(quote);
}

/// Appends `repr(v)` for a Python float.
pub fn put_float_repr(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    let a = v.abs();
    if a.is_infinite() {
        out.extend_from_slice(b"inf");
        return;
    }
    if a == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    // Shortest round-trip digits, ties to even, as CPython's repr (David Gay's dtoa mode 0)
    // chooses them; Rust's own `{:e}` rounds such ties up (0.71854400634765625 prints
    // ...563 there, ...562 in Python). Ryu writes "123.45", "1e16" or "1.5e-7": normalise
    // to digits and the position of the decimal point.
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(a);
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().expect("ryu writes an integer exponent")),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let mut decpt = int_part.len() as i32 + exp;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    decpt -= leading as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let exp = decpt - 1;
    let n = digits.len() as i32; // digits d1 d2 ... with the decimal point after `decpt`
    if decpt <= -4 || decpt > 16 {
        out.push(digits[0]);
        if n > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
        out.extend_from_slice(&digits);
    } else if decpt >= n {
        out.extend_from_slice(&digits);
        out.extend(std::iter::repeat_n(b'0', (decpt - n) as usize));
        out.extend_from_slice(b".0");
    } else {
        out.extend_from_slice(&digits[..decpt as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[decpt as usize..]);
    }
}

const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566\
676869707172737475767778798081828384858687888990919293949596979899";

/// Appends `v` in decimal (what `repr(int)` writes), two digits at a time, straight into
/// the vector (a copy of a variable-length piece would be a `memcpy` call per number).
#[inline]
fn put_u64_dec(out: &mut Vec<u8>, mut v: u64) {
    let n = v.checked_ilog10().map_or(1, |l| l as usize + 1);
    let start = out.len();
    out.resize(start + n, b'0');
    let digits = &mut out[start..];
    let mut i = n;
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        digits[i] = DIGIT_PAIRS[r];
        digits[i + 1] = DIGIT_PAIRS[r + 1];
    }
    if v >= 10 {
        let r = v as usize * 2;
        digits[0] = DIGIT_PAIRS[r];
        digits[1] = DIGIT_PAIRS[r + 1];
    } else {
        digits[0] = b'0' + v as u8;
    }
}

#[inline]
fn put_i64_dec(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    put_u64_dec(out, v.unsigned_abs());
}

/// Appends `repr(array[i])`; the type was accepted by the parent module's `supported`.
fn put_value_repr(array: &dyn Array, i: usize, out: &mut Vec<u8>, p: &Printable<'_>) {
    if array.is_null(i) {
        out.extend_from_slice(b"None");
        return;
    }
    match array.data_type() {
        DataType::Null => out.extend_from_slice(b"None"),
        DataType::Boolean => out.extend_from_slice(if array.as_boolean().value(i) {
            b"True"
        } else {
            b"False"
        }),
        DataType::Int8 => put_i64_dec(out, array.as_primitive::<Int8Type>().value(i) as i64),
        DataType::Int16 => put_i64_dec(out, array.as_primitive::<Int16Type>().value(i) as i64),
        DataType::Int32 => put_i64_dec(out, array.as_primitive::<Int32Type>().value(i) as i64),
        DataType::Int64 => put_i64_dec(out, array.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => put_u64_dec(out, array.as_primitive::<UInt8Type>().value(i) as u64),
        DataType::UInt16 => put_u64_dec(out, array.as_primitive::<UInt16Type>().value(i) as u64),
        DataType::UInt32 => put_u64_dec(out, array.as_primitive::<UInt32Type>().value(i) as u64),
        DataType::UInt64 => put_u64_dec(out, array.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => {
            put_float_repr(out, array.as_primitive::<Float32Type>().value(i) as f64)
        }
        DataType::Float64 => put_float_repr(out, array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => put_str_repr(out, array.as_string::<i32>().value(i), p),
        DataType::LargeUtf8 => put_str_repr(out, array.as_string::<i64>().value(i), p),
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            let o = a.value_offsets();
            put_list_repr(
                a.values().as_ref(),
                o[i] as usize,
                o[i + 1] as usize,
                out,
                p,
            );
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            let o = a.value_offsets();
            put_list_repr(
                a.values().as_ref(),
                o[i] as usize,
                o[i + 1] as usize,
                out,
                p,
            );
        }
        DataType::FixedSizeList(_, _) => {
            let a = array.as_fixed_size_list();
            let start = a.value_offset_at(i);
            let end = start + a.value_length() as usize;
            put_list_repr(a.values().as_ref(), start, end, out, p);
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            out.push(b'{');
            for (k, (f, c)) in fields.iter().zip(s.columns()).enumerate() {
                if k > 0 {
                    out.extend_from_slice(b", ");
                }
                put_str_repr(out, f.name(), p);
                out.extend_from_slice(b": ");
                put_value_repr(c.as_ref(), i, out, p);
            }
            out.push(b'}');
        }
        other => unreachable!("type {other} passed `supported`"),
    }
}

/// `[a, b, ...]` of int items without nulls, straight from the values buffer.
macro_rules! int_items {
    ($child:expr, $t:ty, $put:ident, $as:ty, $start:expr, $end:expr, $out:expr) => {{
        let vals = &$child.as_primitive::<$t>().values()[$start..$end];
        for (k, &v) in vals.iter().enumerate() {
            if k > 0 {
                $out.extend_from_slice(b", ");
            }
            $put($out, v as $as);
        }
        true
    }};
}

fn put_int_items(child: &dyn Array, start: usize, end: usize, out: &mut Vec<u8>) -> bool {
    if let Some(nulls) = child.logical_nulls() {
        if nulls.slice(start, end - start).null_count() > 0 {
            return false;
        }
    }
    match child.data_type() {
        DataType::Int8 => int_items!(child, Int8Type, put_i64_dec, i64, start, end, out),
        DataType::Int16 => int_items!(child, Int16Type, put_i64_dec, i64, start, end, out),
        DataType::Int32 => int_items!(child, Int32Type, put_i64_dec, i64, start, end, out),
        DataType::Int64 => int_items!(child, Int64Type, put_i64_dec, i64, start, end, out),
        DataType::UInt8 => int_items!(child, UInt8Type, put_u64_dec, u64, start, end, out),
        DataType::UInt16 => int_items!(child, UInt16Type, put_u64_dec, u64, start, end, out),
        DataType::UInt32 => int_items!(child, UInt32Type, put_u64_dec, u64, start, end, out),
        DataType::UInt64 => int_items!(child, UInt64Type, put_u64_dec, u64, start, end, out),
        _ => false,
    }
}

fn put_list_repr(child: &dyn Array, start: usize, end: usize, out: &mut Vec<u8>, p: &Printable) {
    out.push(b'[');
    if put_int_items(child, start, end, out) {
        out.push(b']');
        return;
    }
    for j in start..end {
        if j > start {
            out.extend_from_slice(b", ");
        }
        put_value_repr(child, j, out, p);
    }
    out.push(b']');
}

/// Appends `str(row)` of the row at `position` (selection order): the dict repr.
pub fn put_row_repr(table: &Table<'_>, position: usize, out: &mut Vec<u8>, p: &Printable<'_>) {
    write_row_repr(table, position, out, p, |_| {});
}

/// Writes the dict repr of a row into `buf`, calling `after_column(buf)` after each value
/// so a caller may drain the buffer as it fills.
fn write_row_repr(
    table: &Table<'_>,
    position: usize,
    buf: &mut Vec<u8>,
    p: &Printable<'_>,
    mut after_column: impl FnMut(&mut Vec<u8>),
) {
    let row = table.physical(position);
    buf.push(b'{');
    for (k, (name, col)) in table.names.iter().zip(&table.columns).enumerate() {
        if k > 0 {
            buf.extend_from_slice(b", ");
        }
        put_str_repr(buf, name, p);
        buf.extend_from_slice(b": ");
        let (chunk, r) = col.locate(row);
        put_value_repr(col.chunks()[chunk].as_ref(), r, buf, p);
        after_column(buf);
    }
    buf.push(b'}');
}

/// The repr is fed to SHA-256 in pieces of about this size, column by column, so that a
/// long row never needs a buffer of its own size.
const FLUSH_AT: usize = 8192;

/// Feeds `str(row)` of the row at `position` to `hasher`, through `buf`.
fn hash_row_repr(
    table: &Table<'_>,
    position: usize,
    buf: &mut Vec<u8>,
    hasher: &mut Sha256,
    p: &Printable<'_>,
) {
    buf.clear();
    write_row_repr(table, position, buf, p, |buf| {
        if buf.len() >= FLUSH_AT {
            hasher.update(&buf[..]);
            buf.clear();
        }
    });
    hasher.update(&buf[..]);
}

/// Rows below this count are hashed on the calling thread.
const PARALLEL_MIN_ROWS: usize = 512;

/// True if some string in the array (values, or field names of structs) may hold a
/// non-ASCII character. Looks at whole value buffers, so a slice may answer true for
/// bytes outside it: that only costs the table.
fn may_hold_non_ascii(array: &dyn Array) -> bool {
    match array.data_type() {
        DataType::Utf8 => !array.as_string::<i32>().values().is_ascii(),
        DataType::LargeUtf8 => !array.as_string::<i64>().values().is_ascii(),
        DataType::List(_) => may_hold_non_ascii(array.as_list::<i32>().values().as_ref()),
        DataType::LargeList(_) => may_hold_non_ascii(array.as_list::<i64>().values().as_ref()),
        DataType::FixedSizeList(_, _) => {
            may_hold_non_ascii(array.as_fixed_size_list().values().as_ref())
        }
        DataType::Struct(fields) => {
            fields.iter().any(|f| !f.name().is_ascii())
                || array
                    .as_struct()
                    .columns()
                    .iter()
                    .any(|c| may_hold_non_ascii(c.as_ref()))
        }
        _ => false,
    }
}

/// True if writing this table's rows needs `str.isprintable` of non-ASCII characters.
pub fn needs_printable(table: &Table<'_>) -> bool {
    table.names.iter().any(|n| !n.is_ascii())
        || table
            .columns
            .iter()
            .flat_map(|c| c.chunks())
            .any(|a| may_hold_non_ascii(a.as_ref()))
}

/// `sha256(str(row).encode("utf-8")).digest()` of every row, in selection order; `None`
/// when the table holds non-ASCII text and `p` is empty (the caller builds the table).
pub fn row_sha256(
    table: &Table<'_>,
    p: &Printable<'_>,
) -> Result<Option<Vec<[u8; 32]>>, KernelError> {
    table.check("dataset")?;
    if p.0.is_empty() && needs_printable(table) {
        return Ok(None);
    }
    let n = table.rows();
    let digest = |state: &mut (Vec<u8>, Sha256), pos: usize| -> [u8; 32] {
        let (buf, hasher) = state;
        hash_row_repr(table, pos, buf, hasher, p);
        hasher.finalize_reset().into()
    };
    let state = || (Vec::with_capacity(2 * FLUSH_AT), Sha256::new());
    if n < PARALLEL_MIN_ROWS {
        let mut st = state();
        return Ok(Some((0..n).map(|pos| digest(&mut st, pos)).collect()));
    }
    Ok(Some(crate::parallel::install(|| {
        (0..n)
            .into_par_iter()
            .with_min_len(64)
            .map_init(state, digest)
            .collect()
    })))
}

/// The first position of each distinct digest, ascending, with its digest.
pub fn first_of_each(digests: &[[u8; 32]]) -> Vec<usize> {
    let mut seen = std::collections::HashSet::with_capacity(digests.len());
    (0..digests.len())
        .filter(|&p| seen.insert(&digests[p]))
        .collect()
}

/// Lower-case hex of a digest, as `hashlib`'s `hexdigest()`.
pub fn hex(d: &[u8; 32]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = [0u8; 64];
    for (i, &b) in d.iter().enumerate() {
        s[2 * i] = HEX[(b >> 4) as usize];
        s[2 * i + 1] = HEX[(b & 15) as usize];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascii_only() -> Vec<u8> {
        (0..0x110000u32)
            .map(|c| u8::from((0x20..0x7f).contains(&c) || c == 0xe9))
            .collect()
    }

    fn s(v: &str) -> String {
        let t = ascii_only();
        let mut out = Vec::new();
        put_str_repr(&mut out, v, &Printable(&t));
        String::from_utf8(out).unwrap()
    }

    fn f(v: f64) -> String {
        let mut out = Vec::new();
        put_float_repr(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the exact values are the point
    fn floats_print_as_cpython_repr() {
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.1, "1.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "nan"),
            (-f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1.100000023841858, "1.100000023841858"),
            (0.71854400634765625, "0.7185440063476562"),
            (9007199254740993.0, "9007199254740992.0"),
            (1e23, "1e+23"),
            (123456.0, "123456.0"),
            (0.5, "0.5"),
            (-2.5, "-2.5"),
            (12345.678, "12345.678"),
        ];
        for (v, want) in cases {
            assert_eq!(f(v), want, "{v:?}");
        }
    }

    #[test]
    fn strings_print_as_cpython_repr() {
        assert_eq!(s("abc"), "'abc'");
        assert_eq!(s("it's"), "\"it's\"");
        assert_eq!(s("'\""), "'\\'\"'");
        assert_eq!(s("a\\b\n\t\r\x00\x7f"), "'a\\\\b\\n\\t\\r\\x00\\x7f'");
        assert_eq!(s("é\u{85}\u{2028}\u{1F600}"), "'é\\x85\\u2028\\U0001f600'");
        assert_eq!(s(""), "''");
    }

    #[test]
    fn ints_print_in_decimal() {
        for v in [
            0i64,
            7,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            -1,
            -100,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            put_i64_dec(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
        let mut edges = vec![u64::MAX];
        for k in 1..20 {
            edges.extend([10u64.pow(k) - 1, 10u64.pow(k), 10u64.pow(k) + 1]);
        }
        for v in edges {
            let mut out = b"x".to_vec();
            put_u64_dec(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), format!("x{v}"));
        }
    }

    #[test]
    fn streamed_digest_is_the_digest_of_the_whole_repr() {
        use crate::column::{ChunkedColumn, RowSelection};
        use arrow_array::{ArrayRef, StringArray};
        use std::sync::Arc;
        let long = "x".repeat(3 * FLUSH_AT);
        let col = || {
            ChunkedColumn::new(vec![
                Arc::new(StringArray::from(vec![long.as_str(), "a"])) as ArrayRef
            ])
            .unwrap()
        };
        let t = Table {
            names: vec!["a".into(), "b".into()],
            columns: vec![col(), col()],
            selection: RowSelection::All,
        };
        let table = ascii_only();
        let p = Printable(&table);
        let got = row_sha256(&t, &p).unwrap().unwrap();
        for (pos, d) in got.iter().enumerate() {
            let mut whole = Vec::new();
            put_row_repr(&t, pos, &mut whole, &p);
            assert_eq!(d[..], Sha256::digest(&whole)[..]);
        }
    }

    #[test]
    fn ascii_tables_need_no_printable_table() {
        use crate::column::{ChunkedColumn, RowSelection};
        use arrow_array::{ArrayRef, StringArray};
        use std::sync::Arc;
        let t = |v: &str| Table {
            names: vec!["s".into()],
            columns: vec![ChunkedColumn::new(vec![
                Arc::new(StringArray::from(vec![v])) as ArrayRef
            ])
            .unwrap()],
            selection: RowSelection::All,
        };
        assert!(row_sha256(&t("plain"), &Printable(&[])).unwrap().is_some());
        assert!(row_sha256(&t("é"), &Printable(&[])).unwrap().is_none());
    }

    #[test]
    fn digests_are_lower_hex() {
        let d: [u8; 32] = Sha256::digest(b"abc").into();
        assert_eq!(
            &hex(&d)[..],
            b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn first_of_each_keeps_first_positions_in_order() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let got = first_of_each(&[b, a, b, a, [3u8; 32]]);
        assert_eq!(got, vec![0, 1, 4]);
    }
}
