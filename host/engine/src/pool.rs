//! The instance pool: at most `max_instances` calls at once (a caller
//! waits for a slot, up to the acquire timeout), warm instances kept for
//! reuse, each call given a fresh budget of fuel or time. An instance whose
//! call trapped is dropped (a trap poisons its store) and the next call
//! instantiates a new one.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use crate::Error;
use crate::bindings::{MfaEngine, MfaEnginePre};
use crate::builder::Interruption;
use crate::host_state::HostState;

/// The policy set instances must hold; generation 0 is the built-in set.
pub(crate) struct PolicyGeneration {
    pub(crate) number: u64,
    pub(crate) source: Option<crate::bindings::types::PolicySet>,
    /// Reported with every decision made under it.
    pub(crate) revision: String,
}

/// What bounds the pool and each call.
pub(crate) struct PoolLimits {
    pub(crate) interruption: Interruption,
    pub(crate) memory_limit: usize,
    pub(crate) reuse_instances: bool,
    pub(crate) max_instances: usize,
    pub(crate) acquire_timeout: Duration,
}

/// Instances of one compiled component.
pub(crate) struct Pool {
    wasmtime: wasmtime::Engine,
    pre: MfaEnginePre<HostState>,
    pub(crate) limits: PoolLimits,
    slots: Slots,
    idle: Mutex<Vec<Instance>>,
}

/// One instance and the policy generation it holds.
pub(crate) struct Instance {
    store: Store<HostState>,
    bindings: MfaEngine,
    pub(crate) generation: u64,
}

impl Pool {
    pub(crate) fn new(
        wasmtime: wasmtime::Engine,
        pre: MfaEnginePre<HostState>,
        limits: PoolLimits,
    ) -> Self {
        Self {
            wasmtime,
            pre,
            slots: Slots {
                free: Mutex::new(limits.max_instances),
                freed: Condvar::new(),
            },
            limits,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A slot for one call, waiting up to the acquire timeout.
    pub(crate) fn acquire(&self) -> Result<SlotGuard<'_>, Error> {
        self.slots
            .acquire(self.limits.acquire_timeout)
            .ok_or(Error::Busy {
                instances: self.limits.max_instances,
                waited: self.limits.acquire_timeout,
            })
    }

    /// A slot for one call if one is free now; `None` rather than wait.
    pub(crate) fn try_acquire(&self) -> Option<SlotGuard<'_>> {
        self.slots.try_acquire()
    }

    /// One guest call with a fresh fuel budget. On a trap the error is
    /// returned and the caller drops the instance.
    pub(crate) fn run<R>(
        &self,
        instance: &mut Instance,
        f: impl FnOnce(&crate::bindings::Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        let interruption = self.limits.interruption;
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
    pub(crate) fn checkout(&self, generation: &PolicyGeneration) -> Result<Instance, Error> {
        let idle = lock(&self.idle).pop();
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

    /// Gives `instance` back for the next call (or drops it, without reuse).
    pub(crate) fn checkin(&self, instance: Instance) {
        if self.limits.reuse_instances {
            lock(&self.idle).push(instance);
        }
    }

    fn instantiate(&self) -> Result<Instance, Error> {
        let mut store = Store::new(&self.wasmtime, HostState::new(self.limits.memory_limit));
        store.limiter(|state| &mut state.limits);
        arm(&mut store, self.limits.interruption)?;
        let bindings = self
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

/// Advances `engine`'s epoch every tick (10 ms) while it lives.
pub(crate) fn spawn_epoch_ticker(engine: &wasmtime::Engine) {
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
    /// A slot, or `None` when none came free within `timeout`.
    fn acquire(&self, timeout: Duration) -> Option<SlotGuard<'_>> {
        let until = Instant::now() + timeout;
        let mut free = lock(&self.free);
        while *free == 0 {
            let left = until.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *free -= 1;
        Some(SlotGuard(self))
    }
}

impl Slots {
    /// A slot if one is free now.
    fn try_acquire(&self) -> Option<SlotGuard<'_>> {
        let mut free = lock(&self.free);
        if *free == 0 {
            return None;
        }
        *free -= 1;
        Some(SlotGuard(self))
    }
}

/// A call's slot, given back when dropped.
pub(crate) struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.free) += 1;
        self.0.freed.notify_one();
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves consistent data behind.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trying never waits: with every slot held it answers `None` at once,
    /// and a slot given back can be taken again.
    #[test]
    fn trying_for_a_slot_never_waits_and_a_freed_slot_is_taken() {
        let slots = Slots {
            free: Mutex::new(2),
            freed: Condvar::new(),
        };
        let first = slots.try_acquire().expect("two free");
        let second = slots.try_acquire().expect("one free");
        assert!(slots.try_acquire().is_none(), "none free");
        drop(first);
        let third = slots.try_acquire().expect("one given back");
        assert!(slots.try_acquire().is_none());
        assert!(slots.acquire(Duration::from_millis(1)).is_none());
        drop((second, third));
        assert_eq!(*lock(&slots.free), 2);
    }
}
