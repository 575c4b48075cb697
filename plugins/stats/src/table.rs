//! A result table built row by row: named, typed columns in insertion order, returned as a map
//! of equal-length columns (what `io::save` writes as CSV and `report::write` shows).
use crate::values::{f64_vector, i64_tensor};
use emoscope_sdk::{Map, Result, Value};

/// A table being built.
#[derive(Default)]
pub(crate) struct Table {
    cols: Vec<(String, Col)>,
}

/// How to start an empty column of some type.
pub(crate) type MakeCol = fn() -> Col;

/// One column's values.
pub(crate) enum Col {
    Str(Vec<String>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Table {
    /// The column `name`, made by `make` when the table does not have it yet.
    pub(crate) fn col(&mut self, name: &str, make: MakeCol) -> &mut Col {
        if let Some(i) = self.cols.iter().position(|(n, _)| n == name) {
            return &mut self.cols[i].1;
        }
        self.cols.push((name.to_string(), make()));
        &mut self.cols.last_mut().expect("just pushed").1
    }
    pub(crate) fn s(&mut self, name: &str, v: &str) {
        if let Col::Str(c) = self.col(name, || Col::Str(vec![])) {
            c.push(v.to_string());
        }
    }
    pub(crate) fn f(&mut self, name: &str, v: f64) {
        if let Col::F64(c) = self.col(name, || Col::F64(vec![])) {
            c.push(v);
        }
    }
    pub(crate) fn i(&mut self, name: &str, v: i64) {
        if let Col::I64(c) = self.col(name, || Col::I64(vec![])) {
            c.push(v);
        }
    }
    pub(crate) fn b(&mut self, name: &str, v: bool) {
        if let Col::Bool(c) = self.col(name, || Col::Bool(vec![])) {
            c.push(v);
        }
    }
    /// Declare the columns of a table that may end up with no rows, so an empty table still
    /// has its header.
    pub(crate) fn declare(&mut self, cols: &[(&str, MakeCol)]) {
        for (n, make) in cols {
            self.col(n, *make);
        }
    }
    pub(crate) fn into_value(self) -> Result<Value> {
        let mut m = Map::new();
        for (name, c) in self.cols {
            let v = match c {
                Col::Str(v) => Value::List(v.into_iter().map(Value::Str).collect()),
                Col::Bool(v) => Value::List(v.into_iter().map(Value::Bool).collect()),
                Col::F64(v) => f64_vector(v)?,
                Col::I64(v) => i64_tensor(v)?,
            };
            m.insert(name, v);
        }
        Ok(Value::Map(m))
    }
}
