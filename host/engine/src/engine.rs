//! The engine: a compiled component's instance pool and the policy set
//! every instance must hold, behind a typed API with no wasmtime in it.

use std::sync::{Arc, Mutex};

use wasmtime::Store;

use crate::Error;
use crate::api::{
    CedarAnswer, CodeRequest, Diagnostic, Enrolment, EnrolmentRequest, LoginStep, NewRecoveryCodes,
    Outcome, PolicySetInfo, PolicySource, ProvisioningOutcome, ProvisioningRequest,
    RecoveryCodesRequest, RecoveryOutcome, RecoveryRequest, Request, User, Verification,
};
use crate::builder::EngineBuilder;
use crate::host_state::HostState;
use crate::log_text::Shown;
use crate::outcome_check;
use crate::pool::{PolicyGeneration, Pool, SlotGuard, lock};
use crate::timestamp::{whole_millis, whole_millis_login, whole_millis_session};

struct Shared {
    pool: Pool,
    /// Of the component's bytes, lower-case hex.
    sha256: String,
    current: Mutex<Arc<PolicyGeneration>>,
    /// Serializes policy loads so generations never interleave.
    loading: Mutex<()>,
}

/// A loaded component ready to decide; cheap to clone and share across threads.
///
/// ```
/// use mfa_reset::{Engine, Error, Request};
///
/// let engine = Engine::new()?;
/// let request = Request::from_json(r#"{
///     "actor": {"id": "bob", "role": "sub_user", "mfa": "active",
///               "organization": {"id": "acme", "enforce_mfa": false}},
///     "session": {"login_at": "2026-11-20T09:00:00Z",
///                 "last_activity_at": "2026-11-22T09:00:00Z", "mfa_satisfied": true},
///     "now": "2026-11-22T10:00:00Z",
///     "action": "reset_own_mfa"
/// }"#)?;
/// let outcome = engine.decide(&request)?;
/// assert!(outcome.decision.allowed, "R2: a user resets their own MFA");
///
/// // A bad request names its field, as the caller wrote it.
/// let Err(Error::InvalidRequest(refused)) = Request::from_json(r#"{"actor": 1}"#) else {
///     panic!("refused");
/// };
/// assert_eq!(refused.field, "actor");
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("interruption", &self.shared.pool.limits.interruption)
            .field("memory_limit", &self.shared.pool.limits.memory_limit)
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
    Error::invalid_request(crate::convert::field_path(&e.field), e.message)
}

impl Engine {
    /// An engine on the embedded component and the built-in policies.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder to configure an engine before it is built.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Decides `request`; on allow the outcome carries the new state.
    /// Waits for a free instance (up to the acquire timeout).
    pub fn decide(&self, request: &Request) -> Result<Outcome, Error> {
        let slot = self.shared.pool.acquire()?;
        self.decide_in(slot, request)
    }

    /// Decides `request` as [`Self::decide`] does if an instance is free
    /// right now; `None` instead of waiting for one. For callers on an
    /// async worker, which must never block on the other calls.
    pub fn try_decide(&self, request: &Request) -> Option<Result<Outcome, Error>> {
        let slot = self.shared.pool.try_acquire()?;
        Some(self.decide_in(slot, request))
    }

    fn decide_in(&self, slot: SlotGuard<'_>, request: &Request) -> Result<Outcome, Error> {
        whole_millis_session(request.now, &request.session)?;
        let action = request.action.cedar_name().to_string();
        let request = request.into();
        let generation = self.generation();
        let answer = self.call_checked_in(
            slot,
            &generation,
            |guest, store| guest.call_decide(store, &request),
            |answer| match answer {
                Ok(outcome) => outcome_check::check(&request, outcome, &action),
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

    /// Decides `requests` in one call of the component, each as
    /// [`Self::decide`] would (and each answer checked the same way): one
    /// result per request, in order. Nothing is changed by deciding.
    pub fn decide_batch(&self, requests: &[Request]) -> Result<Vec<Result<Outcome, Error>>, Error> {
        for request in requests {
            whole_millis_session(request.now, &request.session)?;
        }
        let actions: Vec<String> = requests
            .iter()
            .map(|r| r.action.cedar_name().to_string())
            .collect();
        let wit_requests: Vec<crate::bindings::types::Request> =
            requests.iter().map(Into::into).collect();
        let generation = self.generation();
        let answers = self.call_checked(
            &generation,
            |guest, store| guest.call_decide_batch(store, &wit_requests),
            |answers| {
                if answers.len() != wit_requests.len() {
                    return Err(outcome_check::Fault::WrongBatch {
                        asked: wit_requests.len(),
                        answered: answers.len(),
                    });
                }
                for ((request, answer), action) in wit_requests.iter().zip(answers).zip(&actions) {
                    if let Ok(outcome) = answer {
                        outcome_check::check(request, outcome, action)?;
                    }
                }
                Ok(())
            },
        )?;
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer
                    .map(|outcome| Outcome {
                        policy_revision: generation.revision.clone(),
                        ..outcome.into()
                    })
                    .map_err(invalid)
            })
            .collect())
    }

    /// Decides an identity provider's request (R13) and, when allowed, the
    /// user's new state; the host checks the answer as for [`Self::decide`].
    pub fn decide_provisioning(
        &self,
        request: &ProvisioningRequest,
    ) -> Result<ProvisioningOutcome, Error> {
        whole_millis("now", request.now)?;
        let action = request.action.cedar_name();
        let request = request.into();
        let generation = self.generation();
        let answer = self.call_checked(
            &generation,
            |guest, store| guest.call_decide_provisioning(store, &request),
            |answer| match answer {
                Ok(outcome) => outcome_check::check_provisioning(&request, outcome, action),
                Err(_) => Ok(()),
            },
        )?;
        answer
            .map(|outcome| ProvisioningOutcome {
                policy_revision: generation.revision.clone(),
                ..outcome.into()
            })
            .map_err(invalid)
    }

    /// Decides a step of a support desk's recovery case (R14) and, when
    /// allowed, the case's new state (and, for a redemption, the account's);
    /// the host checks the answer as for [`Self::decide`].
    pub fn decide_recovery(&self, request: &RecoveryRequest) -> Result<RecoveryOutcome, Error> {
        whole_millis_session(request.now, &request.session)?;
        whole_millis("case.opened_at", request.case.opened_at)?;
        if let Some(at) = request.case.ticket_issued_at {
            whole_millis("case.ticket_issued_at", at)?;
        }
        let action = request.action.cedar_name();
        let request = request.into();
        let generation = self.generation();
        let answer = self.call_checked(
            &generation,
            |guest, store| guest.call_decide_recovery(store, &request),
            |answer| match answer {
                Ok(outcome) => outcome_check::check_recovery(&request, outcome, action),
                Err(_) => Ok(()),
            },
        )?;
        answer
            .map(|outcome| RecoveryOutcome {
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
        let pool = &self.shared.pool;
        let mut instance = pool.checkout(&current)?;
        let result = pool.run(&mut instance, |guest, store| {
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
                pool.checkin(instance);
                Ok(info.into())
            }
            Ok(Err(diagnostics)) => {
                pool.checkin(instance);
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

    /// R15: checks a recovery code instead of a login code (each accepted
    /// once, wrong ones locking like wrong codes). On `Accepted`, mark the
    /// session `recovery_code_login`: the policies decide what it may do.
    pub fn use_recovery_code(&self, request: &CodeRequest) -> Result<Verification, Error> {
        whole_millis_login(request.now, &request.session, &request.authenticator)?;
        let request = request.into();
        let generation = self.generation();
        let verification = self.call_checked(
            &generation,
            |guest, store| guest.call_use_recovery_code(store, &request),
            |answer| match answer {
                Ok(v) => outcome_check::check_recovery_code(&request, v),
                Err(_) => Ok(()),
            },
        )?;
        verification
            .map(Into::into)
            .map_err(invalid)
            .inspect(log_verification)
    }

    /// R15: a new set of recovery codes for a user with an enrolled
    /// authenticator; the old set is void. Show the codes once.
    pub fn regenerate_recovery_codes(
        &self,
        request: &RecoveryCodesRequest,
    ) -> Result<NewRecoveryCodes, Error> {
        whole_millis_login(request.now, &request.session, &request.authenticator)?;
        let request = request.into();
        let generation = self.generation();
        let answer = self.call_checked(
            &generation,
            |guest, store| guest.call_regenerate_recovery_codes(store, &request),
            |answer| match answer {
                Ok(codes) => outcome_check::check_regeneration(&request, codes),
                Err(_) => Ok(()),
            },
        )?;
        let codes: NewRecoveryCodes = answer.map(Into::into).map_err(invalid)?;
        tracing::info!(
            user = %Shown(&request.user.id),
            action = "regenerate_recovery_codes",
            allowed = codes.decision.allowed,
            "recovery codes"
        );
        Ok(codes)
    }

    /// Evaluates one `cedar run-tests` case (as JSON) with the policies in force.
    pub fn authorize_cedar(&self, test_case_json: &str) -> Result<CedarAnswer, Error> {
        let generation = self.generation();
        self.call(&generation, |guest, store| {
            guest.call_authorize_cedar(store, test_case_json)
        })?
        .map(Into::into)
        .map_err(|message| Error::invalid_request("(test case)", message))
    }

    /// `request` in Cedar terms, as [`Self::decide`] asks the policies in
    /// force: the `request` and `entities` of a `cedar run-tests` case, as
    /// JSON text without a name or an expected decision.
    pub fn cedar_case(&self, request: &Request) -> Result<String, Error> {
        whole_millis_session(request.now, &request.session)?;
        let request = request.into();
        let generation = self.generation();
        self.call(&generation, |guest, store| {
            guest.call_cedar_case(store, &request)
        })?
        .map_err(invalid)
    }

    /// The engine on `pool`, holding the built-in set (read from a first
    /// instance, kept warm in the pool for the first call). The source is
    /// kept so that an instance already at a later generation is brought
    /// back to it.
    pub(crate) fn on_pool(pool: Pool, sha256: String) -> Result<Self, Error> {
        let engine = Engine {
            shared: Arc::new(Shared {
                pool,
                sha256,
                current: Mutex::new(Arc::new(PolicyGeneration {
                    number: 0,
                    source: None,
                    revision: String::new(),
                })),
                loading: Mutex::new(()),
            }),
        };
        let revision = engine.policy_set_info()?.revision;
        let built_in = engine.default_policies()?;
        *lock(&engine.shared.current) = Arc::new(PolicyGeneration {
            number: 0,
            source: Some((&built_in).into()),
            revision,
        });
        Ok(engine)
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
        check: impl FnOnce(&R) -> Result<(), outcome_check::Fault>,
    ) -> Result<R, Error> {
        let slot = self.shared.pool.acquire()?;
        self.call_checked_in(slot, generation, f, check)
    }

    /// [`Self::call_checked`] in a slot already held (released on return).
    fn call_checked_in<R>(
        &self,
        _slot: SlotGuard<'_>,
        generation: &PolicyGeneration,
        f: impl FnOnce(&crate::bindings::Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
        check: impl FnOnce(&R) -> Result<(), outcome_check::Fault>,
    ) -> Result<R, Error> {
        let pool = &self.shared.pool;
        let mut instance = pool.checkout(generation)?;
        let result = pool.run(&mut instance, f)?;
        if let Err(fault) = check(&result) {
            tracing::error!(%fault, "refused the component's answer; instance discarded");
            return Err(Error::BadOutcome {
                reason: fault.to_string(),
            });
        }
        pool.checkin(instance);
        Ok(result)
    }
}
