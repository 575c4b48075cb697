//! Louvain, modularity and PageRank against hand-made graphs and a dense solve; the step on
//! grouped components.
use super::*;
use crate::graph::{louvain, modularity, pagerank, WGraph};

/// Two 5-cliques {0..4}, {5..9} with unit weights, joined by the edge 4–5.
fn two_cliques() -> WGraph {
    let mut e = Vec::new();
    for base in [0, 5] {
        for i in 0..5 {
            for j in i + 1..5 {
                e.push((base + i, base + j, 1.0));
            }
        }
    }
    e.push((4, 5, 1.0));
    WGraph::from_edges(10, &e)
}

#[test]
fn louvain_finds_two_cliques_and_modularity_is_newmans() {
    let g = two_cliques();
    // m = 21; each clique: 10 edges inside, degree sum 21: Q = 2 (10/21 − (21/42)²).
    let halves = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
    let q = modularity(&g, &halves, 1.0);
    assert!((q - (20.0 / 21.0 - 0.5)).abs() < 1e-15, "{q}");
    // Everything in one community: 21/21 − 1 = 0; singletons: −Σ (d/42)².
    assert!(modularity(&g, &[0; 10], 1.0).abs() < 1e-15);
    let single: Vec<usize> = (0..10).collect();
    let degs = [4.0, 4.0, 4.0, 4.0, 5.0, 5.0, 4.0, 4.0, 4.0, 4.0];
    let want: f64 = -degs.iter().map(|d: &f64| (d / 42.0).powi(2)).sum::<f64>();
    assert!((modularity(&g, &single, 1.0) - want).abs() < 1e-15);
    // Resolution 2 doubles the penalty: 20/21 − 2 · 0.5.
    assert!((modularity(&g, &halves, 2.0) - (20.0 / 21.0 - 1.0)).abs() < 1e-15);
    for seed in 0..10 {
        let c = louvain(&g, 1.0, 1e-7, seed);
        let (a, b) = (c[0], c[5]);
        assert_ne!(a, b, "seed {seed}: {c:?}");
        assert!(
            c[..5].iter().all(|&v| v == a) && c[5..].iter().all(|&v| v == b),
            "seed {seed}: {c:?}"
        );
        assert_eq!(c[0], 0, "numbered by first appearance");
    }
    // A weighted ring of 4 triangles: Louvain finds the triangles (the best partition).
    let mut e = Vec::new();
    for t in 0..4 {
        let b = 3 * t;
        e.extend([(b, b + 1, 2.0), (b + 1, b + 2, 2.0), (b, b + 2, 2.0)]);
        e.push((b + 2, (b + 3) % 12, 0.5));
    }
    let ring = WGraph::from_edges(12, &e);
    for seed in 0..5 {
        let c = louvain(&ring, 1.0, 1e-7, seed);
        assert_eq!(c, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], "seed {seed}");
    }
}

/// Solve A x = b by Gaussian elimination with partial pivoting.
fn solve(mut a: Array2<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[[i, c]].abs().total_cmp(&a[[j, c]].abs()))
            .unwrap();
        for k in 0..n {
            a.swap([c, k], [p, k]);
        }
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[[r, c]] / a[[c, c]];
            for k in c..n {
                a[[r, k]] -= f * a[[c, k]];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[[r, k]] * x[k]).sum();
        x[r] = (b[r] - s) / a[[r, r]];
    }
    x
}

#[test]
fn pagerank_matches_a_dense_linear_solve() {
    // Weighted graph with a dangling node (5: no edges).
    let edges = [
        (0, 1, 0.9),
        (0, 2, 0.3),
        (1, 2, 0.5),
        (2, 3, 0.7),
        (3, 4, 0.25),
        (1, 4, 0.4),
    ];
    let g = WGraph::from_edges(6, &edges);
    let n = 6;
    let alpha = 0.85;
    // Row-stochastic transition matrix; a dangling row jumps uniformly.
    let mut w = Array2::<f64>::zeros((n, n));
    for &(u, v, x) in &edges {
        w[[u, v]] += x;
        w[[v, u]] += x;
    }
    for u in 0..n {
        let s: f64 = w.row(u).sum();
        if s == 0.0 {
            w.row_mut(u).fill(1.0 / n as f64);
        } else {
            w.row_mut(u).mapv_inplace(|v| v / s);
        }
    }
    // x = α Wᵀ x + (1 − α)/n  ⇔  (I − α Wᵀ) x = (1 − α)/n.
    let a = Array2::<f64>::eye(n) - w.t().mapv(|v| alpha * v);
    let want = solve(a, vec![(1.0 - alpha) / n as f64; n]);
    let tight = pagerank(&g, alpha, 1e-15, 10_000).unwrap();
    let default = pagerank(&g, alpha, 1e-6, 100).unwrap();
    for i in 0..n {
        assert!(
            (tight[i] - want[i]).abs() < 1e-12,
            "{i}: {} vs {}",
            tight[i],
            want[i]
        );
        assert!((default[i] - want[i]).abs() < 1e-5, "{i}");
    }
    assert!((tight.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!((default.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Symmetric graph, no weights differing: a regular graph gives the uniform vector.
    let ring = WGraph::from_edges(4, &[(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (3, 0, 1.0)]);
    for v in pagerank(&ring, alpha, 1e-6, 100).unwrap() {
        assert!((v - 0.25).abs() < 1e-15);
    }
    // Not converging in max_iter is an error.
    let e = pagerank(&g, alpha, 1e-300, 3).unwrap_err();
    assert!(e.to_string().contains("did not converge"), "{e}");
}

/// Columns 0-2 track latent a, 3-5 latent b, 6 is independent noise.
fn grouped_components(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::seed_from_u64(seed);
    let lat: Vec<(f64, f64)> = (0..n)
        .map(|_| (gaussian(&mut rng), gaussian(&mut rng)))
        .collect();
    Array2::from_shape_fn((n, 7), |(i, j)| {
        let e = 0.4 * gaussian(&mut rng);
        match j {
            0..=2 => lat[i].0 + e,
            3..=5 => lat[i].1 + e,
            _ => gaussian(&mut rng),
        }
    })
}

#[test]
fn graph_groups_correlated_components_and_removes_isolated_ones() {
    let mut x = grouped_components(300, 21);
    // Component 4 anti-correlates with its group: one of it with |r| weights, alone by default.
    x.column_mut(4).mapv_inplace(|v| -v);
    let names: Vec<Value> = ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .map(|s| Value::from(*s))
        .collect();
    let out = call(
        "graph",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"threshold" => 0.5, "seed" => 3i64, "names" => names.clone(), "communities" => "abs"},
    )
    .unwrap();
    let positive = call(
        "graph",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"threshold" => 0.5, "seed" => 3i64, "names" => names},
    )
    .unwrap();
    assert_eq!(
        i64s(positive.get("communities").unwrap()),
        vec![0, 0, 0, 1, 2, 1]
    );
    assert_eq!(
        i64s(out.get("nodes").unwrap()),
        i64s(positive.get("nodes").unwrap())
    );
    assert_eq!(
        f64s(out.get("pagerank").unwrap()),
        f64s(positive.get("pagerank").unwrap())
    );
    assert_eq!(i64s(out.get("nodes").unwrap()), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(
        strings(out.get("names").unwrap()),
        vec!["a", "b", "c", "d", "e", "f"]
    );
    assert_eq!(out.get("isolated").unwrap().as_i64(), Some(1));
    assert_eq!(i64s(out.get("isolated_nodes").unwrap()), vec![6]);
    assert_eq!(
        i64s(out.get("communities").unwrap()),
        vec![0, 0, 0, 1, 1, 1]
    );
    assert_eq!(out.get("n_communities").unwrap().as_i64(), Some(2));
    let r = mat(&out, "r");
    assert_eq!(r.dim(), (7, 7));
    let edges = out.get("edges").unwrap();
    let (s, t, w) = (
        i64s(edges.get("source").unwrap()),
        i64s(edges.get("target").unwrap()),
        f64s(edges.get("weight").unwrap()),
    );
    // Exactly the pairs within a group: 3 + 3 edges, source < target, weight = signed r.
    assert_eq!(s, vec![0, 0, 1, 3, 3, 4]);
    assert_eq!(t, vec![1, 2, 2, 4, 5, 5]);
    for k in 0..6 {
        let (i, j) = (s[k] as usize, t[k] as usize);
        let want = emoscope_sdk::stats::pearson(&x.column(i).to_vec(), &x.column(j).to_vec());
        assert!((w[k] - want).abs() < 1e-12 && (r[[i, j]] - want).abs() < 1e-12);
    }
    assert!(w[3] < 0.0 && w[4] > 0.0 && w[5] < 0.0, "{w:?}");
    // Modularity from the |r|-weighted graph, by hand: two disjoint triangles.
    let (g1, g2): (f64, f64) = (
        w[..3].iter().map(|v| v.abs()).sum(),
        w[3..].iter().map(|v| v.abs()).sum(),
    );
    let m = g1 + g2;
    let want = g1 / m - (g1 / m).powi(2) + g2 / m - (g2 / m).powi(2);
    let q = out.get("modularity").unwrap().as_f64().unwrap();
    assert!((q - want).abs() < 1e-12, "{q} vs {want}");
    let pr = f64s(out.get("pagerank").unwrap());
    assert_eq!(pr.len(), 6);
    assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Default names are "1".."d"; a threshold above every |r| leaves no nodes.
    let out = call(
        "graph",
        vec![Tensor::from_array(x.clone()).into()],
        vmap! {"threshold" => 0.5},
    )
    .unwrap();
    assert_eq!(
        strings(out.get("names").unwrap()),
        vec!["1", "2", "3", "4", "5", "6"]
    );
    let out = call(
        "graph",
        vec![Tensor::from_array(x).into()],
        vmap! {"threshold" => 0.99},
    )
    .unwrap();
    assert_eq!(out.get("isolated").unwrap().as_i64(), Some(7));
    assert!(i64s(out.get("nodes").unwrap()).is_empty());
    assert_eq!(out.get("n_communities").unwrap().as_i64(), Some(0));
    assert!(out.get("modularity").unwrap().as_f64().unwrap().is_nan());
}
