//! Tokenizer encoding inside the extension.
//!
//! The user's fast tokenizer is a `tokenizers` (Rust) tokenizer behind Python objects;
//! encoding through them costs a `PyEncoding` per text and Python lists of ids, and the
//! `transformers` wrapper adds a dict per text. Here the same tokenizer, serialized by the
//! user's own `tokenizers` package (`Tokenizer.to_str()`: model, normalizer,
//! pre-tokenizer, post-processor, added tokens, truncation), is loaded into the same
//! `tokenizers` crate release that package is built from and encodes on this crate's
//! thread pool, writing flat id/mask buffers.
//!
//! Identity rests on running the same code on the same configuration: callers use this
//! only when the Python package's version is [`TOKENIZERS_VERSION`], and check the ids of
//! one text per batch against the user's tokenizer object. What the crate cannot
//! reproduce deterministically (BPE dropout, padding, custom Python components, which do
//! not serialize) is refused with `Unsupported`.

use rayon::prelude::*;
use tokenizers::models::ModelWrapper;
use tokenizers::Tokenizer;

use crate::error::KernelError;
use crate::parallel;

/// The `tokenizers` crate release compiled in; `Cargo.toml` pins it exactly (`=`), and a
/// test checks that the two agree.
pub const TOKENIZERS_VERSION: &str = "0.23.1";

/// A tokenizer loaded from its JSON serialization.
pub struct Encoder {
    tok: Tokenizer,
}

/// Encodings of a batch of texts, flattened: text `t` has ids
/// `ids[offsets[t]..offsets[t + 1]]` and its attention mask at the same positions; when
/// char offsets were asked for, each token's `(start, end)` in the text (code points, as
/// the Python package's `offset_mapping`) is `(starts[i], ends[i])`, else both are empty.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    pub offsets: Vec<usize>,
    pub ids: Vec<i64>,
    pub mask: Vec<i64>,
    pub starts: Vec<i64>,
    pub ends: Vec<i64>,
}

impl Encoded {
    /// Number of tokens of text `t`.
    pub fn len_of(&self, t: usize) -> usize {
        self.offsets[t + 1] - self.offsets[t]
    }

    pub fn texts(&self) -> usize {
        self.offsets.len() - 1
    }
}

impl Encoder {
    /// Loads `json` (what `tokenizers.Tokenizer.to_str()` returns) and sets the
    /// special-token mode the Python object has (`encode_special_tokens`).
    pub fn from_json(json: &str, encode_special_tokens: bool) -> Result<Self, KernelError> {
        let mut tok: Tokenizer = json.parse().map_err(|e| {
            KernelError::unsupported(format!(
                "tokenizer JSON not loadable by tokenizers {TOKENIZERS_VERSION}: {e}"
            ))
        })?;
        if let ModelWrapper::BPE(bpe) = tok.get_model() {
            if bpe.dropout.is_some_and(|p| p > 0.0) {
                return Err(KernelError::unsupported(
                    "BPE dropout makes encodings random".to_string(),
                ));
            }
        }
        if tok.get_padding().is_some() {
            return Err(KernelError::unsupported(
                "padding is set on the tokenizer".to_string(),
            ));
        }
        tok.set_encode_special_tokens(encode_special_tokens);
        Ok(Encoder { tok })
    }

    /// Encodes every text with the tokenizer's truncation, in parallel, in input order:
    /// what the Python package's `encode_batch(texts, add_special_tokens)` computes, with
    /// each token's char offsets when `char_offsets` is set.
    pub fn encode(
        &self,
        texts: &[String],
        add_special_tokens: bool,
        char_offsets: bool,
    ) -> Result<Encoded, KernelError> {
        let encodings = parallel::install(|| {
            texts
                .par_iter()
                .map(|text| {
                    if char_offsets {
                        self.tok
                            .encode_char_offsets(text.as_str(), add_special_tokens)
                    } else {
                        self.tok.encode(text.as_str(), add_special_tokens)
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| KernelError::unsupported(format!("encoding failed: {e}")))?;
        let total: usize = encodings.iter().map(|e| e.get_ids().len()).sum();
        let with_offsets = if char_offsets { total } else { 0 };
        let mut out = Encoded {
            offsets: Vec::with_capacity(texts.len() + 1),
            ids: Vec::with_capacity(total),
            mask: Vec::with_capacity(total),
            starts: Vec::with_capacity(with_offsets),
            ends: Vec::with_capacity(with_offsets),
        };
        out.offsets.push(0);
        for e in &encodings {
            out.ids.extend(e.get_ids().iter().map(|&v| i64::from(v)));
            out.mask
                .extend(e.get_attention_mask().iter().map(|&v| i64::from(v)));
            if char_offsets {
                for &(start, end) in e.get_offsets() {
                    out.starts.push(to_i64(start)?);
                    out.ends.push(to_i64(end)?);
                }
            }
            out.offsets.push(out.ids.len());
        }
        Ok(out)
    }
}

fn to_i64(offset: usize) -> Result<i64, KernelError> {
    i64::try_from(offset)
        .map_err(|_| KernelError::unsupported(format!("char offset {offset} exceeds i64")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A word-level tokenizer in `tokenizers`' JSON format, with a BOS template.
    fn json(extra: &str) -> String {
        format!(
            r#"{{"version":"1.0","truncation":null,"padding":null,
            "added_tokens":[{{"id":0,"content":"<s>","single_word":false,"lstrip":false,
              "rstrip":false,"normalized":false,"special":true}}],
            "normalizer":null,"pre_tokenizer":{{"type":"Whitespace"}},
            "post_processor":{{"type":"TemplateProcessing",
              "single":[{{"SpecialToken":{{"id":"<s>","type_id":0}}}},{{"Sequence":{{"id":"A","type_id":0}}}}],
              "pair":[{{"Sequence":{{"id":"A","type_id":0}}}}],
              "special_tokens":{{"<s>":{{"id":"<s>","ids":[0],"tokens":["<s>"]}}}}}},
            "decoder":null,
            "model":{{"type":"WordLevel","vocab":{{"<s>":0,"<unk>":1,"a":2,"b":3{extra}}},"unk_token":"<unk>"}}}}"#
        )
    }

    #[test]
    fn pinned_version_matches_cargo_toml() {
        let manifest = include_str!("../Cargo.toml");
        let pin = format!("tokenizers = {{ version = \"={TOKENIZERS_VERSION}\"");
        assert!(manifest.contains(&pin), "Cargo.toml must pin {pin}");
    }

    #[test]
    fn encodes_in_order_with_special_tokens() {
        let enc = Encoder::from_json(&json(""), false).unwrap();
        let texts: Vec<String> = ["a b", "", "b c a"].iter().map(|s| s.to_string()).collect();
        let out = enc.encode(&texts, true, false).unwrap();
        assert_eq!(out.offsets, vec![0, 3, 4, 8]);
        assert_eq!(out.ids, vec![0, 2, 3, 0, 0, 3, 1, 2]);
        assert_eq!(out.mask, vec![1; 8]);
        assert!(out.starts.is_empty() && out.ends.is_empty());
        assert_eq!(out.len_of(1), 1);
        assert_eq!(out.texts(), 3);
    }

    #[test]
    fn char_offsets_count_code_points_without_special_tokens() {
        let enc = Encoder::from_json(&json(r#","é":4"#), false).unwrap();
        // "é" is two bytes: the char offsets of what follows it differ from byte offsets.
        let texts: Vec<String> = ["é a", "b"].iter().map(|s| s.to_string()).collect();
        let out = enc.encode(&texts, false, true).unwrap();
        assert_eq!(out.offsets, vec![0, 2, 3]);
        assert_eq!(out.ids, vec![4, 2, 3]);
        assert_eq!(out.starts, vec![0, 2, 0]);
        assert_eq!(out.ends, vec![1, 3, 1]);
    }

    #[test]
    fn refuses_dropout_padding_and_bad_json() {
        let bpe = |dropout: &str| {
            format!(
                r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
                "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
                "model":{{"type":"BPE","dropout":{dropout},"unk_token":null,
                  "continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,
                  "byte_fallback":false,"ignore_merges":false,
                  "vocab":{{"a":0,"b":1,"ab":2}},"merges":[["a","b"]]}}}}"#
            )
        };
        let plain = Encoder::from_json(&bpe("null"), false).unwrap();
        assert_eq!(
            plain.encode(&["ab".to_string()], true, false).unwrap().ids,
            vec![2]
        );
        assert!(matches!(
            Encoder::from_json(&bpe("0.5"), false),
            Err(KernelError::Unsupported(_))
        ));
        let padded = json("").replace(
            r#""padding":null"#,
            r#""padding":{"strategy":"BatchLongest","direction":"Right","pad_to_multiple_of":null,"pad_id":1,"pad_type_id":0,"pad_token":"<unk>"}"#,
        );
        assert!(matches!(
            Encoder::from_json(&padded, false),
            Err(KernelError::Unsupported(_))
        ));
        assert!(matches!(
            Encoder::from_json("{", false),
            Err(KernelError::Unsupported(_))
        ));
    }
}
