#!/usr/bin/env python3
"""The Python side of bench/affect_vs_python.sh.

Reads what bench/affect_vs_python.rhai wrote in WORK (X.npy: stimuli x components, the one input;
graph.json: emoscope's affect::graph; tsne.npy: emoscope's affect::tsne coordinates) and runs the
Python peers on the same X:

  graph  numpy's Pearson r between the columns, the same edges (|r| > threshold, isolated
         components removed), a networkx Graph with weight = |r| (nodes ascending, edges in
         (source, target) order, as emoscope builds it); networkx.community.louvain_communities
         (seed) and its modularity; networkx's modularity of *emoscope's* partition; and
         networkx.pagerank(weight="weight") (alpha 0.85, tol 1e-6, max_iter 100), all timed.
  t-SNE  sklearn.manifold.TSNE (default Barnes-Hut, and method="exact", emoscope's algorithm),
         openTSNE.TSNE (its default FFT gradients) when it imports; every run with perplexity,
         iterations (openTSNE: 250 exaggerated + the rest), init "pca", learning rate "auto",
         early exaggeration 12 and the seed; timed; and sklearn.manifold.trustworthiness at
         k = 5 and 10 of every map, emoscope's included.

Writes WORK/python.json.
"""
import argparse
import json
import os
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--threshold", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--perplexity", type=float, default=30.0)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-exact", action="store_true", help="skip sklearn's exact t-SNE")
    ap.add_argument("--louvain-seeds", type=int, default=20,
                    help="also run networkx's Louvain with seeds 0..N-1 (modularity spread)")
    a = ap.parse_args()

    import networkx as nx
    import sklearn
    from sklearn.manifold import TSNE, trustworthiness
    from sklearn.metrics import adjusted_rand_score

    W = a.work
    X = np.load(os.path.join(W, "X.npy")).astype(np.float64)
    emo_graph = json.load(open(os.path.join(W, "graph.json")))
    emo_coords = np.load(os.path.join(W, "tsne.npy"))
    out = dict(versions=dict(numpy=np.__version__, networkx=nx.__version__,
                             sklearn=sklearn.__version__))

    # ---- graph -------------------------------------------------------------------------
    d = X.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(X.T)
    r = np.nan_to_num(r)  # a constant column correlates 0, as emoscope's pearson
    edges = [(i, j, float(r[i, j])) for i in range(d) for j in range(i + 1, d)
             if abs(r[i, j]) > a.threshold]
    nodes = sorted({i for e in edges for i in e[:2]})
    G = nx.Graph()
    G.add_nodes_from(nodes)
    for i, j, rij in edges:
        G.add_edge(i, j, weight=abs(rij))
    e_src, e_tgt = emo_graph["edges"]["source"], emo_graph["edges"]["target"]
    same_edges = [(i, j) for i, j, _ in edges] == list(zip(e_src, e_tgt))
    max_r_diff = max((abs(rij - w) for (_, _, rij), w in zip(edges, emo_graph["edges"]["weight"])),
                     default=0.0)

    if G.number_of_edges() == 0:
        # No edge above the threshold: nothing to partition (emoscope reports NaN modularity).
        comms, louvain_s, nx_mod, mods, nx_on_ours, ari = [], 0.0, float("nan"), [float("nan")], \
            float("nan"), float("nan")
        pr, pagerank_s = {}, 0.0
    else:
        t = time.perf_counter()
        comms = nx.community.louvain_communities(G, weight="weight", resolution=1, seed=a.seed)
        louvain_s = time.perf_counter() - t
        nx_mod = nx.community.modularity(G, comms, weight="weight", resolution=1)
        mods = [nx.community.modularity(
            G, nx.community.louvain_communities(G, weight="weight", seed=s), weight="weight")
            for s in range(a.louvain_seeds)]
        ours = {}
        for node, c in zip(emo_graph["nodes"], emo_graph["communities"]):
            ours.setdefault(c, set()).add(node)
        nx_on_ours = nx.community.modularity(G, list(ours.values()), weight="weight",
                                             resolution=1)
        lab_nx = {n: k for k, c in enumerate(comms) for n in c}
        ari = adjusted_rand_score([lab_nx[n] for n in emo_graph["nodes"]],
                                  emo_graph["communities"])
        t = time.perf_counter()
        pr = nx.pagerank(G, alpha=0.85, weight="weight")
        pagerank_s = time.perf_counter() - t
    pr_diff = max((abs(pr[n] - p) for n, p in zip(emo_graph["nodes"], emo_graph["pagerank"])),
                  default=0.0)
    out["graph"] = dict(
        nodes=len(nodes), edges=len(edges), isolated=d - len(nodes),
        same_nodes=nodes == emo_graph["nodes"], same_edges=same_edges, max_r_diff=max_r_diff,
        networkx_communities=len(comms), networkx_modularity=nx_mod,
        networkx_modularity_seeds=dict(n=len(mods), min=float(np.min(mods)),
                                       mean=float(np.mean(mods)), max=float(np.max(mods))),
        networkx_modularity_of_ours=nx_on_ours, ari_ours_vs_networkx=ari,
        pagerank_max_abs_diff=pr_diff, seconds=dict(louvain=louvain_s, pagerank=pagerank_s))

    # ---- t-SNE -------------------------------------------------------------------------
    def trust(Y):
        return dict(k5=float(trustworthiness(X, Y, n_neighbors=5)),
                    k10=float(trustworthiness(X, Y, n_neighbors=10)))

    runs = {}
    out["emoscope_trust_by_sklearn"] = trust(emo_coords)
    methods = [("sklearn_barnes_hut", "barnes_hut")]
    if not a.skip_exact:
        methods.append(("sklearn_exact", "exact"))
    for name, method in methods:
        t = time.perf_counter()
        m = TSNE(n_components=2, perplexity=a.perplexity, max_iter=a.iterations, init="pca",
                 learning_rate="auto", early_exaggeration=12.0, random_state=a.seed,
                 method=method, n_jobs=a.threads)
        Y = m.fit_transform(X)
        secs = time.perf_counter() - t
        runs[name] = dict(seconds=secs, kl_divergence=float(m.kl_divergence_),
                          iterations=int(m.n_iter_) + 1, **trust(Y))
    try:
        import openTSNE
        t = time.perf_counter()
        emb = openTSNE.TSNE(n_components=2, perplexity=a.perplexity, early_exaggeration=12,
                            early_exaggeration_iter=250, n_iter=a.iterations - 250,
                            initialization="pca", n_jobs=a.threads,
                            random_state=a.seed).fit(X)
        secs = time.perf_counter() - t
        runs["openTSNE"] = dict(seconds=secs, kl_divergence=float(emb.kl_divergence),
                                iterations=a.iterations, version=openTSNE.__version__,
                                **trust(np.asarray(emb)))
    except ImportError:
        pass
    out["tsne"] = runs
    json.dump(out, open(os.path.join(W, "python.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
