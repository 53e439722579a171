//! Labels of Axolotl's `chat_template` strategy from one render and one encode.
//!
//! Axolotl (0.19, `ChatTemplateStrategy._tokenize_single_prompt`) locates each trained turn
//! by rendering the conversation again with the turn's content replaced by each of two
//! placeholders, taking the char span where the texts differ (`_diff_char_span`), and
//! bisecting the token offsets of the real render. For templates whose render changes only
//! in the content's own span when the content changes, the placeholder render is the real
//! text with `[p, q)` replaced, so the diff is computed here against that virtual text,
//! char by char with Axolotl's exact prefix/suffix bounds, without rendering anything.
//! Bisections follow Python's `bisect` step for step (identical results even on offsets
//! that are not sorted), and the EOT/EOS search keeps Axolotl's `range(-1, n)` quirk.

use crate::error::KernelError;

/// `train_on_eos` / `train_on_eot`: the values Axolotl compares against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Train {
    All,
    Turn,
    Last,
    /// `"none"`, `None`, `False`: never compared equal to anything that trains.
    Never,
}

impl Train {
    pub fn from_code(code: u8) -> Result<Self, KernelError> {
        match code {
            0 => Ok(Train::All),
            1 => Ok(Train::Turn),
            2 => Ok(Train::Last),
            3 => Ok(Train::Never),
            other => Err(KernelError::invalid(format!(
                "train option code: expected 0 (all), 1 (turn), 2 (last) or 3 (never), got {other}"
            ))),
        }
    }
}

/// One turn of a conversation as the caller modelled its render.
#[derive(Clone, Copy, Debug)]
pub struct Turn {
    /// Char span `[start, end)` of the content in the rendered text (code points).
    pub start: usize,
    pub end: usize,
    pub should_train: bool,
    /// Axolotl's "mistral" name quirk: the first system turn is never located.
    pub unlocatable: bool,
}

/// The warnings Axolotl logs while labelling, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    LastTurnUntrained,
    EndBeforeStart(usize),
    EmptySpan(usize),
}

pub struct Options<'a> {
    pub sentinels: &'a [Vec<char>],
    pub eos_ids: &'a [i64],
    pub eot_ids: &'a [i64],
    pub train_on_eos: Train,
    pub train_on_eot: Train,
    pub ignore: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Row {
    Labels(Vec<i64>, Vec<Warning>),
    /// Axolotl would leave the char-span path here (token-diff fallback or its own
    /// IndexError): the caller runs Axolotl's code for this row.
    Fallback,
}

/// `ChatTemplateStrategy._diff_char_span(full, dummy)` where `dummy` is `full` with
/// `[p, q)` replaced by `sentinel`.
pub fn diff_span(full: &[char], p: usize, q: usize, sentinel: &[char]) -> (usize, usize) {
    let len_f = full.len();
    let len_d = len_f - (q - p) + sentinel.len();
    let dummy = |i: usize| -> char {
        if i < p {
            full[i]
        } else if i < p + sentinel.len() {
            sentinel[i - p]
        } else {
            full[q + (i - p - sentinel.len())]
        }
    };
    let limit = len_f.min(len_d);
    // The first p chars are the same text on both sides.
    let mut start = p.min(limit);
    while start < limit && full[start] == dummy(start) {
        start += 1;
    }
    let bound = limit - start;
    // So are the last len_f - q.
    let mut suffix = (len_f - q).min(bound);
    while suffix < bound && full[len_f - 1 - suffix] == dummy(len_d - 1 - suffix) {
        suffix += 1;
    }
    (start, len_f - suffix)
}

/// Python's `bisect.bisect_right`, same probes.
pub fn bisect_right(a: &[i64], x: i64) -> usize {
    let (mut lo, mut hi) = (0usize, a.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < a[mid] {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Python's `bisect.bisect_left`, same probes.
pub fn bisect_left(a: &[i64], x: i64) -> usize {
    let (mut lo, mut hi) = (0usize, a.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if a[mid] < x {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `for i in range(start, len(ids)): if ids[i] in wanted: return i` / `return -1`.
/// `start` is -1 for an unlocated turn: index -1 is the last token. `None` where Python
/// raises IndexError (no tokens at all).
fn find_from(ids: &[i64], start: i64, wanted: &[i64]) -> Option<i64> {
    let n = ids.len() as i64;
    let mut i = start;
    while i < n {
        let idx = if i < 0 { n + i } else { i };
        if idx < 0 {
            return None;
        }
        if wanted.contains(&ids[idx as usize]) {
            return Some(i);
        }
        i += 1;
    }
    Some(-1)
}

/// Labels of one conversation: `_tokenize_single_prompt`'s loop over `turns`.
pub fn row_labels(
    text: &[char],
    turns: &[Turn],
    ids: &[i64],
    starts: &[i64],
    ends: &[i64],
    opt: &Options<'_>,
) -> Result<Row, KernelError> {
    let n = ids.len();
    if starts.len() != n || ends.len() != n {
        return Err(KernelError::invalid(format!(
            "offsets: expected {n} token offsets (one per input id), got {} starts and {} ends",
            starts.len(),
            ends.len()
        )));
    }
    let mut labels = vec![opt.ignore; n];
    let mut warnings = Vec::new();
    let (mut last_eos, mut last_eot) = (-1i64, -1i64);
    for (index, turn) in turns.iter().enumerate() {
        if turn.start > turn.end || turn.end > text.len() {
            return Err(KernelError::invalid(format!(
                "turn {index}: content span [{}, {}) outside the rendered text of {} chars",
                turn.start,
                turn.end,
                text.len()
            )));
        }
        if !turn.should_train && opt.train_on_eos != Train::All && opt.train_on_eot != Train::All {
            if index == turns.len() - 1 {
                warnings.push(Warning::LastTurnUntrained);
            }
            continue;
        }
        let (mut start_idx, mut end_idx) = (-1i64, -1i64);
        if !turn.unlocatable {
            let mut char_start = usize::MAX;
            let mut char_end = 0usize;
            for sentinel in opt.sentinels {
                let (s, e) = diff_span(text, turn.start, turn.end, sentinel);
                char_start = char_start.min(s);
                char_end = char_end.max(e);
            }
            if char_end > char_start {
                let s = bisect_right(ends, char_start as i64);
                let e = bisect_left(starts, char_end as i64);
                if s >= n || e > n {
                    return Ok(Row::Fallback);
                }
                if e < s {
                    warnings.push(Warning::EndBeforeStart(index));
                } else if e == s {
                    warnings.push(Warning::EmptySpan(index));
                } else {
                    start_idx = s as i64;
                    end_idx = e as i64;
                }
            }
        }
        if turn.should_train && start_idx != -1 && end_idx != -1 {
            let (s, e) = (start_idx as usize, end_idx as usize);
            labels[s..e].copy_from_slice(&ids[s..e]);
        }
        for (is_eot, wanted, option) in [
            (true, opt.eot_ids, opt.train_on_eot),
            (false, opt.eos_ids, opt.train_on_eos),
        ] {
            let Some(token_idx) = find_from(ids, end_idx, wanted) else {
                return Ok(Row::Fallback);
            };
            if token_idx != -1 && (token_idx - end_idx).abs() <= 3 {
                if is_eot {
                    last_eot = token_idx;
                } else {
                    last_eos = token_idx;
                }
                if option == Train::All || (option == Train::Turn && turn.should_train) {
                    labels[token_idx as usize] = ids[token_idx as usize];
                }
            }
        }
    }
    for (last, option) in [(last_eot, opt.train_on_eot), (last_eos, opt.train_on_eos)] {
        if option == Train::Last && last != -1 {
            labels[last as usize] = ids[last as usize];
        }
    }
    Ok(Row::Labels(labels, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// Axolotl's `_diff_char_span` on real strings, transcribed for the test only.
    fn reference(full: &str, dummy: &str) -> (usize, usize) {
        let f = chars(full);
        let d = chars(dummy);
        let limit = f.len().min(d.len());
        let mut start = 0;
        while start < limit && f[start] == d[start] {
            start += 1;
        }
        let mut suffix = 0;
        while suffix < limit - start && f[f.len() - 1 - suffix] == d[d.len() - 1 - suffix] {
            suffix += 1;
        }
        (start, f.len() - suffix)
    }

    #[test]
    fn virtual_diff_equals_diff_of_the_built_placeholder_text() {
        let cases = [
            ("<a>user\nhello<e>\n", 8, 13),
            ("<a>user\n<e>\n", 8, 8),
            ("<a>user\n[x]<e>\n", 8, 11),
            ("<a>user\nzz<e>\nzz", 8, 10),
            ("日本語テキスト", 2, 5),
            ("aaaa", 1, 3),
        ];
        for sentinel in ["[[dummy_message]]", "zzdummymessagezz", ""] {
            for (text, p, q) in cases {
                let full = chars(text);
                let dummy: String = full[..p]
                    .iter()
                    .chain(sentinel.chars().collect::<Vec<_>>().iter())
                    .chain(full[q..].iter())
                    .collect();
                assert_eq!(
                    diff_span(&full, p, q, &chars(sentinel)),
                    reference(text, &dummy),
                    "{text:?} [{p},{q}) {sentinel:?}"
                );
            }
        }
    }

    #[test]
    fn bisections_probe_like_python_on_unsorted_offsets() {
        let a = [0, 5, 3, 3, 9, 1];
        // values computed with Python's bisect on the same list
        assert_eq!(bisect_right(&a, 3), 6);
        assert_eq!(bisect_left(&a, 3), 1);
        assert_eq!(bisect_right(&[], 3), 0);
        assert_eq!(bisect_left(&[1, 2, 3], 4), 3);
    }

    #[test]
    fn unlocated_turn_search_looks_at_the_last_token_first() {
        assert_eq!(find_from(&[7, 1, 7], -1, &[7]), Some(-1));
        assert_eq!(find_from(&[1, 7, 2], -1, &[7]), Some(1));
        assert_eq!(find_from(&[], -1, &[7]), None);
        assert_eq!(find_from(&[1, 2], 0, &[]), Some(-1));
    }

    #[test]
    fn trained_turn_and_its_eos_are_labelled_untrained_last_turn_warns() {
        // text: "U:hi|A:yo|" ; tokens: "U:" "hi" "|" "A:" "yo" "|"
        let text = chars("U:hi|A:yo|");
        let ids = [10, 11, 99, 12, 13, 99];
        let starts = [0, 2, 4, 5, 7, 9];
        let ends = [2, 4, 5, 7, 9, 10];
        let sentinels = [chars("[[dummy_message]]"), chars("zzdummymessagezz")];
        let opt = Options {
            sentinels: &sentinels,
            eos_ids: &[99],
            eot_ids: &[99],
            train_on_eos: Train::Turn,
            train_on_eot: Train::Turn,
            ignore: -100,
        };
        let turns = [
            Turn {
                start: 7,
                end: 9,
                should_train: true,
                unlocatable: false,
            },
            Turn {
                start: 2,
                end: 4,
                should_train: false,
                unlocatable: false,
            },
        ];
        let row = row_labels(&text, &turns, &ids, &starts, &ends, &opt).unwrap();
        assert_eq!(
            row,
            Row::Labels(
                vec![-100, -100, -100, -100, 13, 99],
                vec![Warning::LastTurnUntrained]
            )
        );
    }

    #[test]
    fn empty_token_span_warns_and_leaves_labels_ignored() {
        let text = chars("A: |");
        let ids = [1, 2];
        let starts = [0, 3];
        let ends = [2, 4];
        let sentinels = [chars("[[dummy_message]]"), chars("zzdummymessagezz")];
        let opt = Options {
            sentinels: &sentinels,
            eos_ids: &[],
            eot_ids: &[],
            train_on_eos: Train::Never,
            train_on_eot: Train::Never,
            ignore: -100,
        };
        let turns = [Turn {
            start: 2,
            end: 3,
            should_train: true,
            unlocatable: false,
        }];
        let row = row_labels(&text, &turns, &ids, &starts, &ends, &opt).unwrap();
        assert_eq!(
            row,
            Row::Labels(vec![-100, -100], vec![Warning::EmptySpan(0)])
        );
    }

    #[test]
    fn span_outside_the_text_is_an_error_not_a_panic() {
        let sentinels: [Vec<char>; 0] = [];
        let opt = Options {
            sentinels: &sentinels,
            eos_ids: &[],
            eot_ids: &[],
            train_on_eos: Train::Never,
            train_on_eot: Train::Never,
            ignore: -100,
        };
        let turns = [Turn {
            start: 2,
            end: 9,
            should_train: true,
            unlocatable: false,
        }];
        let err = row_labels(&chars("abc"), &turns, &[], &[], &[], &opt).unwrap_err();
        assert!(matches!(err, KernelError::Invalid(m) if m.contains("outside the rendered text")));
    }
}
