//! Column types of a JSON Lines chunk, as arrow-json's `infer_json_schema` infers them,
//! several times faster.
//!
//! arrow-json parses every line into a `serde_json::Value` (about 45 ms per 10 MB chunk,
//! most of the time to the first batch), although inference only looks at the kind of each
//! value. Here a validating scanner reduces each line to its *signature* (keys, nesting and
//! the kind of each value) without decoding strings; lines of a signature seen before reuse
//! its [`Shape`] (which serde_json built, from the first such line), and arrow-json's
//! inference rules (`arrow_json::reader::schema`, version 60, copied below) are applied to
//! it. A signature whose application left the inferred types unchanged is skipped until
//! they change, which is exact because the rules are a deterministic function of the types
//! so far and the line's shape.
//!
//! The scanner accepts only what serde_json accepts, and classifies numbers as serde_json
//! does; on anything it is not sure of (a long number, a lone surrogate escape, invalid
//! UTF-8, deep nesting, conflicting types) it returns `None` and the caller runs arrow-json's
//! own inference on the chunk, which gives the same schema or reports its own error.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema};
use indexmap::{IndexMap, IndexSet};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// What inference needs to know of a JSON value.
#[derive(Debug, Clone, PartialEq)]
enum Shape<'a> {
    Null,
    Bool,
    /// A number that `serde_json::Number::is_i64` accepts.
    Int,
    /// Any other number.
    Float,
    Str,
    Array(Vec<Shape<'a>>),
    /// Keys in first-appearance order; a repeated key keeps its place and takes the last
    /// value, as serde_json's `preserve_order` map does.
    Object(IndexMap<Cow<'a, str>, Shape<'a>>),
}

impl Shape<'_> {
    fn into_owned(self) -> Shape<'static> {
        match self {
            Shape::Null => Shape::Null,
            Shape::Bool => Shape::Bool,
            Shape::Int => Shape::Int,
            Shape::Float => Shape::Float,
            Shape::Str => Shape::Str,
            Shape::Array(v) => Shape::Array(v.into_iter().map(Shape::into_owned).collect()),
            Shape::Object(m) => Shape::Object(
                m.into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape<'de>, E> {
        Ok(Shape::Bool)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape<'de>, E> {
        Ok(Shape::Int)
    }
    fn visit_u64<E>(self, v: u64) -> Result<Shape<'de>, E> {
        // serde_json's `Number::is_i64` is false for a u64 above i64::MAX.
        Ok(if v <= i64::MAX as u64 {
            Shape::Int
        } else {
            Shape::Float
        })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape<'de>, E> {
        Ok(Shape::Float)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape<'de>, E> {
        Ok(Shape::Str)
    }
    fn visit_unit<E>(self) -> Result<Shape<'de>, E> {
        Ok(Shape::Null)
    }
    fn visit_none<E>(self) -> Result<Shape<'de>, E> {
        Ok(Shape::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Shape::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape<'de>, A::Error> {
        let mut out = IndexMap::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value()?;
            out.insert(key.0, value);
        }
        Ok(Shape::Object(out))
    }
}

impl<'de> Deserialize<'de> for Shape<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

/// An object key: borrowed from the line unless it holds an escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Past this many distinct signatures in one chunk (rows whose keys vary freely), the
/// chunk goes to arrow-json instead.
const MAX_SIGNATURES: usize = 4096;
/// serde_json's recursion limit is 128; deeper lines go to arrow-json.
const MAX_DEPTH: usize = 100;

struct Seen {
    shape: Shape<'static>,
    /// The `version` of the inferred types at which applying this shape changed nothing.
    noop_at: Option<u64>,
}

/// The schema arrow-json's `infer_json_schema(chunk, None)` returns, or `None` where that
/// call would fail (or might: anything unusual is left to it).
pub fn infer_chunk_schema(chunk: &[u8]) -> Option<Schema> {
    let text = std::str::from_utf8(chunk).ok()?;
    // Tabs and carriage returns are white space between tokens but invalid inside strings;
    // only a chunk that has any control byte but '\n' pays for checking strings for them.
    // (Folded over fixed blocks so that it vectorizes: a short-circuiting `any` is a byte
    // loop, and was most of the time here.)
    let controls = chunk.chunks(64).any(|block| {
        block
            .iter()
            .fold(false, |acc, &b| acc | ((b < 0x20) & (b != b'\n')))
    });
    let mut fields: IndexMap<String, Inferred> = IndexMap::new();
    let mut version = 0u64;
    let mut seen: HashMap<Vec<u8>, Seen, ahash::RandomState> = HashMap::default();
    let mut sig = Vec::with_capacity(256);
    // `ValueIter` splits at '\n' (`read_line`), trims Unicode white space, skips blank lines.
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', chunk).chain(std::iter::once(chunk.len()));
    for end in ends {
        // Both ends are at '\n' or at the chunk's ends: char boundaries.
        let line = text[start..end].trim();
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        sig.clear();
        let mut scan = Scanner {
            b: line.as_bytes(),
            line,
            i: 0,
            controls,
            sig: &mut sig,
        };
        if scan.b[0] != b'{' {
            return None;
        }
        scan.value(0)?;
        scan.ws();
        if scan.i != scan.b.len() {
            return None;
        }
        let entry = match seen.get_mut(sig.as_slice()) {
            Some(e) => e,
            None => {
                if seen.len() >= MAX_SIGNATURES {
                    return None;
                }
                let shape: Shape = serde_json::from_str(line).ok()?;
                seen.entry(sig.clone()).or_insert(Seen {
                    shape: shape.into_owned(),
                    noop_at: None,
                })
            }
        };
        if entry.noop_at == Some(version) {
            continue;
        }
        let Shape::Object(map) = &entry.shape else {
            return None;
        };
        let mut next = fields.clone();
        collect_field_types_from_object(&mut next, map).ok()?;
        if same_fields(&next, &fields) {
            entry.noop_at = Some(version);
        } else {
            fields = next;
            version += 1;
        }
    }
    generate_fields(&fields).ok().map(Schema::new)
}

/// One line's validating scan; writes the line's signature.
struct Scanner<'a, 's> {
    b: &'a [u8],
    line: &'a str,
    i: usize,
    controls: bool,
    sig: &'s mut Vec<u8>,
}

impl Scanner<'_, '_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        if self.b.get(self.i) == Some(&byte) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        self.ws();
        match *self.b.get(self.i)? {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.sig.push(b'{');
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.eat(b'"')?;
                        let start = self.i - 1;
                        let escaped = self.string()?;
                        self.sig.push(b'k');
                        if escaped {
                            let key: String =
                                serde_json::from_str(&self.line[start..self.i]).ok()?;
                            self.push_key(key.as_bytes());
                        } else {
                            let raw = &self.b[start + 1..self.i - 1];
                            self.push_key(raw);
                        }
                        self.eat(b':')?;
                        self.value(depth + 1)?;
                        self.ws();
                        match *self.b.get(self.i)? {
                            b',' => self.i += 1,
                            b'}' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.sig.push(b'}');
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.sig.push(b'[');
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.value(depth + 1)?;
                        self.ws();
                        match *self.b.get(self.i)? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.sig.push(b']');
            }
            b'"' => {
                self.i += 1;
                self.string()?;
                self.sig.push(b's');
            }
            b't' => self.literal(b"true", b'b')?,
            b'f' => self.literal(b"false", b'b')?,
            b'n' => self.literal(b"null", b'n')?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        }
        Some(())
    }

    fn push_key(&mut self, key: &[u8]) {
        self.sig
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.sig.extend_from_slice(key);
    }

    fn literal(&mut self, word: &[u8], tag: u8) -> Option<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            self.sig.push(tag);
            Some(())
        } else {
            None
        }
    }

    /// After the opening quote: moves past the closing one. True if the string has escapes.
    /// A `\\u` escape of a surrogate (a pair was already rewritten to UTF-8 by
    /// `fix_surrogate_escapes`) gives up.
    fn string(&mut self) -> Option<bool> {
        let mut escaped = false;
        loop {
            let rest = &self.b[self.i..];
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            if self.controls && rest[..at].iter().any(|&c| c < 0x20) {
                return None;
            }
            self.i += at;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Some(escaped);
            }
            escaped = true;
            match *self.b.get(self.i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                b'u' => {
                    let hex = self.b.get(self.i + 2..self.i + 6)?;
                    let code = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) || (0xD800..=0xDFFF).contains(&code) {
                        return None;
                    }
                    self.i += 6;
                }
                _ => return None,
            }
        }
    }

    /// JSON's number grammar; the kind serde_json gives it (`-0` is a float there).
    fn number(&mut self) -> Option<()> {
        let negative = self.b[self.i] == b'-';
        if negative {
            self.i += 1;
        }
        let int_start = self.i;
        match *self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int_digits = self.i - int_start;
        let mut float = false;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            let s = self.i;
            self.digits();
            if self.i == s {
                return None;
            }
            float = true;
        }
        let mut exp_digits = None;
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            let exp_negative = self.b.get(self.i) == Some(&b'-');
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            let s = self.i;
            self.digits();
            if self.i == s {
                return None;
            }
            // The exponent's value, if it has at most 4 digits.
            let e = self.line[s..self.i]
                .parse::<usize>()
                .ok()
                .filter(|_| self.i - s <= 4);
            exp_digits = Some((exp_negative, e));
        }
        let tag = match exp_digits {
            Some((exp_negative, e)) => {
                // Finite (and so accepted by serde_json) when at most 10^300.
                let e = if exp_negative { 0 } else { e? };
                if int_digits + e <= 300 {
                    b'f'
                } else {
                    return None;
                }
            }
            None if float && int_digits <= 300 => b'f',
            None if float => return None,
            None => {
                // serde_json: a significand that fits u64 is `is_i64` if it is at most
                // i64::MAX (positive) or 2^63 (negative), except -0, which is a float;
                // a longer integer is parsed as a float.
                let digits = &self.line[int_start..self.i];
                match digits.parse::<u64>() {
                    Ok(0) if negative => b'f',
                    Ok(v) if !negative && v <= i64::MAX as u64 => b'i',
                    Ok(v) if negative && v <= 1 << 63 => b'i',
                    Ok(_) => b'f',
                    Err(_) if int_digits <= 300 => b'f',
                    Err(_) => return None,
                }
            }
        };
        self.sig.push(tag);
        Some(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
    }
}

fn same_fields(a: &IndexMap<String, Inferred>, b: &IndexMap<String, Inferred>) -> bool {
    // IndexMap's `==` ignores order; the schema's column order is the map's order.
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
}

fn same(a: &Inferred, b: &Inferred) -> bool {
    match (a, b) {
        (Inferred::Any, Inferred::Any) => true,
        (Inferred::Scalar(x), Inferred::Scalar(y)) => x.iter().eq(y.iter()),
        (Inferred::Array(x), Inferred::Array(y)) => same(x, y),
        (Inferred::Object(x), Inferred::Object(y)) => same_fields(x, y),
        _ => false,
    }
}

// What follows is arrow-json 60's `reader/schema.rs` with `serde_json::Value` replaced by
// `Shape` and error messages by `Conflict` (the caller never shows them: it re-runs
// arrow-json). Keep it in step with the arrow-json version in Cargo.toml.

struct Conflict;

type R<T> = Result<T, Conflict>;

#[derive(Debug, Clone)]
enum Inferred {
    Scalar(IndexSet<DataType>),
    Array(Box<Inferred>),
    Object(IndexMap<String, Inferred>),
    Any,
}

impl Inferred {
    fn merge(&mut self, other: Inferred) -> R<()> {
        match (self, other) {
            (Inferred::Array(s), Inferred::Array(o)) => {
                s.merge(*o)?;
            }
            (Inferred::Scalar(self_hs), Inferred::Scalar(other_hs)) => {
                other_hs.into_iter().for_each(|v| {
                    self_hs.insert(v);
                });
            }
            (Inferred::Object(self_map), Inferred::Object(other_map)) => {
                for (k, v) in other_map {
                    self_map.entry(k).or_insert(Inferred::Any).merge(v)?;
                }
            }
            (s @ Inferred::Any, v) => {
                *s = v;
            }
            (_, Inferred::Any) => {}
            (Inferred::Array(self_inner_type), other_scalar @ Inferred::Scalar(_)) => {
                self_inner_type.merge(other_scalar)?;
            }
            (s @ Inferred::Scalar(_), Inferred::Array(mut other_inner_type)) => {
                other_inner_type.merge(s.clone())?;
                *s = Inferred::Array(other_inner_type);
            }
            _ => return Err(Conflict),
        }
        Ok(())
    }

    fn is_none_or_any(ty: Option<&Self>) -> bool {
        matches!(ty, Some(Self::Any) | None)
    }
}

fn list_type_of(ty: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(ty, true)))
}

fn coerce_data_type(dt: Vec<&DataType>) -> DataType {
    let mut dt_iter = dt.into_iter().cloned();
    let dt_init = dt_iter.next().unwrap_or(DataType::Utf8);
    dt_iter.fold(dt_init, |l, r| match (l, r) {
        (DataType::Null, o) | (o, DataType::Null) => o,
        (DataType::Boolean, DataType::Boolean) => DataType::Boolean,
        (DataType::Int64, DataType::Int64) => DataType::Int64,
        (DataType::Float64 | DataType::Int64, DataType::Float64)
        | (DataType::Float64, DataType::Int64) => DataType::Float64,
        (DataType::List(l), DataType::List(r)) => {
            list_type_of(coerce_data_type(vec![l.data_type(), r.data_type()]))
        }
        (DataType::List(e), not_list) | (not_list, DataType::List(e)) => {
            list_type_of(coerce_data_type(vec![e.data_type(), &not_list]))
        }
        _ => DataType::Utf8,
    })
}

fn generate_datatype(t: &Inferred) -> R<DataType> {
    Ok(match t {
        Inferred::Scalar(hs) => coerce_data_type(hs.iter().collect()),
        Inferred::Object(spec) => DataType::Struct(generate_fields(spec)?),
        Inferred::Array(ele_type) => list_type_of(generate_datatype(ele_type)?),
        Inferred::Any => DataType::Null,
    })
}

fn generate_fields(spec: &IndexMap<String, Inferred>) -> R<Fields> {
    spec.iter()
        .map(|(k, types)| Ok(Field::new(k, generate_datatype(types)?, true)))
        .collect()
}

fn set_object_scalar_field_type(
    field_types: &mut IndexMap<String, Inferred>,
    key: &str,
    ftype: DataType,
) -> R<()> {
    if Inferred::is_none_or_any(field_types.get(key)) {
        field_types.insert(key.to_string(), Inferred::Scalar(IndexSet::new()));
    }
    match field_types.get_mut(key).ok_or(Conflict)? {
        Inferred::Scalar(hs) => {
            hs.insert(ftype);
            Ok(())
        }
        scalar_array @ Inferred::Array(_) => {
            let mut hs = IndexSet::new();
            hs.insert(ftype);
            scalar_array.merge(Inferred::Scalar(hs))
        }
        _ => Err(Conflict),
    }
}

fn infer_scalar_array_type(array: &[Shape]) -> R<Inferred> {
    let mut hs = IndexSet::new();
    for v in array {
        match v {
            Shape::Null => {}
            Shape::Int => {
                hs.insert(DataType::Int64);
            }
            Shape::Float => {
                hs.insert(DataType::Float64);
            }
            Shape::Bool => {
                hs.insert(DataType::Boolean);
            }
            Shape::Str => {
                hs.insert(DataType::Utf8);
            }
            Shape::Array(_) | Shape::Object(_) => return Err(Conflict),
        }
    }
    Ok(Inferred::Scalar(hs))
}

fn infer_nested_array_type(array: &[Shape]) -> R<Inferred> {
    let mut inner_ele_type = Inferred::Any;
    for v in array {
        match v {
            Shape::Array(inner_array) => {
                inner_ele_type.merge(infer_array_element_type(inner_array)?)?;
            }
            _ => return Err(Conflict),
        }
    }
    Ok(Inferred::Array(Box::new(inner_ele_type)))
}

fn infer_struct_array_type(array: &[Shape]) -> R<Inferred> {
    let mut field_types = IndexMap::new();
    for v in array {
        match v {
            Shape::Object(map) => collect_field_types_from_object(&mut field_types, map)?,
            _ => return Err(Conflict),
        }
    }
    Ok(Inferred::Object(field_types))
}

fn infer_array_element_type(array: &[Shape]) -> R<Inferred> {
    match array.first() {
        None => Ok(Inferred::Any),
        Some(Shape::Array(_)) => infer_nested_array_type(array),
        Some(Shape::Object(_)) => infer_struct_array_type(array),
        Some(_) => infer_scalar_array_type(array),
    }
}

fn collect_field_types_from_object(
    field_types: &mut IndexMap<String, Inferred>,
    map: &IndexMap<Cow<'_, str>, Shape<'_>>,
) -> R<()> {
    for (k, v) in map {
        let k: &str = k;
        match v {
            Shape::Array(array) => {
                let ele_type = infer_array_element_type(array)?;
                if Inferred::is_none_or_any(field_types.get(k)) {
                    let fresh = match ele_type {
                        Inferred::Scalar(_) => {
                            Inferred::Array(Box::new(Inferred::Scalar(IndexSet::new())))
                        }
                        Inferred::Object(_) => {
                            Inferred::Array(Box::new(Inferred::Object(IndexMap::new())))
                        }
                        Inferred::Any | Inferred::Array(_) => {
                            Inferred::Array(Box::new(Inferred::Any))
                        }
                    };
                    field_types.insert(k.to_string(), fresh);
                }
                match field_types.get_mut(k).ok_or(Conflict)? {
                    Inferred::Array(inner_type) => inner_type.merge(ele_type)?,
                    field_type @ Inferred::Scalar(_) => {
                        field_type.merge(ele_type)?;
                        *field_type = Inferred::Array(Box::new(field_type.clone()));
                    }
                    _ => return Err(Conflict),
                }
            }
            Shape::Bool => set_object_scalar_field_type(field_types, k, DataType::Boolean)?,
            Shape::Null => {
                if !field_types.contains_key(k) {
                    field_types.insert(k.to_string(), Inferred::Any);
                }
            }
            Shape::Int => set_object_scalar_field_type(field_types, k, DataType::Int64)?,
            Shape::Float => set_object_scalar_field_type(field_types, k, DataType::Float64)?,
            Shape::Str => set_object_scalar_field_type(field_types, k, DataType::Utf8)?,
            Shape::Object(inner_map) => {
                if matches!(field_types.get(k).unwrap_or(&Inferred::Any), Inferred::Any) {
                    field_types.insert(k.to_string(), Inferred::Object(IndexMap::new()));
                }
                match field_types.get_mut(k).ok_or(Conflict)? {
                    Inferred::Object(inner) => collect_field_types_from_object(inner, inner_map)?,
                    _ => return Err(Conflict),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::infer_chunk_schema;
    use arrow_json::reader::infer_json_schema;

    fn arrow(chunk: &str) -> Option<arrow_schema::Schema> {
        infer_json_schema(std::io::Cursor::new(chunk.as_bytes()), None)
            .ok()
            .map(|(s, _)| s)
    }

    /// Chunks that exercise every inference rule and every failure; the fast inference must
    /// give arrow-json's schema, or give up exactly where arrow-json fails.
    const CASES: &[&str] = &[
        "{\"a\": 1, \"b\": \"x\", \"c\": 1.5, \"d\": true, \"e\": null}\n",
        "{\"a\": 1}\n{\"a\": 2.5}\n{\"a\": null}\n",
        "{\"a\": 1}\n{\"a\": \"s\"}\n",
        "{\"a\": true}\n{\"a\": 1}\n",
        "{\"a\": null}\n{\"b\": 1}\n{\"a\": [1, 2.0]}\n",
        "{\"a\": 1}\n{\"a\": [\"x\"]}\n{\"a\": 2}\n",
        "{\"a\": [1]}\n{\"a\": 3}\n",
        "{\"a\": []}\n{\"a\": [[1], []]}\n{\"a\": [[2.5]]}\n",
        "{\"a\": [{\"x\": 1}, {\"y\": \"s\"}]}\n{\"a\": [{\"x\": 2.0}]}\n",
        "{\"a\": {\"x\": {\"y\": [true]}}}\n{\"a\": {\"x\": null, \"z\": 1}}\n{\"a\": null}\n",
        "{\"a\": 9223372036854775807, \"b\": 9223372036854775808, \"c\": -9223372036854775808}\n",
        "{\"a\": 1e400}\n",
        "{\"a\": 1e5, \"b\": -0, \"c\": 1E-3, \"d\": -0.0, \"e\": 0}\n",
        "{\"a\": 123456789012345678901234567890}\n",
        "{\"a\": 1.5e-300, \"b\": 12345678901234567.5e99, \"c\": 1e-99999, \"d\": 0.1E+2}\n",
        "{\"a\": 18446744073709551615, \"b\": 18446744073709551616, \"c\": -9223372036854775809}\n",
        "{\"a\": 1}\n{\"a\": 1.}\n",
        "{\"a\": -}\n",
        "{\"a\": .5}\n",
        "{\"a\": [1,]}\n",
        "{\"a\": 1,}\n",
        "{\"a\" 1}\n",
        "{\"a\": tru}\n",
        "{\"a\": \"\\x\"}\n",
        "{\"a\": \"\\u00zz\"}\n",
        "{\"a\":\t1,\r\"b\" :[ 1 , 2 ] }\n",
        "{\"a\": \"x\ty\"}\n{\"b\":\t1}\n",
        "{\"a\": 1}\n{\"a\": 1}\n{\"b\": 2}\n{\"a\": 2.5}\n{\"a\": 1}\n",
        "{\"a\": 1, \"a\": \"s\", \"b\": 2}\n",
        "{\"k\\u00e9y\": 1, \"\\ud83d\\ude00\": 2, \"k\u{e9}y\": 3.5}\n",
        "\n  \n{\"a\": 1}  \r\n\u{a0}{\"b\": 2}\u{2028}\n\n",
        "{\"a\": 1}\n[1, 2]\n",
        "{\"a\": 1}\n3\n",
        "{\"a\": 1}\n{\"a\": \n",
        "{\"a\": 1} {\"b\": 2}\n",
        "{\"a\": {\"x\": 1}}\n{\"a\": 1}\n",
        "{\"a\": 1}\n{\"a\": {\"x\": 1}}\n",
        "{\"a\": [1]}\n{\"a\": [[1]]}\n",
        "{\"a\": [[1]]}\n{\"a\": [1]}\n",
        "{\"a\": [1, [2]]}\n",
        "{\"a\": [[1], 2]}\n",
        "{\"a\": [{\"x\": 1}, 2]}\n",
        "{\"a\": [1]}\n{\"a\": {\"x\": 1}}\n",
        "{\"a\": [{\"x\": 1}]}\n{\"a\": [1]}\n",
        "{\"a\": \"\\ud800\"}\n",
        "{\"a\": \"tab\there\"}\n",
        "{\"a\": 01}\n",
        "{\"a\": NaN}\n",
        "",
        "\n\n",
        "{}\n{}\n",
    ];

    #[test]
    fn fast_inference_agrees_with_arrow_json_or_gives_up_where_it_fails() {
        for case in CASES {
            // As the reader does: surrogate pairs become UTF-8 before inference.
            let mut fixed = case.as_bytes().to_vec();
            crate::stream::jsonl::fix_surrogate_escapes(&mut fixed);
            let case = &String::from_utf8(fixed).unwrap();
            let fast = infer_chunk_schema(case.as_bytes());
            let slow = arrow(case);
            match (&fast, &slow) {
                (Some(f), Some(s)) => assert_eq!(f, s, "schema differs for {case:?}"),
                (None, None) => {}
                (Some(f), None) => panic!("fast inference accepts {case:?} ({f:?}); arrow fails"),
                // Giving up is safe (the caller runs arrow-json) but slow: not on valid chunks.
                (None, Some(s)) => panic!("fast inference gives up on {case:?}; arrow: {s:?}"),
            }
        }
    }

    /// A small deterministic generator of JSON values of every kind, nested.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn value(&mut self, depth: u32, out: &mut String) {
            let kinds = if depth >= 3 { 6 } else { 8 };
            match self.next(kinds) {
                0 => out.push_str("null"),
                1 => out.push_str(["true", "false"][self.next(2) as usize]),
                2 => out.push_str(
                    ["0", "-7", "42", "-0", "9223372036854775808"][self.next(5) as usize],
                ),
                3 => out.push_str(["1.5", "-0.0", "2e3"][self.next(3) as usize]),
                4 | 5 => out.push_str("\"s\""),
                6 => {
                    out.push('[');
                    for i in 0..self.next(3) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.value(depth + 1, out);
                    }
                    out.push(']');
                }
                _ => self.object(depth + 1, out),
            }
        }

        fn object(&mut self, depth: u32, out: &mut String) {
            out.push('{');
            for i in 0..self.next(4) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(["\"a\":", "\"b\":", "\"c\":"][self.next(3) as usize]);
                self.value(depth, out);
            }
            out.push('}');
        }
    }

    #[test]
    fn fast_inference_agrees_with_arrow_json_on_random_chunks() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let (mut agreed, mut failed) = (0, 0);
        for _ in 0..3000 {
            let mut chunk = String::new();
            // Many lines of few keys: signatures repeat, before and after the types change.
            for _ in 0..1 + g.next(12) {
                g.object(0, &mut chunk);
                chunk.push('\n');
            }
            let fast = infer_chunk_schema(chunk.as_bytes());
            let slow = arrow(&chunk);
            assert_eq!(fast, slow, "chunk {chunk:?}");
            if slow.is_some() {
                agreed += 1;
            } else {
                failed += 1;
            }
        }
        // Both outcomes must be exercised, or the comparison proves little.
        assert!(
            agreed > 300 && failed > 300,
            "agreed {agreed}, failed {failed}"
        );
    }

    #[test]
    fn invalid_utf8_is_left_to_arrow_json() {
        let chunk = b"{\"a\": \"\xff\"}\n";
        assert!(infer_chunk_schema(chunk).is_none());
        assert!(infer_json_schema(std::io::Cursor::new(&chunk[..]), None).is_err());
    }
}
