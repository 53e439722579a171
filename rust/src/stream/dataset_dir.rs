//! `datasets` `save_to_disk` directories: a Dataset (state.json names its Arrow stream
//! shards, in order) or a DatasetDict (dataset_dict.json names its splits, one Dataset
//! directory each).

use std::path::{Path, PathBuf};

use super::{Result, StreamError};

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| StreamError::io(path, &e))?;
    serde_json::from_str(&text)
        .map_err(|e| StreamError::data(path, format!("line {}: invalid JSON: {e}", e.line())))
}

/// The shard files of a `save_to_disk` directory, or None if `dir` is not one.
pub fn arrow_files(dir: &Path, split: Option<&str>) -> Result<Option<Vec<PathBuf>>> {
    let dict = dir.join("dataset_dict.json");
    if dict.is_file() {
        let meta = read_json(&dict)?;
        let splits: Vec<String> = meta
            .get("splits")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let want = split.unwrap_or("train");
        if !splits.iter().any(|s| s == want) {
            return Err(StreamError::Usage(format!(
                "{}: DatasetDict has no split {want:?}; its splits are {splits:?} \
                 (pass split=...)",
                dir.display()
            )));
        }
        return dataset_files(&dir.join(want)).map(Some);
    }
    if dir.join("state.json").is_file() {
        return dataset_files(dir).map(Some);
    }
    Ok(None)
}

fn dataset_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let state_path = dir.join("state.json");
    let state = read_json(&state_path)?;
    let files = state
        .get("_data_files")
        .and_then(|f| f.as_array())
        .ok_or_else(|| StreamError::data(&state_path, "no \"_data_files\" list"))?;
    let mut out = Vec::new();
    for f in files {
        let name = f.get("filename").and_then(|n| n.as_str()).ok_or_else(|| {
            StreamError::data(&state_path, "a \"_data_files\" entry has no \"filename\"")
        })?;
        if name.contains("..") || name.starts_with('/') {
            return Err(StreamError::data(
                &state_path,
                format!("shard name {name:?} leaves the directory"),
            ));
        }
        out.push(dir.join(name));
    }
    Ok(out)
}
