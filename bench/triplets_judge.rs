//! Triplet sampling and simulated judging against a straightforward NumPy implementation
//! (`bench/triplets_numpy.py`, run as a subprocess on the same data):
//! - sample: `triplets::sample_pairs(2180, 3)`, every pair with 3 distinct third items, positions
//!   shuffled (7,125,330 triplets) vs `np.triu_indices` + vectorised distinct draws + argsort
//!   shuffle;
//! - judge: `judge::from_features(cosine, max_pair)` on the 2180×34 category ratings vs
//!   row-normalise, `Xn @ Xn.T`, fancy-index gather, argmax, reorder.
//!
//! emoscope is timed on rayon's global pool and on a 1-thread pool; NumPy runs single-threaded
//! (`OPENBLAS_NUM_THREADS=1`). NumPy judges emoscope's own sample, checks its invariants and
//! reports the fraction of rows on which the two judgements agree.
//! Reports ratios (NumPy time / emoscope time): timings drift on shared machines, ratios hold.
//! Python: `$PYTHON`, else `python3`, else `~/.cache/emoscope/torch-venv/bin/python`, the first
//! that imports numpy; without one only the emoscope timings are printed.
//! Run: `cargo bench -p emoscope --bench triplets_judge`
use emoscope_judge::{from_features, Metric, Rule};
use emoscope_sdk::io::ratings::{data_dir, read_ratings, read_stimulus_list};
use emoscope_sdk::io::{npy::write_npy, triplets};
use emoscope_sdk::{Ctx, Tensor};
use emoscope_triplets::sample_pairs;
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const N: usize = 2180;
const PER_PAIR: usize = 3;
const SEED: u64 = 1;
const REPS: usize = 3;

fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The study's 2180×34 category ratings, or a deterministic pseudo-random stand-in.
fn features() -> (Array2<f64>, String) {
    let dir = data_dir();
    let path = dir.join("cowen_keltner_2017_ratings.csv");
    let list = dir.join("stimuli_2180.txt");
    if path.exists() && list.exists() {
        let list = read_stimulus_list(&list).expect("stimulus list");
        let r = read_ratings(&path, Some(&list)).expect("ratings");
        return (r.categories, format!("real ratings, {}", path.display()));
    }
    let mut s = 7u64;
    let x = Array2::from_shape_fn((N, 34), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    });
    let why = format!(
        "pseudo-random 2180x34 in [0, 1): real ratings not found at {} (set EMOSCOPE_DATA)",
        dir.display()
    );
    (x, why)
}

/// The first of `$PYTHON`, `python3`, the torch venv's python that imports numpy.
fn python() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("PYTHON") {
        candidates.push(p.into());
    }
    candidates.push("python3".into());
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/emoscope/torch-venv/bin/python"));
    }
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

fn secs(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

fn main() {
    let ctx = Ctx::detached();
    let (x, source) = features();
    assert_eq!(x.dim(), (N, 34), "expected the 2180x34 category matrix");
    let threads = rayon::current_num_threads();
    println!(
        "machine: {threads} threads (rayon), {} cores; data: {source}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("1-thread pool");

    let sample = || sample_pairs(N, PER_PAIR, SEED, true, &ctx).expect("sample_pairs");
    let rows = sample();
    let judged =
        from_features(x.view(), &rows, Metric::Cosine, Rule::MaxPair, &ctx).expect("from_features");
    let judge = || from_features(x.view(), &rows, Metric::Cosine, Rule::MaxPair, &ctx).unwrap();

    let s_par = best_of(REPS, sample);
    let s_one = one.install(|| best_of(REPS, sample));
    let j_par = best_of(REPS, judge);
    let j_one = one.install(|| best_of(REPS, judge));
    println!(
        "emoscope: {} triplets (n = {N}, per_pair = {PER_PAIR}), best of {REPS}",
        rows.len()
    );

    let tmp = tempfile::tempdir().expect("temp dir");
    let (xp, tp, jp) = (
        tmp.path().join("x.npy"),
        tmp.path().join("triplets.npy"),
        tmp.path().join("judged.npy"),
    );
    write_npy(&Tensor::from_array(x.clone()), &xp).expect("write x.npy");
    triplets::write(&rows, &tp, triplets::Format::Npy).expect("write triplets.npy");
    triplets::write(&judged, &jp, triplets::Format::Npy).expect("write judged.npy");
    drop((rows, judged));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/triplets_numpy.py");
    let peer = python().and_then(|py| {
        let o = Command::new(&py)
            .arg(&script)
            .arg(&xp)
            .args([
                "--per-pair",
                &PER_PAIR.to_string(),
                "--reps",
                &REPS.to_string(),
            ])
            .arg("--triplets")
            .arg(&tp)
            .arg("--judged")
            .arg(&jp)
            .env("OPENBLAS_NUM_THREADS", "1")
            .env("OMP_NUM_THREADS", "1")
            .env("MKL_NUM_THREADS", "1")
            .output()
            .expect("run python");
        if !o.status.success() {
            println!(
                "NumPy peer failed ({}):\n{}",
                py.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        let line = String::from_utf8_lossy(&o.stdout);
        let v: serde_json::Value =
            serde_json::from_str(line.lines().last().unwrap_or("")).expect("peer JSON");
        Some((py, v))
    });

    let Some((py, v)) = peer else {
        println!("NumPy peer: no python with numpy ($PYTHON, python3, ~/.cache/emoscope/torch-venv/bin/python); emoscope only");
        println!(
            "sample: emoscope {threads} threads {:.3} s, 1 thread {:.3} s",
            s_par, s_one
        );
        println!(
            "judge:  emoscope {threads} threads {:.3} s, 1 thread {:.3} s",
            j_par, j_one
        );
        return;
    };
    println!(
        "numpy {} ({} BLAS, OPENBLAS_NUM_THREADS=1) via {}",
        v["numpy"].as_str().unwrap_or("?"),
        v["blas"].as_str().unwrap_or("?"),
        py.display()
    );
    let (s_np, j_np) = (secs(&v, "sample"), secs(&v, "judge"));
    println!(
        "sample: emoscope {threads} threads {:.3} s, 1 thread {:.3} s; numpy {:.3} s ({} triplets); ratio {:.1}x ({threads} threads), {:.1}x (1 thread)",
        s_par, s_one, s_np, v["count"], s_np / s_par, s_np / s_one
    );
    println!(
        "judge:  emoscope {threads} threads {:.3} s, 1 thread {:.3} s; numpy {:.3} s; ratio {:.1}x ({threads} threads), {:.1}x (1 thread)",
        j_par, j_one, j_np, j_np / j_par, j_np / j_one
    );
    let fails = |k: &str| {
        v[k].as_array()
            .map(|a| {
                if a.is_empty() {
                    "ok".to_string()
                } else {
                    format!("FAILED {a:?}")
                }
            })
            .unwrap_or_else(|| "not checked".into())
    };
    println!(
        "checks: emoscope sample invariants {}, numpy sample invariants {}",
        fails("rust_sample_failures"),
        fails("own_sample_failures")
    );
    match v["agreement"].as_f64() {
        Some(a) => println!(
            "agreement on emoscope's sample: {:.6}% of rows ({} of {} differ, largest top-two similarity gap among them {}); judged rows are reorderings: {}",
            a * 100.0,
            v["disagreements"],
            v["judged_rows"],
            v["max_gap_at_disagreement"],
            v["rust_judged_is_reordering"]
        ),
        None => println!("agreement: not computed ({})", v["agreement_error"]),
    }
}
