//! The data written beside each figure: CSV built in memory, numbers as cells, `.npy` bytes.
use emoscope_sdk::{Result, Tensor};

/// One data file: a suffix added to the figure's stem (".csv", "_edges.csv", ".npy") and bytes.
pub(crate) type DataFile = (&'static str, Vec<u8>);

/// A CSV built in memory (RFC 4180 quoting; NaN written as `NaN`).
pub(crate) struct Csv {
    buf: String,
}

impl Csv {
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        let mut c = Csv { buf: String::new() };
        c.row(header);
        c
    }
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            let s = cell.as_ref();
            if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
                self.buf.push('"');
                self.buf.push_str(&s.replace('"', "\"\""));
                self.buf.push('"');
            } else {
                self.buf.push_str(s);
            }
        }
        self.buf.push('\n');
    }
    pub fn bytes(self) -> Vec<u8> {
        self.buf.into_bytes()
    }
}

/// A number as a CSV cell: shortest text that reads back to the same f64.
pub(crate) fn num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else {
        x.to_string()
    }
}

/// `.npy` bytes of a tensor.
pub(crate) fn npy(t: &Tensor) -> Result<Vec<u8>> {
    emoscope_sdk::io::npy::npy_to_bytes(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut c = Csv::new(&["a", "b"]);
        c.row(&["x,y", "say \"hi\""]);
        assert_eq!(
            String::from_utf8(c.bytes()).unwrap(),
            "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n"
        );
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(0.1), "0.1");
    }
}
