//! Times the phases of reading the first 10 MB chunk of a JSON Lines file:
//! `cargo run --release --example jsonl_phases -- FILE` (`REPS=N` also averages the
//! fast inference over N runs).
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use _native::stream::json_infer::infer_chunk_schema;
use _native::stream::jsonl::{fix_surrogate_escapes, CHUNK_BYTES};
use arrow_json::reader::{infer_json_schema, ReaderBuilder};
use arrow_schema::SchemaRef;

/// Runs `f`, printing how long it took after `label` (and `detail` of its result).
fn timed<T>(label: &str, f: impl FnOnce() -> T, detail: impl Fn(&T) -> String) -> T {
    let t = Instant::now();
    let out = f();
    println!("{label:<17} {:?} {}", t.elapsed(), detail(&out));
    out
}

/// Decodes `chunk` with arrow-json's strict decoder in batches of `batch_size` rows:
/// (bytes consumed, rows of the first batch).
fn decode(schema: SchemaRef, batch_size: usize, chunk: &[u8]) -> (usize, usize) {
    let mut d = ReaderBuilder::new(schema)
        .with_batch_size(batch_size)
        .with_strict_mode(true)
        .build_decoder()
        .unwrap();
    let consumed = d.decode(chunk).unwrap();
    (consumed, d.flush().unwrap().unwrap().num_rows())
}

/// No detail to print.
fn none<T>(_: &T) -> String {
    String::new()
}

fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let mut chunk = timed(
        "read 10 MB",
        || {
            let mut f = std::fs::File::open(&path).unwrap();
            let mut chunk = vec![0u8; CHUNK_BYTES];
            f.read_exact(&mut chunk).unwrap();
            let end = chunk.iter().rposition(|&b| b == b'\n').unwrap() + 1;
            chunk.truncate(end);
            chunk
        },
        none,
    );
    timed("surrogates", || fix_surrogate_escapes(&mut chunk), none);
    let chunk = chunk;
    timed(
        "count newlines",
        || chunk.iter().filter(|&&b| b == b'\n').count(),
        |n| format!("({n})"),
    );
    let schema = timed(
        "infer",
        || {
            infer_json_schema(std::io::Cursor::new(&chunk), None)
                .unwrap()
                .0
        },
        none,
    );
    let fast = timed("fast infer", || infer_chunk_schema(&chunk).unwrap(), none);
    let reps: u32 = std::env::var("REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    if reps > 0 {
        let t = Instant::now();
        for _ in 0..reps {
            infer_chunk_schema(&chunk).unwrap();
        }
        println!("{:<17} {:?}", "fast infer (mean)", t.elapsed() / reps);
    }
    assert_eq!(fast, schema);
    let schema = Arc::new(schema);
    let rows = |(c, n): &(usize, usize)| format!("({c} bytes, {n} rows)");
    timed(
        "decode 1000 rows",
        || decode(schema.clone(), 1000, &chunk),
        rows,
    );
    timed("decode chunk", || decode(schema, 100_000, &chunk), rows);
}
