//! The engine: a compiled component, a pool of warm instances, and the
//! policy set every instance must hold.
//!
//! Each call runs on an instance taken from the pool with a fresh fuel
//! budget under a memory cap. An instance whose call trapped is dropped
//! (a trap poisons its store) and the next call instantiates a new one.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use crate::Error;
use crate::api::{
    CedarAnswer, CodeRequest, Diagnostic, Enrolment, EnrolmentRequest, LoginStep, Outcome,
    PolicySetInfo, PolicySource, Request, User, Verification,
};
use crate::bindings::{MfaEngine, MfaEnginePre};
use crate::component;
use crate::host_state::HostState;
use crate::log_text::Shown;
use crate::outcome_check;
use crate::timestamp::{whole_millis, whole_millis_login};

/// Fuel per call: about a second of guest work, far above what a decision
/// (or installing a policy set) needs, low enough to stop a runaway guest.
pub const DEFAULT_FUEL_PER_CALL: u64 = 2_000_000_000;
/// Memory cap per instance.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;
/// How long one call may run by default: decisions take well under a
/// millisecond, loading a large policy set tens of milliseconds.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

/// Configures an [`Engine`].
/// How a runaway call is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// Count executed instructions (fuel); a call may use this much.
    Fuel(u64),
    /// Wall-clock deadline per call (wasmtime epochs, ticked every 10 ms
    /// by a background thread): cheaper than fuel (the default, 2 s).
    Deadline(Duration),
}

#[derive(Debug, Clone)]
pub struct EngineBuilder {
    component: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    interruption: Interruption,
    memory_limit: usize,
    policies: Option<PolicySource>,
    max_instances: usize,
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
        let component = component::load(&wasmtime, &wasm, self.cache_dir.as_deref())?;
        let mut linker = Linker::<HostState>::new(&wasmtime);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(MfaEnginePre::new)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
        let engine = Engine {
            shared: Arc::new(Shared {
                wasmtime,
                pre,
                sha256,
                interruption: self.interruption,
                memory_limit: self.memory_limit,
                reuse_instances: self.reuse_instances,
                slots: Slots {
                    free: Mutex::new(self.max_instances),
                    freed: Condvar::new(),
                },
                current: Mutex::new(Arc::new(PolicyGeneration {
                    number: 0,
                    source: None,
                    revision: String::new(),
                })),
                loading: Mutex::new(()),
                idle: Mutex::new(Vec::new()),
            }),
        };
        // The built-in set and its revision, from a first instance (kept
        // warm in the pool for the first call). The source is kept so that
        // an instance already at a later generation is brought back to it.
        let revision = engine.policy_set_info()?.revision;
        let built_in = engine.default_policies()?;
        *lock(&engine.shared.current) = Arc::new(PolicyGeneration {
            number: 0,
            source: Some((&built_in).into()),
            revision,
        });
        if let Some(policies) = self.policies {
            engine.load_policies(&policies)?;
        }
        Ok(engine)
    }
}

/// The policy set instances must hold; generation 0 is the built-in set.
struct PolicyGeneration {
    number: u64,
    source: Option<crate::bindings::types::PolicySet>,
    /// Reported with every decision made under it.
    revision: String,
}

/// Advances `engine`'s epoch every tick (10 ms) while it lives.
fn spawn_epoch_ticker(engine: &wasmtime::Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("mfa-reset-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("a thread for the epoch ticker");
}

const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How many calls may run at once: a counting semaphore, so that the pool
/// never holds more instances than that, however many threads call.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.free) += 1;
        self.0.freed.notify_one();
    }
}

struct Shared {
    wasmtime: wasmtime::Engine,
    pre: MfaEnginePre<HostState>,
    /// Of the component's bytes, lower-case hex.
    sha256: String,
    interruption: Interruption,
    memory_limit: usize,
    reuse_instances: bool,
    slots: Slots,
    current: Mutex<Arc<PolicyGeneration>>,
    /// Serializes policy loads so generations never interleave.
    loading: Mutex<()>,
    idle: Mutex<Vec<Instance>>,
}

struct Instance {
    store: Store<HostState>,
    bindings: MfaEngine,
    generation: u64,
}

/// A loaded component ready to decide; cheap to clone and share across threads.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("interruption", &self.shared.interruption)
            .field("memory_limit", &self.shared.memory_limit)
            .finish_non_exhaustive()
    }
}

/// Logs who and what, never the code or the key.
fn log_verification(v: &Verification) {
    tracing::info!(
        user = %Shown(&v.user.id),
        action = %v.audit.action,
        result = ?v.result,
        failures = v.authenticator.failures,
        "code checked"
    );
}

/// A request error of the component, with the field named as callers of
/// this crate write it.
fn invalid(e: crate::bindings::types::RequestError) -> Error {
    Error::InvalidRequest {
        field: crate::convert::field_path(&e.field),
        message: e.message,
    }
}

/// Gives the store a fresh budget for one call.
fn arm(store: &mut Store<HostState>, interruption: Interruption) -> Result<(), Error> {
    match interruption {
        Interruption::Fuel(fuel) => store
            .set_fuel(fuel)
            .map_err(|e| Error::Component(format!("{e:#}"))),
        Interruption::Deadline(deadline) => {
            let ticks = deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1);
            store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
            Ok(())
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves consistent data behind.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    /// An engine on the embedded component and the built-in policies.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Decides `request`; on allow the outcome carries the new state.
    pub fn decide(&self, request: &Request) -> Result<Outcome, Error> {
        whole_millis("now", request.now)?;
        whole_millis("session.login_at", request.session.login_at)?;
        whole_millis("session.last_activity_at", request.session.last_activity_at)?;
        let request = request.into();
        let generation = self.generation();
        let answer = self.call_checked(
            &generation,
            |guest, store| guest.call_decide(store, &request),
            |answer| match answer {
                Ok(outcome) => outcome_check::check(&request, outcome),
                Err(_) => Ok(()),
            },
        )?;
        answer
            .map(|outcome| Outcome {
                policy_revision: generation.revision.clone(),
                ..outcome.into()
            })
            .map_err(invalid)
    }

    /// Checks `policies` without installing them: errors and warnings.
    pub fn validate_policies(&self, policies: &PolicySource) -> Result<Vec<Diagnostic>, Error> {
        let set = policies.into();
        let generation = self.generation();
        let diagnostics = self.call(&generation, |guest, store| {
            guest.call_validate_policy_set(store, &set)
        })?;
        Ok(diagnostics.into_iter().map(Into::into).collect())
    }

    /// Installs `policies` if they have no errors. On errors the set in
    /// force keeps deciding and the diagnostics come back.
    pub fn load_policies(&self, policies: &PolicySource) -> Result<PolicySetInfo, Error> {
        let _loading = lock(&self.shared.loading);
        let set: crate::bindings::types::PolicySet = policies.into();
        let current = self.generation();
        let mut instance = self.checkout(&current)?;
        let result = self.run(&mut instance, |guest, store| {
            guest.call_load_policy_set(store, &set)
        });
        match result {
            Ok(Ok(info)) => {
                instance.generation = current.number + 1;
                *lock(&self.shared.current) = Arc::new(PolicyGeneration {
                    number: instance.generation,
                    source: Some(set),
                    revision: info.revision.clone(),
                });
                self.checkin(instance);
                Ok(info.into())
            }
            Ok(Err(diagnostics)) => {
                self.checkin(instance);
                Err(Error::InvalidPolicies(
                    diagnostics.into_iter().map(Into::into).collect(),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// The sha256 of the loaded component's bytes, lower-case hex (the value
    /// for [`EngineBuilder::with_expected_sha256`]).
    pub fn component_sha256(&self) -> &str {
        &self.shared.sha256
    }

    /// The policy set in force.
    pub fn policy_set_info(&self) -> Result<PolicySetInfo, Error> {
        let generation = self.generation();
        Ok(self
            .call(&generation, |guest, store| {
                guest.call_current_policy_set(store)
            })?
            .into())
    }

    /// The policy set built into the component.
    pub fn default_policies(&self) -> Result<PolicySource, Error> {
        let generation = self.generation();
        Ok(self
            .call(&generation, |guest, store| {
                guest.call_default_policy_set(store)
            })?
            .into())
    }

    /// What a login of `user` needs after the password (R3, R5).
    pub fn login_step(&self, user: &User) -> Result<LoginStep, Error> {
        let user = user.into();
        let generation = self.generation();
        Ok(self
            .call(&generation, |guest, store| {
                guest.call_next_login_step(store, &user)
            })?
            .into())
    }

    /// Creates a new pending TOTP key for a user whose enrolment is due.
    pub fn start_enrolment(&self, request: &EnrolmentRequest) -> Result<Enrolment, Error> {
        whole_millis_login(request.now, &request.session, &request.authenticator)?;
        let request = request.into();
        let generation = self.generation();
        let enrolment = self.call(&generation, |guest, store| {
            guest.call_start_enrolment(store, &request)
        })?;
        let enrolment: Enrolment = enrolment.map(Into::into).map_err(invalid)?;
        tracing::info!(
            user = %Shown(&request.user.id),
            action = "start_enrolment",
            allowed = enrolment.decision.allowed,
            "enrolment"
        );
        Ok(enrolment)
    }

    /// Confirms a pending enrolment with the first code from the app.
    pub fn confirm_enrolment(&self, request: &CodeRequest) -> Result<Verification, Error> {
        whole_millis_login(request.now, &request.session, &request.authenticator)?;
        let request = request.into();
        let generation = self.generation();
        let verification = self.call(&generation, |guest, store| {
            guest.call_confirm_enrolment(store, &request)
        })?;
        verification
            .map(Into::into)
            .map_err(invalid)
            .inspect(log_verification)
    }

    /// Checks a login code.
    pub fn verify_login(&self, request: &CodeRequest) -> Result<Verification, Error> {
        whole_millis_login(request.now, &request.session, &request.authenticator)?;
        let request = request.into();
        let generation = self.generation();
        let verification = self.call(&generation, |guest, store| {
            guest.call_verify_login(store, &request)
        })?;
        verification
            .map(Into::into)
            .map_err(invalid)
            .inspect(log_verification)
    }

    /// Evaluates one `cedar run-tests` case (as JSON) with the policies in force.
    pub fn authorize_cedar(&self, test_case_json: &str) -> Result<CedarAnswer, Error> {
        let generation = self.generation();
        self.call(&generation, |guest, store| {
            guest.call_authorize_cedar(store, test_case_json)
        })?
        .map(Into::into)
        .map_err(|message| Error::InvalidRequest {
            field: "(test case)".into(),
            message,
        })
    }

    fn generation(&self) -> Arc<PolicyGeneration> {
        lock(&self.shared.current).clone()
    }

    /// Runs `f` on a pooled instance that holds `generation`'s policies.
    fn call<R>(
        &self,
        generation: &PolicyGeneration,
        f: impl FnOnce(&crate::bindings::Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        self.call_checked(generation, f, |_| Ok(()))
    }

    /// [`Self::call`], refusing an answer `check` finds wrong; the instance
    /// that gave it is not trusted with another call.
    fn call_checked<R>(
        &self,
        generation: &PolicyGeneration,
        f: impl FnOnce(&crate::bindings::Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
        check: impl FnOnce(&R) -> Result<(), String>,
    ) -> Result<R, Error> {
        let _slot = self.shared.slots.acquire();
        let mut instance = self.checkout(generation)?;
        let result = self.run(&mut instance, f)?;
        if let Err(reason) = check(&result) {
            tracing::error!(%reason, "refused the component's answer; instance discarded");
            return Err(Error::BadOutcome { reason });
        }
        self.checkin(instance);
        Ok(result)
    }

    /// One guest call with a fresh fuel budget. On a trap the error is
    /// returned and the caller drops the instance.
    fn run<R>(
        &self,
        instance: &mut Instance,
        f: impl FnOnce(&crate::bindings::Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        let interruption = self.shared.interruption;
        arm(&mut instance.store, interruption)?;
        let guest = instance.bindings.mfa_reset_engine_engine();
        f(guest, &mut instance.store).map_err(|e| match (e.downcast_ref::<Trap>(), interruption) {
            (Some(Trap::OutOfFuel), Interruption::Fuel(fuel)) => Error::OutOfFuel { fuel },
            (Some(Trap::Interrupt), Interruption::Deadline(deadline)) => {
                Error::DeadlineExceeded { deadline }
            }
            _ => Error::Trapped {
                reason: format!("{e:#}"),
            },
        })
    }

    /// An idle instance, or a new one, brought to `generation`'s policies.
    fn checkout(&self, generation: &PolicyGeneration) -> Result<Instance, Error> {
        let idle = lock(&self.shared.idle).pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => self.instantiate()?,
        };
        // Generation 0 is the built-in set every new instance starts with.
        if instance.generation != generation.number
            && let Some(set) = &generation.source
        {
            let loaded = self.run(&mut instance, |guest, store| {
                guest.call_load_policy_set(store, set)
            })?;
            // The set was validated when first loaded, so this cannot fail.
            loaded.map_err(|d| Error::InvalidPolicies(d.into_iter().map(Into::into).collect()))?;
            instance.generation = generation.number;
        }
        Ok(instance)
    }

    fn checkin(&self, instance: Instance) {
        if self.shared.reuse_instances {
            lock(&self.shared.idle).push(instance);
        }
    }

    fn instantiate(&self) -> Result<Instance, Error> {
        let mut store = Store::new(
            &self.shared.wasmtime,
            HostState::new(self.shared.memory_limit),
        );
        store.limiter(|state| &mut state.limits);
        arm(&mut store, self.shared.interruption)?;
        let bindings = self
            .shared
            .pre
            .instantiate(&mut store)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
        Ok(Instance {
            store,
            bindings,
            generation: 0,
        })
    }
}
