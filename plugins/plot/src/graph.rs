//! `plot::graph`: the component graph, its communities and PageRank.
//!
//! The layout is a seeded Fruchterman–Reingold (1991) force layout started from the communities
//! placed on a circle, or the communities in arcs of one circle; both are deterministic for a
//! seed.
use crate::args::{key_list, labels, vector_arg};
use crate::data::{num, Csv};
use crate::figure::{emit, Figure, Size};
use crate::style::{self, DrawResult, Marker, Style};
use emoscope_sdk::step;
use emoscope_sdk::{bail, ensure, Choice, Ctx, Options, Result, Step, Value};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use rand::RngExt;
use std::collections::HashMap;
use std::f64::consts::PI;

const MAX_NODES: usize = 1000;
/// The pull towards the centre, against the repulsion that would scatter disconnected parts.
const GRAVITY: f64 = 1.0;
const POSITIVE: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const NEGATIVE: RGBColor = RGBColor(0x21, 0x66, 0xac);

/// Where the nodes go.
#[derive(Choice, Clone, Copy, Debug, PartialEq)]
pub enum Layout {
    /// Fruchterman–Reingold
    Force,
    /// communities in arcs of one circle
    Circle,
}

/// The component graph with its communities (Fig. 7): nodes placed by a seeded Fruchterman–Reingold
/// layout (starting from the communities on a circle), coloured by community, sized by PageRank
/// (area), named; edges as wide as |weight|, red for positive and blue for negative. Writes
/// <path>.csv (node, name, community, pagerank, x, y) and <path>_edges.csv (source, target,
/// source_name, target_name, weight).
#[derive(Options, Step)]
#[step(
    name = "graph",
    param(g: Map = "what affect::graph returns: #{nodes, names, edges: #{source, target, weight}, communities, pagerank, modularity, isolated}"),
    param(path: Str = "output path without extension"),
    returns = crate::figure::RETURNS,
    section = "Results: the component graph",
    example = "let g = affect::graph(X, #{names: lab.labels});\nplot::graph(g, out + \"/fig7\", #{title: \"Component graph\"});"
)]
pub struct Graph {
    /// figure title
    #[opt(default = "")]
    pub title: String,
    /// "force" (Fruchterman–Reingold) or "circle" (communities in arcs of one circle)
    #[opt(default = Layout::Force)]
    pub layout: Layout,
    /// seed of the layout's starting jitter
    #[opt(doc_default = "the run's --seed")]
    pub seed: Option<i64>,
    /// the canvas
    #[opt(flatten)]
    pub size: Size,
}

struct GraphFigure {
    names: Vec<String>,
    community: Vec<i64>,
    /// Distinct communities, largest first: (id, size).
    communities: Vec<(i64, usize)>,
    pagerank: Vec<f64>,
    pos: Vec<(f64, f64)>,
    /// (node position a, node position b, weight)
    edges: Vec<(usize, usize, f64)>,
    title: String,
    caption: String,
}

fn ints(v: &Value, what: &str) -> Result<Vec<i64>> {
    let t = v.to_tensor(what)?;
    ensure!(
        t.ndim() == 1,
        "{what} must be a list of integers, got shape {:?}",
        t.shape()
    );
    t.to_vec_f64()?
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            ensure!(
                x.is_finite() && x.fract() == 0.0,
                "{what}[{i}] must be an integer, got {x}"
            );
            Ok(x as i64)
        })
        .collect()
}

/// Fruchterman–Reingold in the unit square around 0, from `pos`; positive edges attract in
/// proportion to their weight, every pair repels, and a weak pull to the centre keeps
/// disconnected parts in view.
fn force_layout(pos: &mut [(f64, f64)], edges: &[(usize, usize, f64)], iterations: usize) {
    let n = pos.len();
    if n < 2 {
        return;
    }
    let k = (4.0 / n as f64).sqrt();
    let wmax = edges
        .iter()
        .map(|e| e.2.abs())
        .fold(0.0, f64::max)
        .max(1e-12);
    let mut disp = vec![(0.0f64, 0.0f64); n];
    for it in 0..iterations {
        let temp = 0.1 * (1.0 - it as f64 / iterations as f64) + 0.002;
        disp.iter_mut().for_each(|d| *d = (0.0, 0.0));
        for i in 0..n {
            for j in i + 1..n {
                let (dx, dy) = (pos[i].0 - pos[j].0, pos[i].1 - pos[j].1);
                let d2 = (dx * dx + dy * dy).max(1e-6);
                let f = k * k / d2;
                disp[i].0 += dx * f;
                disp[i].1 += dy * f;
                disp[j].0 -= dx * f;
                disp[j].1 -= dy * f;
            }
        }
        for &(a, b, w) in edges {
            if w <= 0.0 || a == b {
                continue;
            }
            let (dx, dy) = (pos[a].0 - pos[b].0, pos[a].1 - pos[b].1);
            let d = (dx * dx + dy * dy).sqrt().max(1e-6);
            let f = d / k * (w / wmax);
            disp[a].0 -= dx * f;
            disp[a].1 -= dy * f;
            disp[b].0 += dx * f;
            disp[b].1 += dy * f;
        }
        for i in 0..n {
            disp[i].0 -= pos[i].0 * GRAVITY;
            disp[i].1 -= pos[i].1 * GRAVITY;
            let len = (disp[i].0.powi(2) + disp[i].1.powi(2)).sqrt();
            if len > 0.0 {
                let s = len.min(temp) / len;
                pos[i].0 += disp[i].0 * s;
                pos[i].1 += disp[i].1 * s;
            }
        }
    }
}

/// Scale positions into [-1, 1] on both axes, keeping the aspect.
fn normalise(pos: &mut [(f64, f64)]) {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for p in pos.iter() {
        x0 = x0.min(p.0);
        x1 = x1.max(p.0);
        y0 = y0.min(p.1);
        y1 = y1.max(p.1);
    }
    let s = (x1 - x0).max(y1 - y0);
    if s.is_nan() || s <= 1e-12 {
        pos.iter_mut().for_each(|p| *p = (0.0, 0.0));
        return;
    }
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    for p in pos.iter_mut() {
        *p = (2.0 * (p.0 - cx) / s, 2.0 * (p.1 - cy) / s);
    }
}

impl step::Step for Graph {
    fn run(self, args: &[Value], ctx: &Ctx) -> Result<Value> {
        let size = self.size.canvas()?;
        let Value::Map(g) = &args[0] else {
            bail!(
                "g must be the map affect::graph returns, got {}",
                args[0].type_name()
            )
        };
        let keys = || key_list(g);
        let nodes = match g.get("nodes") {
            Some(v) => ints(v, "g.nodes")?,
            None => bail!(
                "g has no 'nodes' (the component index of each node); it has: {}",
                keys()
            ),
        };
        let n = nodes.len();
        ensure!(n > 0, "g.nodes is empty: the graph has no node to draw");
        ensure!(
            n <= MAX_NODES,
            "g has {n} nodes; plot::graph draws at most {MAX_NODES}"
        );
        let aligned = |what: &str, len: usize| -> Result<()> {
            ensure!(
                len == n,
                "g.{what} has {len} entries but g.nodes has {n}: it must be aligned with nodes"
            );
            Ok(())
        };
        let names = match g.get("names") {
            Some(v) if !matches!(v, Value::Null) => labels(v, "g.names")?,
            _ => nodes.iter().map(|k| k.to_string()).collect(),
        };
        aligned("names", names.len())?;
        let community = match g.get("communities") {
            Some(v) if !matches!(v, Value::Null) => ints(v, "g.communities")?,
            _ => vec![0; n],
        };
        aligned("communities", community.len())?;
        let pagerank = match g.get("pagerank") {
            Some(v) if !matches!(v, Value::Null) => vector_arg(v, "g.pagerank")?,
            _ => vec![1.0 / n as f64; n],
        };
        aligned("pagerank", pagerank.len())?;
        if let Some(i) = pagerank.iter().position(|p| !(p.is_finite() && *p >= 0.0)) {
            bail!(
                "g.pagerank[{i}] is {}: PageRank values must be finite and ≥ 0",
                pagerank[i]
            );
        }
        let mut index: HashMap<i64, usize> = HashMap::new();
        for (i, &k) in nodes.iter().enumerate() {
            ensure!(
                index.insert(k, i).is_none(),
                "g.nodes lists component {k} twice"
            );
        }
        let mut edges = Vec::new();
        match g.get("edges") {
            None | Some(Value::Null) => {}
            Some(Value::Map(e)) => {
                let col = |k: &str| {
                    e.get(k).ok_or_else(|| {
                        emoscope_sdk::Error::msg(format!(
                            "g.edges has no '{k}' (it needs source, target, weight)"
                        ))
                    })
                };
                let s = ints(col("source")?, "g.edges.source")?;
                let t = ints(col("target")?, "g.edges.target")?;
                let w = vector_arg(col("weight")?, "g.edges.weight")?;
                ensure!(
                    s.len() == t.len() && t.len() == w.len(),
                    "g.edges: source, target and weight must have equal lengths, got {}, {}, {}",
                    s.len(),
                    t.len(),
                    w.len()
                );
                for i in 0..s.len() {
                    let find = |k: i64, what: &str| {
                        index.get(&k).copied().ok_or_else(|| {
                        emoscope_sdk::Error::msg(format!(
                            "g.edges.{what}[{i}] = {k} is not in g.nodes (edges use component indices, as nodes does)"
                        ))
                    })
                    };
                    let (a, b) = (find(s[i], "source")?, find(t[i], "target")?);
                    ensure!(
                        w[i].is_finite(),
                        "g.edges.weight[{i}] is {}: weights must be finite",
                        w[i]
                    );
                    edges.push((a, b, w[i]));
                }
            }
            Some(other) => bail!(
                "g.edges must be a map #{{source, target, weight}}, got {}",
                other.type_name()
            ),
        }
        let mut communities: Vec<(i64, usize)> = Vec::new();
        for &c in &community {
            match communities.iter_mut().find(|e| e.0 == c) {
                Some(e) => e.1 += 1,
                None => communities.push((c, 1)),
            }
        }
        communities.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

        // Start: each community's nodes on a small circle around its place on a big circle.
        let nc = communities.len();
        let mut rng = ctx.rng(self.seed.map(|s| s as u64));
        let mut pos = vec![(0.0, 0.0); n];
        let mut slot = 0usize;
        for (ci, &(c, size)) in communities.iter().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&i| community[i] == c).collect();
            for (m, &i) in members.iter().enumerate() {
                pos[i] = match self.layout {
                    Layout::Circle => {
                        // One circle, communities in consecutive arcs with a gap between them.
                        let th = 2.0 * PI * (slot as f64 + ci as f64 * 0.8)
                            / (n as f64 + nc as f64 * 0.8);
                        slot += 1;
                        (th.sin(), th.cos())
                    }
                    Layout::Force => {
                        let th = 2.0 * PI * ci as f64 / nc as f64;
                        let (cx, cy) = if nc > 1 {
                            (th.sin(), th.cos())
                        } else {
                            (0.0, 0.0)
                        };
                        let ph = 2.0 * PI * m as f64 / size as f64;
                        let r = 0.3 * (size as f64 / n as f64).sqrt();
                        let jx: f64 = rng.random::<f64>() - 0.5;
                        let jy: f64 = rng.random::<f64>() - 0.5;
                        (cx + r * ph.cos() + 0.02 * jx, cy + r * ph.sin() + 0.02 * jy)
                    }
                };
            }
        }
        if self.layout == Layout::Force {
            force_layout(&mut pos, &edges, 400);
        }
        normalise(&mut pos);

        let mut csv = Csv::new(&["node", "name", "community", "pagerank", "x", "y"]);
        for i in 0..n {
            csv.row(&[
                nodes[i].to_string(),
                names[i].clone(),
                community[i].to_string(),
                num(pagerank[i]),
                num(pos[i].0),
                num(pos[i].1),
            ]);
        }
        let mut ecsv = Csv::new(&["source", "target", "source_name", "target_name", "weight"]);
        for &(a, b, w) in &edges {
            ecsv.row(&[
                nodes[a].to_string(),
                nodes[b].to_string(),
                names[a].clone(),
                names[b].clone(),
                num(w),
            ]);
        }
        let mut caption = format!("{n} nodes, {} edges, {nc} communities", edges.len());
        if let Some(q) = g.get("modularity").and_then(Value::as_f64) {
            caption.push_str(&format!("; modularity Q = {q:.3}"));
        }
        if let Some(k) = g.get("isolated").and_then(Value::as_i64) {
            if k > 0 {
                caption.push_str(&format!(
                    "; {k} isolated component{} not shown",
                    if k == 1 { "" } else { "s" }
                ));
            }
        }
        let title = self.title;
        let fig = GraphFigure {
            names,
            community,
            communities,
            pagerank,
            pos,
            edges,
            title: title.clone(),
            caption,
        };
        emit(
            ctx,
            &args[1],
            &fig,
            size,
            &title,
            vec![(".csv", csv.bytes()), ("_edges.csv", ecsv.bytes())],
        )
    }
}

impl Figure for GraphFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Style) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = style::draw_title(root, st, &self.title)?;
        let (w, h) = (st.w as i32, st.h as i32);
        let cs = st.small();
        let cap_h = style::draw_caption(root, st, &self.caption)?;
        let mut entries: Vec<(RGBColor, String, Marker)> = self
            .communities
            .iter()
            .enumerate()
            .map(|(k, (c, size))| {
                (
                    style::categorical(k),
                    format!("community {c} ({size})"),
                    Marker::Dot,
                )
            })
            .collect();
        if self.edges.iter().any(|e| e.2 > 0.0) {
            entries.push((POSITIVE, "positive edge".into(), Marker::Line));
        }
        if self.edges.iter().any(|e| e.2 < 0.0) {
            entries.push((NEGATIVE, "negative edge".into(), Marker::Line));
        }
        let labels: Vec<String> = entries.iter().map(|e| e.1.clone()).collect();
        let legend_w = style::legend_box(root, st, &labels, "node size: PageRank", w * 3 / 10);
        // The drawing box, leaving room for the names around the nodes.
        let name_w = style::widest(root, &self.names, &cs).min(w / 6);
        let rmax = st.pxf(26.0);
        let (bx0, bx1) = (
            st.pxf(20.0) + rmax,
            (w - legend_w) as f64 - name_w as f64 - rmax - st.pxf(10.0),
        );
        let (by0, by1) = (top as f64 + rmax, (h - cap_h) as f64 - rmax);
        let side = (bx1 - bx0).min(by1 - by0).max(10.0);
        let (cx, cy) = ((bx0 + bx1) / 2.0, (by0 + by1) / 2.0);
        let px = |p: (f64, f64)| {
            (
                (cx + p.0 * side / 2.0).round() as i32,
                (cy - p.1 * side / 2.0).round() as i32,
            )
        };
        let wmax = self
            .edges
            .iter()
            .map(|e| e.2.abs())
            .fold(0.0, f64::max)
            .max(1e-12);
        let mut order: Vec<&(usize, usize, f64)> = self.edges.iter().collect();
        order.sort_by(|a, b| a.2.abs().total_cmp(&b.2.abs()));
        for &&(a, b, wt) in &order {
            let col = if wt >= 0.0 { POSITIVE } else { NEGATIVE };
            let width = st.stroke(1.0 + 7.0 * wt.abs() / wmax);
            root.draw(&PathElement::new(
                vec![px(self.pos[a]), px(self.pos[b])],
                col.mix(0.55).stroke_width(width),
            ))?;
        }
        let prmax = self.pagerank.iter().copied().fold(0.0, f64::max).max(1e-12);
        let rmin = st.pxf(7.0);
        let radius =
            |i: usize| (rmin + (rmax - rmin) * (self.pagerank[i] / prmax).sqrt()).round() as i32;
        let colour = |i: usize| {
            let k = self
                .communities
                .iter()
                .position(|c| c.0 == self.community[i])
                .unwrap_or(0);
            style::categorical(k)
        };
        let mut by_size: Vec<usize> = (0..self.names.len()).collect();
        by_size.sort_by(|&a, &b| self.pagerank[b].total_cmp(&self.pagerank[a]));
        for &i in &by_size {
            let p = px(self.pos[i]);
            root.draw(&Circle::new(p, radius(i), colour(i).filled()))?;
            root.draw(&Circle::new(
                p,
                radius(i),
                WHITE.stroke_width(st.stroke(1.5)),
            ))?;
        }
        for i in 0..self.names.len() {
            let p = px(self.pos[i]);
            let l = style::fit(root, &self.names[i], &cs, name_w);
            style::text(
                root,
                &l,
                (p.0 + radius(i) + st.px(4.0), p.1),
                &cs,
                HPos::Left,
                VPos::Center,
                false,
            )?;
        }
        let lx = w - legend_w + style::legend_x(st);
        let used = style::legend(root, st, (lx, top + st.px(8.0)), &entries, "")?;
        style::text(
            root,
            "node size: PageRank",
            (lx, top + used + st.px(24.0)),
            &cs,
            HPos::Left,
            VPos::Center,
            false,
        )?;
        Ok(())
    }
}
