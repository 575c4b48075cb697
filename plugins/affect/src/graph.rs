//! The component graph: components (columns of X) joined when their stimulus weights correlate,
//! Louvain communities, modularity and PageRank; the `affect::graph` step.
//!
//! Why hand-written: there is no maintained Rust Louvain crate, and petgraph's `page_rank` is
//! unweighted. Both are short, and writing them after networkx's own code
//! (`networkx.community.louvain_communities`, `networkx.pagerank`) lets the benchmark check them
//! against networkx on the same weighted graph.
use crate::script::{check_names, ensure_finite, floats, ints, positional, strs, x_matrix};
use emoscope_sdk::ctx::Rng;
use emoscope_sdk::step::{self, StepSpec};
use emoscope_sdk::{bail, ensure, vmap, Choice, Ctx, Options, Result, Step, Tensor, Value};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// An undirected weighted graph on nodes 0..n, with self-loops (which aggregated Louvain graphs
/// have). Each undirected edge {u, v}, u ≠ v, is stored in both adjacency lists.
#[derive(Clone, Debug)]
pub struct WGraph {
    /// Neighbours other than the node itself, with the edge weight.
    pub nbrs: Vec<Vec<(usize, f64)>>,
    /// Self-loop weight per node (0 without one).
    pub self_loop: Vec<f64>,
}

impl WGraph {
    /// From undirected edges (u, v, w); u == v is a self-loop; repeated edges add up.
    pub fn from_edges(n: usize, edges: &[(usize, usize, f64)]) -> Self {
        let mut g = WGraph {
            nbrs: vec![Vec::new(); n],
            self_loop: vec![0.0; n],
        };
        for &(u, v, w) in edges {
            g.add(u, v, w);
        }
        g
    }

    fn add(&mut self, u: usize, v: usize, w: f64) {
        if u == v {
            self.self_loop[u] += w;
            return;
        }
        match self.nbrs[u].iter().position(|&(x, _)| x == v) {
            Some(i) => {
                self.nbrs[u][i].1 += w;
                let j = self.nbrs[v].iter().position(|&(x, _)| x == u).unwrap();
                self.nbrs[v][j].1 += w;
            }
            None => {
                self.nbrs[u].push((v, w));
                self.nbrs[v].push((u, w));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.nbrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nbrs.is_empty()
    }

    /// Weighted degree; a self-loop counts twice (networkx's convention).
    pub fn degree(&self, u: usize) -> f64 {
        self.nbrs[u].iter().map(|&(_, w)| w).sum::<f64>() + 2.0 * self.self_loop[u]
    }

    /// Total edge weight m (each edge once, self-loops once).
    pub fn size(&self) -> f64 {
        (0..self.len()).map(|u| self.degree(u)).sum::<f64>() / 2.0
    }
}

/// Newman's modularity of a partition (`community[u]` = u's community), as networkx's
/// `modularity(G, communities, weight, resolution)`: Σ_c [L_c / m − γ (d_c / 2m)²], with L_c the
/// weight of the edges inside c (self-loops once) and d_c the summed degrees of c's nodes.
/// NaN for a graph with no edges.
pub fn modularity(g: &WGraph, community: &[usize], resolution: f64) -> f64 {
    let m = g.size();
    if m <= 0.0 {
        return f64::NAN;
    }
    let nc = community.iter().copied().max().map_or(0, |c| c + 1);
    let mut inside = vec![0.0; nc];
    let mut deg = vec![0.0; nc];
    for u in 0..g.len() {
        let c = community[u];
        deg[c] += g.degree(u);
        inside[c] += g.self_loop[u];
        for &(v, w) in &g.nbrs[u] {
            if v > u && community[v] == c {
                inside[c] += w;
            }
        }
    }
    let norm = 1.0 / (4.0 * m * m);
    (0..nc)
        .map(|c| inside[c] / m - resolution * deg[c] * deg[c] * norm)
        .sum()
}

/// Renumber labels 0.. by order of first appearance.
pub fn renumber(labels: &[usize]) -> Vec<usize> {
    let mut map = std::collections::HashMap::new();
    labels
        .iter()
        .map(|&l| {
            let k = map.len();
            *map.entry(l).or_insert(k)
        })
        .collect()
}

/// One level of Louvain local moving, as networkx's `_one_level`: nodes visited in a shuffled
/// order, repeatedly until a full pass moves none; each node goes to the neighbouring community
/// with the largest strictly positive modularity gain (first found on ties). Returns each
/// node's community, compacted in ascending id order (networkx keeps the non-empty communities
/// in id order), and whether any node moved.
fn one_level(g: &WGraph, m: f64, resolution: f64, rng: &mut Rng) -> (Vec<usize>, bool) {
    let n = g.len();
    let mut node2com: Vec<usize> = (0..n).collect();
    let degrees: Vec<f64> = (0..n).map(|u| g.degree(u)).collect();
    let mut stot = degrees.clone();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut improvement = false;
    let two_m2 = 2.0 * m * m;
    // Community → weight from the current node, in order of first appearance among its
    // neighbours (networkx's dict order).
    let mut w2c: Vec<(usize, f64)> = Vec::new();
    loop {
        let mut moves = 0;
        for &u in &order {
            w2c.clear();
            for &(v, w) in &g.nbrs[u] {
                let c = node2com[v];
                match w2c.iter_mut().find(|(k, _)| *k == c) {
                    Some(e) => e.1 += w,
                    None => w2c.push((c, w)),
                }
            }
            let own = node2com[u];
            let degree = degrees[u];
            stot[own] -= degree;
            let w_own = w2c.iter().find(|(k, _)| *k == own).map_or(0.0, |e| e.1);
            let remove_cost = -w_own / m + resolution * (stot[own] * degree) / two_m2;
            let (mut best_mod, mut best_com) = (0.0, own);
            for &(c, wt) in &w2c {
                let gain = remove_cost + wt / m - resolution * (stot[c] * degree) / two_m2;
                if gain > best_mod {
                    best_mod = gain;
                    best_com = c;
                }
            }
            stot[best_com] += degree;
            if best_com != own {
                node2com[u] = best_com;
                improvement = true;
                moves += 1;
            }
        }
        if moves == 0 {
            break;
        }
    }
    // Compact the community ids, keeping their order.
    let mut used = vec![false; n];
    for &c in &node2com {
        used[c] = true;
    }
    let mut new_id = vec![usize::MAX; n];
    let mut k = 0;
    for c in 0..n {
        if used[c] {
            new_id[c] = k;
            k += 1;
        }
    }
    (node2com.iter().map(|&c| new_id[c]).collect(), improvement)
}

/// The graph whose nodes are the communities of `g` (numbered 0..): edge weights summed,
/// edges inside a community become its self-loop (networkx's `_gen_graph`).
fn aggregate(g: &WGraph, community: &[usize]) -> WGraph {
    let nc = community.iter().copied().max().map_or(0, |c| c + 1);
    let mut h = WGraph::from_edges(nc, &[]);
    for u in 0..g.len() {
        if g.self_loop[u] != 0.0 {
            h.add(community[u], community[u], g.self_loop[u]);
        }
        for &(v, w) in &g.nbrs[u] {
            if v > u {
                h.add(community[u], community[v], w);
            }
        }
    }
    h
}

/// Louvain communities, as networkx's `louvain_communities(G, weight, resolution,
/// threshold=1e-7, seed)`: local moving (node order shuffled with ChaCha8 seeded by `seed`, a new
/// shuffle per level from the same stream), then aggregation, level after level, until a level
/// moves no node or raises modularity by no more than `threshold`. Returns each node's
/// community, numbered by order of first appearance over the nodes. A graph without edges gives
/// every node its own community.
pub fn louvain(g: &WGraph, resolution: f64, threshold: f64, seed: u64) -> Vec<usize> {
    let n = g.len();
    let m = g.size();
    if m <= 0.0 {
        return (0..n).collect();
    }
    let mut rng = Rng::seed_from_u64(seed);
    let mut membership: Vec<usize> = (0..n).collect();
    let mut cur_mod = modularity(g, &membership, resolution);
    let mut level = g.clone();
    let mut first = true;
    loop {
        let (inner, improved) = one_level(&level, m, resolution, &mut rng);
        if !first && !improved {
            break;
        }
        first = false;
        for c in membership.iter_mut() {
            *c = inner[*c];
        }
        let new_mod = modularity(&level, &inner, resolution);
        if new_mod - cur_mod <= threshold {
            break;
        }
        cur_mod = new_mod;
        level = aggregate(&level, &inner);
    }
    renumber(&membership)
}

/// Weighted PageRank by power iteration, as networkx's `pagerank(G, alpha, weight, tol,
/// max_iter)` on an undirected graph (each edge both ways): start uniform; each step
/// x ← α (x W + (Σ_dangling x) / n) + (1 − α) / n with W the row-normalised weights (dangling
/// nodes, of degree 0, spread uniformly); stop when Σ|x_new − x| < n · tol. Self-loops are
/// ignored (the component graph has none). An error after `max_iter` steps without converging.
pub fn pagerank(g: &WGraph, damping: f64, tol: f64, max_iter: usize) -> Result<Vec<f64>> {
    let n = g.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let nf = n as f64;
    let out: Vec<f64> = (0..n)
        .map(|u| g.nbrs[u].iter().map(|&(_, w)| w).sum())
        .collect();
    let mut x = vec![1.0 / nf; n];
    for _ in 0..max_iter {
        let dangling: f64 = (0..n).filter(|&u| out[u] == 0.0).map(|u| x[u]).sum();
        let mut next = vec![0.0; n];
        for u in 0..n {
            if out[u] == 0.0 {
                continue;
            }
            let xu = x[u] / out[u];
            for &(v, w) in &g.nbrs[u] {
                next[v] += xu * w;
            }
        }
        for v in next.iter_mut() {
            *v = damping * (*v + dangling / nf) + (1.0 - damping) / nf;
        }
        let err: f64 = next.iter().zip(&x).map(|(a, b)| (a - b).abs()).sum();
        x = next;
        if err < nf * tol {
            return Ok(x);
        }
    }
    bail!("PageRank did not converge in {max_iter} iterations (tolerance {tol} × {n} nodes)")
}

/// The component graph of an embedding and what is computed on it.
#[derive(Clone, Debug)]
pub struct ComponentGraph {
    /// components × components Pearson r over stimuli (diagonal 1; 0 with a constant column).
    pub r: ndarray::Array2<f64>,
    /// Components with at least one edge, ascending.
    pub nodes: Vec<usize>,
    /// Components with none, ascending.
    pub isolated: Vec<usize>,
    /// (source, target, r), component indices, source < target, in (source, target) order.
    pub edges: Vec<(usize, usize, f64)>,
    /// Aligned with `nodes`, numbered by first appearance.
    pub communities: Vec<usize>,
    pub modularity: f64,
    /// Aligned with `nodes`.
    pub pagerank: Vec<f64>,
}

pub const LOUVAIN_THRESHOLD: f64 = 1e-7;
pub const PAGERANK_DAMPING: f64 = 0.85;
pub const PAGERANK_TOL: f64 = 1e-6;
pub const PAGERANK_MAX_ITER: usize = 100;

/// Which edges bind communities: only positive correlations (components that rise together),
/// or every edge by |r|.
#[derive(Choice, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommunityWeights {
    /// the positive edges only (r > threshold): components that rise together
    Positive,
    /// every edge, by |r|
    Abs,
}

/// Components joined when |r| of their columns exceeds `threshold`; PageRank on |r| as the
/// edge weight; Louvain and modularity on the positive edges or on |r|.
pub fn component_graph(
    x: ndarray::ArrayView2<f64>,
    threshold: f64,
    resolution: f64,
    seed: u64,
    weights: CommunityWeights,
) -> Result<ComponentGraph> {
    let d = x.ncols();
    let r = crate::label::correlations(x, x);
    let mut edges = Vec::new();
    let mut has_edge = vec![false; d];
    for i in 0..d {
        for j in i + 1..d {
            if r[[i, j]].abs() > threshold {
                edges.push((i, j, r[[i, j]]));
                has_edge[i] = true;
                has_edge[j] = true;
            }
        }
    }
    let nodes: Vec<usize> = (0..d).filter(|&c| has_edge[c]).collect();
    let isolated: Vec<usize> = (0..d).filter(|&c| !has_edge[c]).collect();
    let mut local = vec![usize::MAX; d];
    for (k, &c) in nodes.iter().enumerate() {
        local[c] = k;
    }
    let weighted: Vec<(usize, usize, f64)> = edges
        .iter()
        .map(|&(i, j, rij)| (local[i], local[j], rij.abs()))
        .collect();
    let g = WGraph::from_edges(nodes.len(), &weighted);
    let pagerank = pagerank(&g, PAGERANK_DAMPING, PAGERANK_TOL, PAGERANK_MAX_ITER)?;
    // A negative r says two components exclude each other: by default that must not pull them
    // into one community (with |r|, anticorrelated categories such as joy and disgust merge).
    let cg = match weights {
        CommunityWeights::Abs => g,
        CommunityWeights::Positive => {
            let positive: Vec<(usize, usize, f64)> = edges
                .iter()
                .filter(|e| e.2 > 0.0)
                .map(|&(i, j, rij)| (local[i], local[j], rij))
                .collect();
            WGraph::from_edges(nodes.len(), &positive)
        }
    };
    let communities = louvain(&cg, resolution, LOUVAIN_THRESHOLD, seed);
    let modularity = modularity(&cg, &communities, resolution);
    Ok(ComponentGraph {
        r,
        nodes,
        isolated,
        edges,
        communities,
        modularity,
        pagerank,
    })
}

/// The graph of components (columns of X): two components are joined when |Pearson r| of their
/// stimulus weights (over rows) exceeds `threshold`; the edge carries r. Components without an edge
/// are removed and counted. Louvain communities (networkx's algorithm: local moving with the node
/// order shuffled by the seed, then aggregation, until a level adds ≤ 1e-7 modularity) (modularity
/// is ill-defined with negative weights, so by default communities form on the positive edges only,
/// components that rise together; communities: "abs" binds by |r|) and PageRank (damping 0.85,
/// tolerance 1e-6 per node, at most 100 iterations, networkx's power iteration, weighted by |r|);
/// `modularity` is Newman's, at `resolution`, on the community weights.
#[derive(Options, Step)]
#[step(
    name = "graph",
    param(X: Tensor = "stimuli × components (the embedding)"),
    returns = "#{nodes: [int] (component indices kept, 0-based, ascending), names: [string] aligned with nodes, isolated: int, isolated_nodes: [int], edges: #{source: [int], target: [int], weight: [float r]} (component indices, source < target), communities: [int] aligned with nodes (0-based, numbered by first appearance), n_communities, modularity, pagerank: [float] aligned with nodes (sums to 1), r (components × components f64), threshold, seed}",
    section = "Results: how the dimensions relate (the component graph, its communities and central components)",
    example = "let G = affect::graph(X, #{threshold: 0.2, seed: 0});\nprint(`${G.n_communities} communities, modularity ${G.modularity}, ${G.isolated} isolated`);",
)]
pub struct Graph {
    /// edge when |r| > threshold; in [0, 1)
    #[opt(default = 0.2)]
    pub threshold: f64,
    /// seed of Louvain's node order (ChaCha8)
    #[opt(doc_default = "run seed")]
    pub seed: Option<u64>,
    /// Louvain / modularity resolution γ (> 1: smaller communities)
    #[opt(default = 1.0)]
    pub resolution: f64,
    /// one name per component (default "1".."d")
    pub names: Option<Vec<String>>,
    /// edges Louvain and modularity use: "positive" (r > threshold) or "abs" (every edge, by |r|)
    #[opt(default = CommunityWeights::Positive)]
    pub communities: CommunityWeights,
}

impl step::Step for Graph {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let [x] = positional(args, Self::NAME, ["X"])?;
        let x = x_matrix(x)?;
        ensure!(
            self.threshold.is_finite() && (0.0..1.0).contains(&self.threshold),
            "threshold must be in [0, 1) (an edge needs |r| above it), got {}",
            self.threshold
        );
        ensure!(
            self.resolution.is_finite() && self.resolution > 0.0,
            "resolution must be a number > 0, got {}",
            self.resolution
        );
        ensure!(
            x.nrows() >= 3,
            "need at least 3 stimuli (rows of X) to correlate components, got {}",
            x.nrows()
        );
        check_names(&self.names, x.ncols(), "components (columns)", "component")?;
        ensure_finite(x.view(), "X")?;
        let seed = self.seed.unwrap_or(ctx.seed);
        let g = component_graph(
            x.view(),
            self.threshold,
            self.resolution,
            seed,
            self.communities,
        )?;
        let all_names: Vec<String> = match &self.names {
            Some(n) => n.clone(),
            None => (1..=x.ncols()).map(|i| i.to_string()).collect(),
        };
        let names: Vec<String> = g.nodes.iter().map(|&c| all_names[c].clone()).collect();
        let n_communities = g.communities.iter().copied().max().map_or(0, |c| c + 1);
        let source: Vec<usize> = g.edges.iter().map(|e| e.0).collect();
        let target: Vec<usize> = g.edges.iter().map(|e| e.1).collect();
        let weight: Vec<f64> = g.edges.iter().map(|e| e.2).collect();
        Ok(vmap! {
            "nodes" => ints(&g.nodes),
            "names" => strs(&names),
            "isolated" => g.isolated.len(),
            "isolated_nodes" => ints(&g.isolated),
            "edges" => vmap! {"source" => ints(&source), "target" => ints(&target), "weight" => floats(&weight)},
            "communities" => ints(&g.communities),
            "n_communities" => n_communities,
            "modularity" => g.modularity,
            "pagerank" => floats(&g.pagerank),
            "r" => Tensor::from_array(g.r),
            "threshold" => self.threshold,
            "seed" => seed as i64,
        })
    }
}
