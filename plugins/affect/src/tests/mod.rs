//! Checks against constructed cases and independent computations, one file per concern; this
//! module holds the data makers and readers they share.
use emoscope_sdk::io::ratings::Ratings;
use emoscope_sdk::{vmap, Ctx, Map, Plugin, Tensor, Value};
use ndarray::{Array2, ArrayView2, Axis};
use rand::{RngExt, SeedableRng};

type Rng = emoscope_sdk::ctx::Rng;

mod centroid;
mod compare;
mod errors;
mod graph;
mod label;
mod profile;
mod real_data;
mod spec;
mod tsne;

fn gaussian(rng: &mut Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random::<f64>());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn random_ratings(n: usize, seed: u64) -> Ratings {
    let mut rng = Rng::seed_from_u64(seed);
    Ratings {
        stimuli: (0..n).map(|i| format!("{:04}.mp4", i + 1)).collect(),
        categories: Array2::from_shape_fn((n, 34), |_| rng.random::<f64>()),
        dimensions: Array2::from_shape_fn((n, 14), |_| 1.0 + 8.0 * rng.random::<f64>()),
    }
}

fn zscore(v: ndarray::ArrayView1<f64>) -> ndarray::Array1<f64> {
    let m = v.mean().unwrap();
    let s = v.std(0.0);
    v.mapv(|x| (x - m) / s)
}

fn call(f: &str, args: Vec<Value>, opts: Value) -> emoscope_sdk::Result<Value> {
    let opts: Map = opts.as_map().cloned().unwrap_or_default();
    crate::plugin().call(f, &args, &opts, &Ctx::detached())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_list()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_list()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn i64s(v: &Value) -> Vec<i64> {
    v.as_list()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn mat(v: &Value, what: &str) -> Array2<f64> {
    v.get(what)
        .unwrap()
        .to_tensor(what)
        .unwrap()
        .matrix::<f64>(what)
        .unwrap()
        .to_owned()
}

/// `per` points around each of `centres`, N(0, 1) in every dimension.
fn blobs(centres: &[Vec<f64>], per: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = Rng::seed_from_u64(seed);
    let d = centres[0].len();
    let n = centres.len() * per;
    let labels: Vec<usize> = (0..n).map(|i| i / per).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| centres[labels[i]][j] + gaussian(&mut rng));
    (x, labels)
}

fn sq(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}
