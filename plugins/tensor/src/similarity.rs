//! Similarity between the rows of matrices: cosine, Pearson, Spearman.
use crate::args::tensor;
use emoscope_sdk::linalg::{similarity_cross, similarity_matrix, Similarity};
use emoscope_sdk::{Result, Tensor, Value};

/// The similarity matrix of `a`'s rows; with `b`, between `a`'s rows and `b`'s (a number for
/// two vectors).
fn similarity(args: &[Value], how: Similarity) -> Result<Value> {
    let a = tensor(args, 0, "a")?;
    let Some(b) = args.get(1) else {
        let x = a.matrix::<f64>("a")?;
        return Ok(Tensor::from_array(similarity_matrix(x.view(), how)).into());
    };
    let b = b.to_tensor("b")?;
    let vectors = a.ndim() == 1 && b.ndim() == 1;
    let (a, b) = if vectors {
        (a.reshape(&[1, a.numel()])?, b.reshape(&[1, b.numel()])?)
    } else {
        (a, b)
    };
    let r = similarity_cross(
        a.matrix::<f64>("a")?.view(),
        b.matrix::<f64>("b")?.view(),
        how,
    )?;
    Ok(if vectors {
        Value::Float(r[[0, 0]])
    } else {
        Tensor::from_array(r).into()
    })
}

steps! {
    #[step(
        param(a: Tensor = "a matrix (rows are items) or a vector"),
        param(b?: Tensor = "a second matrix or vector"),
        returns = "one matrix (rows × rows): the RSM of a; two matrices: a.rows × b.rows; two vectors: a number",
    )]
    /// Cosine similarity between rows.
    Cosine {} => |_, args, _| similarity(args, Similarity::Cosine);

    /// Pearson correlation between rows.
    Pearson {} => |_, args, _| similarity(args, Similarity::Pearson);

    /// Spearman correlation between rows (average ranks for ties, as scipy).
    Spearman {} => |_, args, _| similarity(args, Similarity::Spearman);
}
