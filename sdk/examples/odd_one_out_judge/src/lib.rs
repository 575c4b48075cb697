//! A third party's feature-model judge: given stimulus features and triplets, it chooses the odd
//! one out by its own rule. The rule here is the study's for non-generative models (the item with
//! the greatest mean cosine distance to the other two; ties to the lowest stimulus index), so its
//! output can be checked against `judge::from_features(x, t, #{rule: "mean_distance"})`.
use emoscope_guest::*;

struct OddOneOut;

fn cosine(x: &[f64], d: usize, a: usize, b: usize, norms: &[f64]) -> f64 {
    let n = norms[a] * norms[b];
    if n == 0.0 {
        return 0.0;
    }
    (0..d).map(|k| x[a * d + k] * x[b * d + k]).sum::<f64>() / n
}

fn judge(args: &[Value], options: &str) -> Result<Value, String> {
    Options::parse(options, &[])?;
    let f = tensor_arg(args, 0, "judge")?;
    let t = tensor_arg(args, 1, "judge")?;
    judge_features(f, t, "judge")
}

/// The same rule on features from the host's model endpoint: one embedding per text.
fn embed_judge(args: &[Value], options: &str) -> Result<Value, String> {
    Options::parse(options, &[])?;
    let texts: Vec<String> = match args.first() {
        Some(Value::List(l)) => l
            .iter()
            .map(|x| match x {
                Leaf::Str(s) => Ok(s.clone()),
                _ => Err("embed_judge: texts must be a list of strings".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("embed_judge: texts must be a list of strings".into()),
    };
    let t = tensor_arg(args, 1, "embed_judge")?;
    let f = inference::embed(&texts)?;
    judge_features(&f, t, "embed_judge")
}

fn judge_features(f: &Tensor, t: &Tensor, func: &str) -> Result<Value, String> {
    let (fs, ts) = (f.shape(), t.shape());
    if fs.len() != 2 {
        return Err(format!(
            "{func}: features must be items × features, got shape {fs:?}"
        ));
    }
    if ts.len() != 2 || ts[1] != 3 {
        return Err(format!("{func}: triplets must be N × 3, got shape {ts:?}"));
    }
    let (n, d) = (fs[0] as usize, fs[1] as usize);
    let x = read_all(f)?;
    let norms: Vec<f64> = (0..n)
        .map(|i| {
            (0..d)
                .map(|k| x[i * d + k] * x[i * d + k])
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let out = TensorBuilder::new(&ts, Dtype::S64);
    let mut rows = Vec::new();
    // Chunks need not end on a row: carry the partial row over to the next chunk.
    let mut carry: Vec<f64> = Vec::new();
    let mut row0 = 0u64;
    read_chunks(t, |_, chunk| {
        carry.extend_from_slice(chunk);
        let whole = carry.len() / 3 * 3;
        let off = row0 * 3;
        rows.clear();
        for (r, tri) in carry[..whole].chunks(3).enumerate() {
            let ids = [tri[0] as usize, tri[1] as usize, tri[2] as usize];
            if let Some(bad) = ids.iter().find(|&&i| i >= n) {
                return Err(format!(
                    "{func}: triplet {} names item {bad}, but there are {n}",
                    off / 3 + r as u64
                ));
            }
            let dist = |a: usize, b: usize| 1.0 - cosine(&x, d, ids[a], ids[b], &norms);
            let odd_score = [
                (dist(0, 1) + dist(0, 2)) / 2.0,
                (dist(1, 0) + dist(1, 2)) / 2.0,
                (dist(2, 0) + dist(2, 1)) / 2.0,
            ];
            let mut odd = 0;
            for k in 1..3 {
                if odd_score[k] > odd_score[odd]
                    || (odd_score[k] == odd_score[odd] && ids[k] < ids[odd])
                {
                    odd = k;
                }
            }
            let kept: Vec<usize> = (0..3).filter(|&k| k != odd).collect();
            rows.extend([ids[kept[0]] as f64, ids[kept[1]] as f64, ids[odd] as f64]);
        }
        carry.drain(..whole);
        row0 += (whole / 3) as u64;
        out.write_f64(off, &rows)
    })?;
    Ok(Value::Tensor(TensorBuilder::finish(out)))
}

impl Plugin for OddOneOut {
    fn describe() -> PluginInfo {
        info(
            "odd_one_out",
            "0.1.0",
            "An example feature-model judge: the odd one out is the item with the greatest mean cosine distance to the other two",
            vec![spec("judge", "Judge triplets from per-item feature vectors (mean cosine distance; ties to the lowest stimulus index).")
                .param("features", "tensor", "items × features")
                .param("triplets", "tensor", "N × 3 triplets in the order shown")
                .returns("N × 3 i64 triplets in SPoSE order: the kept pair in the order shown, then the odd one")
                .section("Methods: non-generative model judgements")
                .example("let j = odd_one_out::judge(X, all);"),
                spec("embed_judge", "Judge triplets by the same rule on embeddings of one text per item, from the model endpoint the user granted this plugin (`emoscope plugin grant odd_one_out --url ... --model ...`).")
                .param("texts", "list", "one text per item (a caption)")
                .param("triplets", "tensor", "N × 3 triplets in the order shown")
                .returns("N × 3 i64 triplets in SPoSE order")
                .section("Methods: non-generative model judgements")
                .example("let j = odd_one_out::embed_judge(captions, all);"),
                spec("ask", "Ask the granted chat model one question (a check that the grant works).")
                .param("question", "string", "the user message")
                .returns("the model's answer")],
        )
    }

    fn call(name: String, args: Vec<Value>, options: String) -> Result<Value, String> {
        match name.as_str() {
            "judge" => judge(&args, &options),
            "embed_judge" => embed_judge(&args, &options),
            "ask" => match args.first() {
                Some(Value::Str(q)) => inference::chat(q).map(Value::Str),
                _ => Err("ask: the question must be a string".into()),
            },
            other => Err(format!("odd_one_out has no function '{other}'")),
        }
    }
}

export_plugin!(OddOneOut);
