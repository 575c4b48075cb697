//! Reading a judgement store back as SPoSE triplets (`judge::collect_choices`).
//!
//! The latest record of each trial `(triplet, repeat)` counts (a failed trial asked again in a
//! later run is replaced by its new record). Parsed trials become SPoSE rows: the two stimuli not
//! chosen, in the order the triplet was given, then the chosen odd one.
use emoscope_sdk::infer::{store, Status};
use emoscope_sdk::step::Step;
use emoscope_sdk::triplets::{self as trip, Triplet};
use emoscope_sdk::{bail, ensure, Ctx, Map, Options, Result, Tensor, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Read a judgement store back: the latest record of each trial counts; parsed trials become
/// SPoSE triplets.
#[derive(Options, emoscope_sdk::Step)]
#[step(
    param(store: Str = "the JSONL store judge::llm or judge::mllm wrote"),
    returns = "#{triplets (N × 3 i64 SPoSE order: the two not chosen in the order given, then the odd one; parsed trials only), shown (N × 3 in the order shown), position (N: the shown position chosen, 0-2), repeat (N), by_repeat (one triplet set per repeat, for triplets::noise_ceiling), positions (3 counts: how often each shown position was chosen), parsed, unparsed, failed, models}",
    section = "Methods: LLM and MLLM odd-one-out judgements",
    example = "let c = judge::collect_choices(\"out/llm_judgements.jsonl\"); print(triplets::position_bias(c.shown, c.triplets));"
)]
pub struct CollectChoices;

impl Step for CollectChoices {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let Some(p) = args[0].as_str() else {
            bail!("store must be a path");
        };
        collect_choices(Path::new(p), ctx)
    }
}

/// The triplets and position counts of the store at `path` (see [`CollectChoices`]).
pub fn collect_choices(path: &Path, ctx: &Ctx) -> Result<Value> {
    ensure!(
        path.is_file(),
        "the store {} does not exist (judge::llm writes it)",
        path.display()
    );
    ctx.input_file(path);
    let contents = store::read(path)?;
    if contents.truncated > 0 {
        ctx.warn(&format!(
            "{}: the last line is truncated ({} bytes) and is ignored; the next judge::llm run on this store repairs it",
            path.display(),
            contents.truncated
        ));
    }
    let (mut parsed, mut unparsed, mut failed) = (0i64, 0i64, 0i64);
    let mut spose: Vec<Triplet> = Vec::new();
    let mut shown: Vec<Triplet> = Vec::new();
    let mut position: Vec<i64> = Vec::new();
    let mut repeat: Vec<i64> = Vec::new();
    let mut positions = [0i64; 3];
    let mut by_repeat: BTreeMap<u32, Vec<Triplet>> = BTreeMap::new();
    let mut models: Vec<String> = Vec::new();
    for r in contents.latest() {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
        match r.status {
            Status::Unparsed => unparsed += 1,
            Status::Failed => failed += 1,
            Status::Parsed => {
                let where_ = || {
                    format!(
                        "{}: trial {:?} repeat {}",
                        path.display(),
                        r.triplet,
                        r.repeat
                    )
                };
                let t = trip::check_row(&r.triplet, None)
                    .map_err(|m| emoscope_sdk::Error::msg(format!("{}: {m}", where_())))?;
                let o = trip::check_row(&r.order, None)
                    .map_err(|m| emoscope_sdk::Error::msg(format!("{}: order: {m}", where_())))?;
                let mut ts = t;
                let mut os = o;
                ts.sort_unstable();
                os.sort_unstable();
                ensure!(
                    ts == os,
                    "{}: the order shown {:?} is not the triplet's items",
                    where_(),
                    r.order
                );
                let Some(c) = r.choice else {
                    bail!("{}: status parsed but no choice", where_());
                };
                let Some(p) = o.iter().position(|&x| x as i64 == c) else {
                    bail!("{}: the choice {c} is not one of the items shown", where_());
                };
                let kept: Vec<u32> = t.iter().copied().filter(|&x| x as i64 != c).collect();
                let row = [kept[0], kept[1], c as u32];
                parsed += 1;
                positions[p] += 1;
                spose.push(row);
                shown.push(o);
                position.push(p as i64);
                repeat.push(r.repeat as i64);
                by_repeat.entry(r.repeat).or_default().push(row);
            }
        }
    }
    let mut m = Map::new();
    m.insert("triplets".into(), Value::Tensor(trip::to_tensor(&spose)));
    m.insert("shown".into(), Value::Tensor(trip::to_tensor(&shown)));
    let n = position.len();
    m.insert(
        "position".into(),
        Value::Tensor(Tensor::from_vec(position, &[n])?),
    );
    m.insert(
        "repeat".into(),
        Value::Tensor(Tensor::from_vec(repeat, &[n])?),
    );
    m.insert(
        "positions".into(),
        Value::Tensor(Tensor::from_vec(positions.to_vec(), &[3])?),
    );
    m.insert(
        "by_repeat".into(),
        Value::List(
            by_repeat
                .values()
                .map(|v| Value::Tensor(trip::to_tensor(v)))
                .collect(),
        ),
    );
    m.insert("parsed".into(), Value::Int(parsed));
    m.insert("unparsed".into(), Value::Int(unparsed));
    m.insert("failed".into(), Value::Int(failed));
    m.insert(
        "models".into(),
        Value::List(models.into_iter().map(Value::Str).collect()),
    );
    Ok(Value::Map(m))
}
