//! The engine's configuration as data ([`EngineBuilder`]) and its one
//! action, [`EngineBuilder::build`]: wasmtime configured, the component
//! checked against its pin, compiled (or loaded from the cache) and linked.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::Error;
use crate::api::PolicySource;
use crate::bindings::MfaEnginePre;
use crate::component;
use crate::engine::Engine;
use crate::host_state::HostState;
use crate::pool::{Pool, PoolLimits, spawn_epoch_ticker};

/// Fuel per call: about a second of guest work, far above what a decision
/// (or installing a policy set) needs, low enough to stop a runaway guest.
pub const DEFAULT_FUEL_PER_CALL: u64 = 2_000_000_000;
/// Memory cap per instance.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;
/// How long one call may run by default: decisions take well under a
/// millisecond, loading a large policy set tens of milliseconds.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);
/// How long a call waits for a free instance before [`Error::Busy`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a runaway call is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// Count executed instructions (fuel); a call may use this much.
    Fuel(u64),
    /// Wall-clock deadline per call (wasmtime epochs, ticked every 10 ms
    /// by a background thread): cheaper than fuel (the default, 2 s).
    Deadline(Duration),
}

/// Configures an [`Engine`]: pure data until [`EngineBuilder::build`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    component: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    interruption: Interruption,
    memory_limit: usize,
    policies: Option<PolicySource>,
    max_instances: usize,
    acquire_timeout: Duration,
    reuse_instances: bool,
    pooling_allocator: bool,
    expected_sha256: Option<String>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            component: None,
            cache_dir: component::default_cache_dir(),
            // Measured cheaper than fuel metering (BENCHMARKS.md).
            interruption: Interruption::Deadline(DEFAULT_DEADLINE),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            policies: None,
            max_instances: std::thread::available_parallelism().map_or(2, |n| n.get()),
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            reuse_instances: true,
            pooling_allocator: false,
            expected_sha256: None,
        }
    }
}

impl EngineBuilder {
    /// Loads this component file instead of the embedded one.
    pub fn with_component_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.component = Some(path.into());
        self
    }

    /// Refuses to load a component (the file, or the embedded one) whose
    /// sha256 is not `hex`: a pinned artifact, as Extism manifests and
    /// proxy-wasm configurations pin theirs.
    pub fn with_expected_sha256(mut self, hex: impl Into<String>) -> Self {
        self.expected_sha256 = Some(hex.into());
        self
    }

    /// Where compiled components are cached; `None` compiles every time.
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Fuel (roughly, wasm instructions) each call may use.
    /// Stops a call after `fuel` units of work (the default, 2·10⁹).
    pub fn with_fuel_per_call(mut self, fuel: u64) -> Self {
        self.interruption = Interruption::Fuel(fuel);
        self
    }

    /// Stops a call after `deadline` of wall-clock time instead of
    /// counting fuel (cheaper per call; a slow machine gets less work done).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.interruption = Interruption::Deadline(deadline);
        self
    }

    /// Calls that run at once, and so instances that exist at most
    /// (default: the number of CPUs); further callers wait.
    pub fn with_max_instances(mut self, instances: usize) -> Self {
        self.max_instances = instances.max(1);
        self
    }

    /// How long a call waits for a free instance when all are busy before
    /// it fails with [`Error::Busy`] (default 10 s).
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// `false`: every call gets a new instance, dropped afterwards (no state
    /// can survive between calls, at the cost of an instantiation each).
    pub fn with_instance_reuse(mut self, reuse: bool) -> Self {
        self.reuse_instances = reuse;
        self
    }

    /// Wasmtime's pooling allocator: instance memory reserved up front and
    /// reused, which makes new instances cheaper.
    pub fn with_pooling_allocator(mut self, pooling: bool) -> Self {
        self.pooling_allocator = pooling;
        self
    }

    /// Bytes of linear memory an instance may grow to.
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Installs this policy set instead of the built-in one.
    pub fn with_policies(mut self, policies: PolicySource) -> Self {
        self.policies = Some(policies);
        self
    }

    /// Compiles (or loads from cache) the component and installs the policies.
    pub fn build(self) -> Result<Engine, Error> {
        let wasmtime = self.wasmtime_engine()?;
        let (pre, sha256) = self.instance_template(&wasmtime)?;
        let pool = Pool::new(
            wasmtime,
            pre,
            PoolLimits {
                interruption: self.interruption,
                memory_limit: self.memory_limit,
                reuse_instances: self.reuse_instances,
                max_instances: self.max_instances,
                acquire_timeout: self.acquire_timeout,
            },
        );
        let engine = Engine::on_pool(pool, sha256)?;
        if let Some(policies) = self.policies {
            engine.load_policies(&policies)?;
        }
        Ok(engine)
    }

    /// Wasmtime configured for this builder's interruption and allocator.
    fn wasmtime_engine(&self) -> Result<wasmtime::Engine, Error> {
        let mut config = Config::new();
        match self.interruption {
            Interruption::Fuel(_) => config.consume_fuel(true),
            Interruption::Deadline(_) => config.epoch_interruption(true),
        };
        if self.pooling_allocator {
            let mut pooling = PoolingAllocationConfig::default();
            let slots = u32::try_from(self.max_instances.saturating_mul(2)).unwrap_or(u32::MAX);
            pooling
                .total_component_instances(slots)
                .total_core_instances(slots.saturating_mul(4))
                .total_memories(slots.saturating_mul(4))
                .total_tables(slots.saturating_mul(4))
                .max_memory_size(self.memory_limit);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        }
        let wasmtime =
            wasmtime::Engine::new(&config).map_err(|e| Error::Component(format!("{e:#}")))?;
        if let Interruption::Deadline(_) = self.interruption {
            spawn_epoch_ticker(&wasmtime);
        }
        Ok(wasmtime)
    }

    /// The component (refused unless it is the pinned one), compiled or
    /// loaded from the cache and linked, ready to instantiate; and its
    /// sha256.
    fn instance_template(
        &self,
        wasmtime: &wasmtime::Engine,
    ) -> Result<(MfaEnginePre<HostState>, String), Error> {
        let wasm = match &self.component {
            Some(path) => std::fs::read(path).map_err(|e| Error::files(path, e))?,
            None => component::EMBEDDED.to_vec(),
        };
        let sha256 = component::sha256_hex(&wasm);
        if let Some(expected) = &self.expected_sha256
            && !expected.trim().eq_ignore_ascii_case(&sha256)
        {
            return Err(Error::ComponentDigest {
                expected: expected.clone(),
                actual: sha256,
            });
        }
        let component = component::load(wasmtime, &wasm, self.cache_dir.as_deref())?;
        let mut linker = Linker::<HostState>::new(wasmtime);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(MfaEnginePre::new)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
        Ok((pre, sha256))
    }
}
