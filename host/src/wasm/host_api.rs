//! The `host` interface: log, progress, cancellation, and the host's linear algebra on the
//! tensor's device.
use super::*;

impl host::Host for State {
    fn log(&mut self, level: host::Level, msg: String) -> wasmtime::Result<()> {
        let msg = format!("{}: {msg}", self.plugin);
        match level {
            host::Level::Debug => self.ctx.debug(&msg),
            host::Level::Info => self.ctx.info(&msg),
            host::Level::Warn => self.ctx.warn(&msg),
        }
        Ok(())
    }
    fn progress(&mut self, done: u64, total: u64) -> wasmtime::Result<()> {
        if self.progress.is_none() && total > 0 {
            self.progress = Some(self.ctx.progress(&self.plugin, total));
        }
        if let Some(p) = &self.progress {
            p.inc(done.saturating_sub(self.progress_done));
        }
        self.progress_done = self.progress_done.max(done);
        Ok(())
    }
    fn cancelled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.ctx.cancel.is_cancelled())
    }
    fn max_chunk(&mut self) -> wasmtime::Result<u64> {
        Ok(MAX_CHUNK)
    }
    fn matmul(
        &mut self,
        a: Resource<HostTensor>,
        b: Resource<HostTensor>,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let (ta, tb) = (&self.table.get(&a)?.t, &self.table.get(&b)?.t);
        let (sa, sb) = (ta.shape(), tb.shape());
        if sa.len() == 2 && sb.len() == 2 {
            self.charge(sa[0].saturating_mul(sb[1]))?;
        }
        let r = self.table.get(&a)?.t.matmul(&self.table.get(&b)?.t);
        match r {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(format!("matmul: {e}"))),
        }
    }
    fn rsm(
        &mut self,
        x: Resource<HostTensor>,
        metric: String,
    ) -> wasmtime::Result<std::result::Result<Resource<HostTensor>, String>> {
        let how = match metric.as_str() {
            "cosine" => Similarity::Cosine,
            "pearson" => Similarity::Pearson,
            "spearman" => Similarity::Spearman,
            other => {
                return Ok(Err(format!(
                    "rsm: unknown metric '{other}' (cosine, pearson, spearman)"
                )))
            }
        };
        let rows = self.table.get(&x)?.t.shape().first().copied().unwrap_or(0);
        self.charge(rows.saturating_mul(rows))?;
        // On the tensor's device: a libtorch tensor's RSM is one matrix product there.
        match self.table.get(&x)?.t.row_similarity(how) {
            Ok(t) => Ok(Ok(self.table.push(HostTensor::new(t))?)),
            Err(e) => Ok(Err(format!("rsm: {e}"))),
        }
    }
}
