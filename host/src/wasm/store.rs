//! What one call's store holds, and the limits it runs under: linear memory, tables, instances,
//! and the host-side tensors charged to the same memory cap.
use super::*;

/// What one call's store holds.
pub(super) struct State {
    pub(super) table: ResourceTable,
    pub(super) wasi: WasiCtx,
    pub(super) limits: StoreLimits,
    pub(super) memory_hit: bool,
    pub(super) ctx: Ctx,
    pub(super) plugin: String,
    pub(super) progress: Option<Box<dyn emoscope_sdk::ctx::Progress>>,
    pub(super) progress_done: u64,
    pub(super) inference: Inference,
    /// Bytes of host tensors and builders this call created, charged to the memory cap too.
    pub(super) host_bytes: u64,
    pub(super) host_cap: u64,
}

impl State {
    /// Charge `n` f64 elements of host memory to the call; over the cap, the call traps.
    pub(super) fn charge(&mut self, n: usize) -> wasmtime::Result<()> {
        self.host_bytes = self.host_bytes.saturating_add(8 * n as u64);
        if self.host_bytes > self.host_cap {
            self.memory_hit = true;
            wasmtime::bail!(
                "host tensors of {} MiB exceed the memory cap",
                self.host_bytes >> 20
            );
        }
        Ok(())
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Remembers that a memory growth was refused, so the trap it causes (a Rust guest aborts on
/// allocation failure) is reported as the memory cap, not as a bug.
impl wasmtime::ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if !ok {
            self.memory_hit = true;
        }
        Ok(ok)
    }
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
    fn instances(&self) -> usize {
        self.limits.instances()
    }
    fn tables(&self) -> usize {
        self.limits.tables()
    }
    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
