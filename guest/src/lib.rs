//! The mfa-reset component: Cedar decides, the MFA state machine applies.
//!
//! The component is pure: a request comes in with the caller, the session,
//! the clock value and the target's stored state; a decision, the new state
//! and the audit record go out. The only state kept between calls is the
//! installed policy set, parsed once per instance.
//!
//! - `policy_store.rs`: parses and validates a policy set, with diagnostics.
//! - `request_check.rs`: checks the request's shape (never permissions).
//! - `cedar_request/`: turns a request into Cedar entities and context (a
//!   recovery case step in `recovery.rs`; the load-time schema check in
//!   `schema_check.rs`).
//! - `decide.rs`: evaluates and assembles the outcome.
//! - `transition.rs`: the state change an allow permits, and its message.
//! - `authenticator.rs`: what a login needs; TOTP codes, replay, lockout;
//!   recovery codes used and regenerated.
//! - `recovery_codes.rs`: recovery codes made, hashed and taken (R15).
//! - `enrolment.rs`: a new key, its otpauth:// URI and QR codes.
//! - `provisioning.rs`: an identity provider's request (SCIM), decided and applied.
//! - `recovery/`: a support desk's recovery case step, decided and applied.
//! - `cedar_case.rs`: evaluates a `cedar run-tests` case (`policies test`).

#![deny(missing_docs)]

mod authenticator;
mod cedar_case;
mod cedar_request;
mod decide;
mod diagnostics;
mod enrolment;
mod policy_store;
mod provisioning;
mod recovery;
mod recovery_codes;
mod request_check;
mod transition;

use std::cell::RefCell;

use mfa_reset::engine::types::{
    CedarAnswer, CodeRequest, Diagnostic, Enrolment, EnrolmentRequest, LoginStep, NewRecoveryCodes,
    Outcome, PolicySet as PolicySetSource, PolicySetInfo, ProvisioningOutcome, ProvisioningRequest,
    RecoveryCodesRequest, RecoveryOutcome, RecoveryRequest, Request, RequestError, SourceFile,
    User, Verification,
};
use policy_store::PolicyStore;

/// The bindings generated from `wit/engine.wit`; their items carry the
/// WIT file's comments where it has them.
#[allow(missing_docs)]
mod wit {
    wit_bindgen::generate!({
        world: "mfa-engine",
        path: "../wit",
        additional_derives: [PartialEq, Eq],
        default_bindings_module: "crate::wit",
    });
}
use wit::{exports, mfa_reset};

/// For native callers (unit tests, benchmarks): the engine interface and
/// its generated WIT types, implemented by [`Component`].
pub use exports::mfa_reset::engine::engine::Guest;
pub use mfa_reset::engine::types;

/// Where users with an expired session are sent unless the host configures it (R8).
const DEFAULT_SUPPORT_URL: &str = "https://support.example.com/mfa";

thread_local! {
    /// The policy set in force; `None` until first use, then the default.
    static STORE: RefCell<Option<PolicyStore>> = const { RefCell::new(None) };
}

/// The policy set compiled into the component from `policies/`.
fn default_source() -> PolicySetSource {
    PolicySetSource {
        policies: vec![SourceFile {
            name: "policies/mfa.cedar".into(),
            text: include_str!("../../policies/mfa.cedar").into(),
        }],
        schema: SourceFile {
            name: "policies/mfa.cedarschema".into(),
            text: include_str!("../../policies/mfa.cedarschema").into(),
        },
        support_url: DEFAULT_SUPPORT_URL.into(),
    }
}

/// Runs `f` on the policy set in force, installing the default on first use.
fn with_store<R>(f: impl FnOnce(&PolicyStore) -> R) -> R {
    STORE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let store = slot.get_or_insert_with(|| {
            PolicyStore::compile(&default_source())
                .expect("the built-in policy set is validated by the test suite")
        });
        f(store)
    })
}

/// The engine interface; natively callable as `<Component as Guest>::…`.
pub struct Component;

impl Guest for Component {
    fn default_policy_set() -> PolicySetSource {
        default_source()
    }

    fn validate_policy_set(set: PolicySetSource) -> Vec<Diagnostic> {
        match PolicyStore::compile(&set) {
            Ok(store) => store.info().warnings,
            Err(diagnostics) => diagnostics,
        }
    }

    fn load_policy_set(set: PolicySetSource) -> Result<PolicySetInfo, Vec<Diagnostic>> {
        let store = PolicyStore::compile(&set)?;
        let info = store.info();
        STORE.with(|cell| *cell.borrow_mut() = Some(store));
        Ok(info)
    }

    fn current_policy_set() -> PolicySetInfo {
        with_store(PolicyStore::info)
    }

    fn decide(request: Request) -> Result<Outcome, RequestError> {
        with_store(|store| decide::decide(store, &request))
    }

    fn decide_batch(requests: Vec<Request>) -> Vec<Result<Outcome, RequestError>> {
        with_store(|store| {
            requests
                .iter()
                .map(|request| decide::decide(store, request))
                .collect()
        })
    }

    fn decide_provisioning(
        request: ProvisioningRequest,
    ) -> Result<ProvisioningOutcome, RequestError> {
        with_store(|store| provisioning::decide(store, &request))
    }

    fn decide_recovery(request: RecoveryRequest) -> Result<RecoveryOutcome, RequestError> {
        with_store(|store| recovery::decide(store, &request))
    }

    fn next_login_step(user: User) -> LoginStep {
        authenticator::login_step(&user)
    }

    fn start_enrolment(request: EnrolmentRequest) -> Result<Enrolment, RequestError> {
        with_store(|store| enrolment::start(store, &request))
    }

    fn confirm_enrolment(request: CodeRequest) -> Result<Verification, RequestError> {
        with_store(|store| authenticator::confirm(store, &request))
    }

    fn verify_login(request: CodeRequest) -> Result<Verification, RequestError> {
        with_store(|store| authenticator::verify(store, &request))
    }

    fn use_recovery_code(request: CodeRequest) -> Result<Verification, RequestError> {
        with_store(|store| authenticator::use_recovery_code(store, &request))
    }

    fn regenerate_recovery_codes(
        request: RecoveryCodesRequest,
    ) -> Result<NewRecoveryCodes, RequestError> {
        with_store(|store| authenticator::regenerate(store, &request))
    }

    fn authorize_cedar(test_case_json: String) -> Result<CedarAnswer, String> {
        with_store(|store| cedar_case::authorize(store, &test_case_json))
    }

    fn cedar_case(request: Request) -> Result<String, RequestError> {
        with_store(|store| cedar_case::from_request(store, &request))
    }
}

// The WIT export names are only valid in a component: natively (unit tests,
// benchmarks) the same logic is called through `Component` directly.
#[cfg(target_arch = "wasm32")]
wit::export!(Component);
