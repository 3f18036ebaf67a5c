//! The engine: a compiled component, a pool of warm instances, and the
//! policy set every instance must hold.
//!
//! Each call runs on an instance taken from the pool with a fresh fuel
//! budget under a memory cap. An instance whose call trapped is dropped
//! (a trap poisons its store) and the next call instantiates a new one.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use wasmtime::component::Linker;
use wasmtime::{Config, Store, Trap};

use crate::Error;
use crate::api::{
    CedarAnswer, CodeRequest, Diagnostic, Enrolment, EnrolmentRequest, LoginStep, Outcome,
    PolicySetInfo, PolicySource, Request, User, Verification,
};
use crate::bindings::{MfaEngine, MfaEnginePre};
use crate::component;
use crate::host_state::HostState;
use crate::log_text::Shown;

/// Fuel per call: about a second of guest work, far above what a decision
/// (or installing a policy set) needs, low enough to stop a runaway guest.
pub const DEFAULT_FUEL_PER_CALL: u64 = 2_000_000_000;
/// Memory cap per instance.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 << 20;

/// Configures an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    component: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    fuel_per_call: u64,
    memory_limit: usize,
    policies: Option<PolicySource>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            component: None,
            cache_dir: component::default_cache_dir(),
            fuel_per_call: DEFAULT_FUEL_PER_CALL,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            policies: None,
        }
    }
}

impl EngineBuilder {
    /// Loads this component file instead of the embedded one.
    pub fn with_component_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.component = Some(path.into());
        self
    }

    /// Where compiled components are cached; `None` compiles every time.
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Fuel (roughly, wasm instructions) each call may use.
    pub fn with_fuel_per_call(mut self, fuel: u64) -> Self {
        self.fuel_per_call = fuel;
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
        config.consume_fuel(true);
        let wasmtime =
            wasmtime::Engine::new(&config).map_err(|e| Error::Component(format!("{e:#}")))?;
        let wasm = match &self.component {
            Some(path) => std::fs::read(path).map_err(|e| Error::files(path, e))?,
            None => component::EMBEDDED.to_vec(),
        };
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
                fuel_per_call: self.fuel_per_call,
                memory_limit: self.memory_limit,
                current: Mutex::new(Arc::new(PolicyGeneration {
                    number: 0,
                    source: None,
                })),
                loading: Mutex::new(()),
                idle: Mutex::new(Vec::new()),
            }),
        };
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
}

struct Shared {
    wasmtime: wasmtime::Engine,
    pre: MfaEnginePre<HostState>,
    fuel_per_call: u64,
    memory_limit: usize,
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
            .field("fuel_per_call", &self.shared.fuel_per_call)
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
        let request = request.into();
        let generation = self.generation();
        let answer = self.call(&generation, |guest, store| {
            guest.call_decide(store, &request)
        })?;
        answer.map(Outcome::from).map_err(invalid)
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
        let mut instance = self.checkout(generation)?;
        let result = self.run(&mut instance, f)?;
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
        let fuel = self.shared.fuel_per_call;
        instance
            .store
            .set_fuel(fuel)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
        let guest = instance.bindings.mfa_reset_engine_engine();
        f(guest, &mut instance.store).map_err(|e| match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Error::OutOfFuel { fuel },
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
        lock(&self.shared.idle).push(instance);
    }

    fn instantiate(&self) -> Result<Instance, Error> {
        let mut store = Store::new(
            &self.shared.wasmtime,
            HostState::new(self.shared.memory_limit),
        );
        store.limiter(|state| &mut state.limits);
        store
            .set_fuel(self.shared.fuel_per_call)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
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
