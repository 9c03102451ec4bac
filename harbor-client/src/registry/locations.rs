//! Where blobs are known to be: a per-client memory (optionally persisted in a cache
//! directory) of the repositories that hold each blob, so that a copy into a registry that
//! already has a blob elsewhere mounts it instead of uploading it, as skopeo's blob-info
//! cache does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::Digest;
use crate::error::{Error, Result};

/// Repositories remembered per blob (the most recent first).
const PER_BLOB: usize = 4;
/// Blobs remembered per client; the oldest are forgotten first.
const MAX_BLOBS: usize = 100_000;
/// The file in the cache directory.
const FILE: &str = "blob-locations.json";

/// The memory itself: `(registry, digest)` → repository names, most recent first.
#[derive(Debug, Default)]
pub(crate) struct BlobLocations {
    inner: Mutex<Memory>,
    file: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Memory {
    map: HashMap<(String, Digest), VecDeque<String>>,
    order: VecDeque<(String, Digest)>,
    dirty: bool,
}

/// The persisted form: registry → digest → repositories.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored(BTreeMap<String, BTreeMap<String, Vec<String>>>);

impl Memory {
    fn record(&mut self, registry: &str, digest: &Digest, repo: &str) {
        let key = (registry.to_ascii_lowercase(), digest.clone());
        let list = match self.map.get_mut(&key) {
            Some(l) => l,
            None => {
                if self.order.len() >= MAX_BLOBS
                    && let Some(old) = self.order.pop_front()
                {
                    self.map.remove(&old);
                }
                self.order.push_back(key.clone());
                self.map.entry(key).or_default()
            }
        };
        if list.front().map(String::as_str) == Some(repo) {
            return;
        }
        list.retain(|r| r != repo);
        list.push_front(repo.to_owned());
        list.truncate(PER_BLOB);
        self.dirty = true;
    }
}

impl BlobLocations {
    /// A memory kept in `dir/blob-locations.json` (read now when it exists; a broken file is
    /// ignored and replaced), or in memory only.
    pub(crate) fn new(dir: Option<&Path>) -> Self {
        let file = dir.map(|d| d.join(FILE));
        let mut memory = Memory::default();
        if let Some(f) = &file
            && let Ok(bytes) = std::fs::read(f)
            && let Ok(Stored(stored)) = serde_json::from_slice::<Stored>(&bytes)
        {
            for (registry, blobs) in stored {
                for (digest, repos) in blobs {
                    let Ok(digest) = digest.parse::<Digest>() else {
                        continue;
                    };
                    for repo in repos.iter().rev() {
                        memory.record(&registry, &digest, repo);
                    }
                }
            }
            memory.dirty = false;
        }
        BlobLocations {
            inner: Mutex::new(memory),
            file,
        }
    }

    /// Remembers that `repo` of `registry` holds `digest`.
    pub(crate) fn record(&self, registry: &str, digest: &Digest, repo: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.record(registry, digest, repo);
        }
    }

    /// Repositories of `registry` known to hold `digest`, most recent first, `except` left out.
    pub(crate) fn candidates(&self, registry: &str, digest: &Digest, except: &str) -> Vec<String> {
        let key = (registry.to_ascii_lowercase(), digest.clone());
        self.inner
            .lock()
            .ok()
            .and_then(|m| m.map.get(&key).cloned())
            .map(|l| l.into_iter().filter(|r| r != except).collect())
            .unwrap_or_default()
    }

    /// Forgets that `repo` holds `digest` (a mount from it was refused).
    pub(crate) fn forget(&self, registry: &str, digest: &Digest, repo: &str) {
        let key = (registry.to_ascii_lowercase(), digest.clone());
        if let Ok(mut m) = self.inner.lock()
            && let Some(l) = m.map.get_mut(&key)
        {
            l.retain(|r| r != repo);
            m.dirty = true;
        }
    }

    /// Writes the memory to its file when it changed (atomically; no-op without a file).
    pub(crate) async fn save(&self) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let stored = {
            let Ok(mut m) = self.inner.lock() else {
                return Ok(());
            };
            if !m.dirty {
                return Ok(());
            }
            m.dirty = false;
            let mut stored = Stored::default();
            for ((registry, digest), repos) in &m.map {
                if !repos.is_empty() {
                    stored
                        .0
                        .entry(registry.clone())
                        .or_default()
                        .insert(digest.to_string(), repos.iter().cloned().collect());
                }
            }
            stored
        };
        let bytes = serde_json::to_vec(&stored)
            .map_err(|e| Error::invalid("blob locations", "", e.to_string()))?;
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(dir, e))?;
        }
        super::layout::write_atomic(file, &bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_most_recent_first_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let d = Digest::sha256_of(b"layer");
        let mem = BlobLocations::new(Some(dir.path()));
        for r in ["a", "b", "c", "d", "e", "b"] {
            mem.record("Reg.example", &d, r);
        }
        assert_eq!(mem.candidates("reg.example", &d, "x"), ["b", "e", "d", "c"]);
        assert_eq!(mem.candidates("reg.example", &d, "e"), ["b", "d", "c"]);
        assert!(mem.candidates("other.example", &d, "x").is_empty());
        mem.forget("reg.example", &d, "d");
        mem.save().await.unwrap();
        let again = BlobLocations::new(Some(dir.path()));
        assert_eq!(again.candidates("reg.example", &d, "x"), ["b", "e", "c"]);
        // A broken file is ignored.
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert!(
            BlobLocations::new(Some(dir.path()))
                .candidates("reg.example", &d, "x")
                .is_empty()
        );
    }
}
