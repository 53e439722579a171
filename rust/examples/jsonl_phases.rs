//! Times the phases of reading the first 10 MB chunk of a JSON Lines file:
//! `cargo run --release --example jsonl_phases -- FILE`.
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use _native::stream::jsonl::{fix_surrogate_escapes, CHUNK_BYTES};
use arrow_json::reader::{infer_json_schema, ReaderBuilder};

fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let t = Instant::now();
    let mut f = std::fs::File::open(&path).unwrap();
    let mut chunk = vec![0u8; CHUNK_BYTES];
    f.read_exact(&mut chunk).unwrap();
    let end = chunk.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    chunk.truncate(end);
    println!("read 10 MB        {:?}", t.elapsed());
    let t = Instant::now();
    fix_surrogate_escapes(&mut chunk);
    println!("surrogates        {:?}", t.elapsed());
    let t = Instant::now();
    let n = chunk.iter().filter(|&&b| b == b'\n').count();
    println!("count newlines    {:?} ({n})", t.elapsed());
    let t = Instant::now();
    let (schema, _) = infer_json_schema(std::io::Cursor::new(&chunk), None).unwrap();
    println!("infer             {:?}", t.elapsed());
    let t = Instant::now();
    let fast = _native::stream::json_infer::infer_chunk_schema(&chunk).unwrap();
    println!("fast infer        {:?}", t.elapsed());
    let reps: u32 = std::env::var("REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    if reps > 0 {
        let t = Instant::now();
        for _ in 0..reps {
            _native::stream::json_infer::infer_chunk_schema(&chunk).unwrap();
        }
        println!("fast infer (mean) {:?}", t.elapsed() / reps);
    }
    assert_eq!(fast, schema);
    let schema = Arc::new(schema);
    let t = Instant::now();
    let mut d = ReaderBuilder::new(schema.clone())
        .with_batch_size(1000)
        .with_strict_mode(true)
        .build_decoder()
        .unwrap();
    let c = d.decode(&chunk).unwrap();
    let b = d.flush().unwrap().unwrap();
    println!(
        "decode 1000 rows  {:?} ({c} bytes, {} rows)",
        t.elapsed(),
        b.num_rows()
    );
    let t = Instant::now();
    let mut d = ReaderBuilder::new(schema)
        .with_batch_size(100_000)
        .with_strict_mode(true)
        .build_decoder()
        .unwrap();
    let c = d.decode(&chunk).unwrap();
    let b = d.flush().unwrap().unwrap();
    println!(
        "decode chunk      {:?} ({c} bytes, {} rows)",
        t.elapsed(),
        b.num_rows()
    );
}
