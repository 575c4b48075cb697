//! The namespace as scripts see it: its functions in order, and its random draws.
use emoscope_sdk::{vmap, Ctx, Plugin, Value};

#[test]
fn the_functions_keep_their_names_and_order() {
    let info = super::plugin().info();
    let names: Vec<&str> = info.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names.join(" "),
        "zeros ones full eye arange linspace logspace rand randn from shape dtype len astype \
         reshape transpose matmul sum mean std min max argmin argmax sort argsort concat stack \
         row col rows cols slice cosine pearson spearman exp log sqrt abs to_device nonzero \
         equal to_list item"
    );
    let std = info.function("std").unwrap();
    assert_eq!(
        std.signature("tensor"),
        "tensor::std(t, [axis], #{ddof: 0})"
    );
    let sort = info.function("sort").unwrap();
    assert_eq!(
        sort.signature("tensor"),
        "tensor::sort(t, #{axis: -1, descending: false})"
    );
}

#[test]
fn unseeded_draws_differ_and_seeded_ones_repeat() {
    let p = super::plugin();
    let ctx = Ctx::detached();
    let shape = [Value::Int(4)];
    let draw = |opts: Value| {
        let Value::Tensor(t) = p
            .call("randn", &shape, opts.as_map().unwrap(), &ctx)
            .unwrap()
        else {
            panic!("randn gives a tensor")
        };
        t.to_vec_f64().unwrap()
    };
    assert_ne!(draw(vmap! {}), draw(vmap! {}));
    assert_eq!(draw(vmap! {"seed" => 5i64}), draw(vmap! {"seed" => 5i64}));
}
