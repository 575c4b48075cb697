//! Compiling components, and the on-disk cache of compiled ones (least recently used evicted).
use super::*;

/// Compile `wasm`, or load it from the on-disk cache. Returns the component and whether the
/// cache answered.
pub fn compile(wasm: &[u8], origin: &Path) -> Result<(Component, bool)> {
    if wasm.len() >= 8 && wasm[..4] == *b"\0asm" && wasm[4..8] == [1, 0, 0, 0] {
        bail!(
            "{}: a core WebAssembly module, not a component (build with --target wasm32-wasip2, or componentise a wasip1 build with wit-component)",
            origin.display()
        );
    }
    let key = cache_key(wasm);
    let cached = manifest::cache_dir().map(|d| d.join(format!("{key}.cwasm")));
    if let Some(p) = &cached {
        if p.is_file() {
            // SAFETY: the file was written by `Component::serialize` into emoscope's own cache
            // (never a file a plugin ships); wasmtime checks its version and settings and
            // refuses a mismatch, in which case we recompile.
            if let Ok(c) = unsafe { Component::deserialize_file(engine(), p) } {
                // The modification time records use, for eviction.
                let _ = std::fs::File::options()
                    .append(true)
                    .open(p)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                return Ok((c, true));
            }
        }
    }
    let c = Component::new(engine(), wasm).map_err(|e| {
        Error::msg(format!(
            "{}: not a valid WASM component: {}",
            origin.display(),
            e.root_cause()
        ))
    })?;
    if let (Some(p), Ok(bytes)) = (&cached, c.serialize()) {
        // A cache that cannot be written only costs the next start a compile.
        let _ = emoscope_sdk::io::atomic_write(p, |w| {
            std::io::Write::write_all(w, &bytes)?;
            Ok(())
        });
        if let Some(dir) = p.parent() {
            evict(dir, CACHE_BYTES);
        }
    }
    Ok((c, false))
}

/// The compiled-component cache is kept under this size (a component compiles to ~1-10 MB).
const CACHE_BYTES: u64 = 1 << 30;

/// Remove the least recently used compiled components until `dir` holds at most `cap` bytes.
fn evict(dir: &Path, cap: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    for (_, len, path) in files {
        if total <= cap {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

fn cache_key(wasm: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine().precompile_compatibility_hash().hash(&mut h);
    let sha = Sha256::digest(wasm);
    let hex: String = sha.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}-wasmtime48-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_keeps_the_most_recently_used_components_under_the_cap() {
        let d = tempfile::tempdir().unwrap();
        let t0 = std::time::SystemTime::now();
        for (i, age) in [(0, 30u64), (1, 10), (2, 20)] {
            let p = d.path().join(format!("c{i}.cwasm"));
            std::fs::write(&p, vec![0u8; 100]).unwrap();
            std::fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t0 - Duration::from_secs(age))
                .unwrap();
        }
        std::fs::write(d.path().join("other.txt"), vec![0u8; 500]).unwrap();
        evict(d.path(), 200);
        let left = |n: &str| d.path().join(n).exists();
        // The oldest (c0) goes; the two used last stay; other files are not the cache's.
        assert!(!left("c0.cwasm") && left("c1.cwasm") && left("c2.cwasm") && left("other.txt"));
        evict(d.path(), 100);
        assert!(left("c1.cwasm") && !left("c2.cwasm"));
    }
}
