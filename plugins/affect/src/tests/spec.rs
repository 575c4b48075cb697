//! What scripts see of the namespace: its functions in order, their parameters and defaults,
//! and the values each choice-valued option takes. A change here changes every script that
//! calls `affect::` and docs/reference.md.
use super::*;

#[test]
fn signatures_are_the_scripts_contract() {
    let info = crate::plugin().info();
    let got: Vec<String> = info
        .functions
        .iter()
        .map(|f| f.signature("affect"))
        .collect();
    let want = [
        "affect::label(X, ratings, #{top: 3, margin: 0.1, threshold: 0.1})",
        "affect::nearest_centroid(X, category_ratings, #{k: 3, min_count: 10, permutations: 1000, seed: run seed})",
        "affect::tsne(X, #{perplexity: 30.0, iterations: 1000, seed: run seed, learning_rate: \"auto\", early_exaggeration: 12.0, init: \"pca\"})",
        "affect::trustworthiness(X, Y, #{k: 5})",
        "affect::graph(X, #{threshold: 0.2, seed: run seed, resolution: 1.0, names: none, communities: \"positive\"})",
        "affect::top_stimuli(X, #{k: 10, names: none})",
        "affect::profiles(X, stimuli)",
        "affect::compare(A, B, #{metric: \"pearson\", method: \"spearman\"})",
    ];
    assert_eq!(got, want);
    let choices: Vec<(String, String, Vec<String>)> = info
        .functions
        .iter()
        .flat_map(|f| {
            f.options.iter().filter(|o| !o.choices.is_empty()).map(|o| {
                let names = o.choices.iter().map(|c| c.0.clone()).collect();
                (f.name.clone(), o.name.clone(), names)
            })
        })
        .collect();
    let owned = |f: &str, o: &str, c: &[&str]| {
        (
            f.to_string(),
            o.to_string(),
            c.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        choices,
        [
            owned("tsne", "init", &["pca", "random"]),
            owned("graph", "communities", &["positive", "abs"]),
            owned("compare", "metric", &["pearson", "cosine"]),
            owned("compare", "method", &["spearman", "pearson"]),
        ]
    );
}
