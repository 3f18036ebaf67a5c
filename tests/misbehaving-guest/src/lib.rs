//! A misbehaving engine component, for tests of the host's sandbox only.
//!
//! It exports the engine's WIT interface and behaves by the user id a call
//! is about (the actor of `decide`, the user of the enrolment and code
//! calls):
//! - `loop`: runs forever (the host's deadline or fuel must stop it);
//! - `alloc`: allocates without bound (the host's memory cap must stop it);
//! - `trap`: traps at once;
//! - `garbage`: answers `decide` with an allow no policy made, a change to
//!   a user the request did not name, and an audit record of someone else;
//! - `stranger`: lists a user that was not in a `list-users` request;
//! - a provisioner `garbage`: creates a root with MFA on, unaudited;
//! - `garbage` using a recovery code: accepted, and every code kept (a
//!   code that would work for ever);
//! - anyone else: a well-formed allow (`decide`: the change, session
//!   effect, listing and audit record the contract demands).
//!
//! `current-policy-set` reports how many `decide` calls this instance has
//! served (revision `calls-N`), so a test can tell a discarded instance
//! from a reused one. Everything else it answers is the least that lets a
//! host start with it.

#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod component {
    use std::sync::atomic::{AtomicU32, Ordering};

    use exports::mfa_reset::engine::engine::Guest;
    use mfa_reset::engine::types::*;

    wit_bindgen::generate!({
        world: "mfa-engine",
        path: "../../wit",
    });

    fn misbehave(user_id: &str) {
        match user_id {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            "trap" => core::arch::wasm32::unreachable(),
            _ => {}
        }
    }

    fn source() -> PolicySet {
        let file = |name: &str| SourceFile {
            name: name.into(),
            text: String::new(),
        };
        PolicySet {
            policies: vec![file("misbehaving.cedar")],
            schema: file("misbehaving.cedarschema"),
            support_url: "https://support.example.com".into(),
        }
    }

    /// `decide` calls this instance has served.
    static CALLS: AtomicU32 = AtomicU32::new(0);

    fn info() -> PolicySetInfo {
        PolicySetInfo {
            revision: format!("calls-{}", CALLS.load(Ordering::Relaxed)),
            policy_ids: vec!["misbehaving-allows".into()],
            warnings: Vec::new(),
        }
    }

    fn refused() -> RequestError {
        RequestError {
            field: "request".into(),
            message: "the misbehaving component does not do this".into(),
        }
    }

    fn audited(request: &Request) -> bool {
        !matches!(
            request.action,
            Action::ListUsers(_) | Action::AccessRoute(_) | Action::ViewOwnSession
        )
    }

    fn target(request: &Request) -> String {
        match &request.action {
            Action::ResetUserMfa(u)
            | Action::EnableUserMfa(u)
            | Action::DisableUserMfa(u)
            | Action::DeactivateUser(u)
            | Action::ReactivateUser(u)
            | Action::InviteUser(u) => u.id.clone(),
            Action::SetEnforcement(_) => request.actor.organization.id.clone(),
            _ => request.actor.id.clone(),
        }
    }

    fn action_name(action: &Action) -> &str {
        match action {
            Action::ResetOwnMfa => "reset_own_mfa",
            Action::EnableOwnMfa => "enable_own_mfa",
            Action::DisableOwnMfa => "disable_own_mfa",
            Action::ResetUserMfa(_) => "reset_user_mfa",
            Action::EnableUserMfa(_) => "enable_user_mfa",
            Action::DisableUserMfa(_) => "disable_user_mfa",
            Action::SetEnforcement(_) => "set_enforcement",
            Action::ListUsers(_) => "list_users",
            Action::AccessRoute(name) => name,
            Action::ViewOwnSession => "view_session",
            Action::ChangeOwnPassword => "change_own_password",
            Action::DeactivateUser(_) => "deactivate_user",
            Action::ReactivateUser(_) => "reactivate_user",
            Action::InviteUser(_) => "invite_user",
        }
    }

    fn fresh() -> Authenticator {
        Authenticator {
            pending: None,
            active: None,
            last_accepted_step: None,
            failures: 0,
            locked_until: None,
            recovery_codes: None,
        }
    }

    /// What an allow of `request` changes, as the contract has it.
    fn well_formed_effects(request: &Request) -> (Option<Change>, SessionEffect, Vec<UserStatus>) {
        let user_change = |user: &User, mfa| {
            Some(Change::User(UserChange {
                user: User {
                    mfa,
                    ..user.clone()
                },
                authenticator: fresh(),
            }))
        };
        let own = SessionEffect::EndOtherSessionsOfUser;
        let other = SessionEffect::EndSessionsOfUser;
        let actor = &request.actor;
        match &request.action {
            Action::ResetOwnMfa | Action::EnableOwnMfa => {
                (user_change(actor, MfaStatus::EnrolmentDue), own, Vec::new())
            }
            Action::DisableOwnMfa => (user_change(actor, MfaStatus::Off), own, Vec::new()),
            Action::ResetUserMfa(u) | Action::EnableUserMfa(u) => {
                (user_change(u, MfaStatus::EnrolmentDue), other, Vec::new())
            }
            Action::DisableUserMfa(u) => (user_change(u, MfaStatus::Off), other, Vec::new()),
            Action::SetEnforcement(on) => (
                Some(Change::Organization(Organization {
                    enforce_mfa: *on,
                    ..actor.organization.clone()
                })),
                if *on {
                    SessionEffect::RequireMfaInOrganization
                } else {
                    SessionEffect::None
                },
                Vec::new(),
            ),
            Action::ListUsers(users) => (
                None,
                SessionEffect::None,
                users
                    .iter()
                    .map(|u| UserStatus {
                        id: u.id.clone(),
                        role: u.role,
                        mfa: u.mfa,
                        effective_mfa: if u.mfa == MfaStatus::Off && u.organization.enforce_mfa {
                            MfaStatus::EnrolmentDue
                        } else {
                            u.mfa
                        },
                        active: u.active,
                    })
                    .collect(),
            ),
            Action::AccessRoute(_) | Action::ViewOwnSession => {
                (None, SessionEffect::None, Vec::new())
            }
            Action::ChangeOwnPassword => (None, SessionEffect::EndOtherSessionsOfUser, Vec::new()),
            Action::DeactivateUser(_) => (None, SessionEffect::EndSessionsOfUser, Vec::new()),
            Action::ReactivateUser(_) | Action::InviteUser(_) => {
                (None, SessionEffect::None, Vec::new())
            }
        }
    }

    struct Misbehaving;

    impl Guest for Misbehaving {
        fn default_policy_set() -> PolicySet {
            source()
        }

        fn validate_policy_set(_: PolicySet) -> Vec<Diagnostic> {
            Vec::new()
        }

        fn load_policy_set(_: PolicySet) -> Result<PolicySetInfo, Vec<Diagnostic>> {
            Ok(info())
        }

        fn current_policy_set() -> PolicySetInfo {
            info()
        }

        fn decide(request: Request) -> Result<Outcome, RequestError> {
            CALLS.fetch_add(1, Ordering::Relaxed);
            misbehave(&request.actor.id);
            let policy_ids = vec!["misbehaving-allows".to_string()];
            let audit = audited(&request).then(|| AuditRecord {
                at: request.now,
                actor: request.actor.id.clone(),
                organization: request.actor.organization.id.clone(),
                action: action_name(&request.action).into(),
                target: target(&request),
                allowed: true,
                policy_ids: policy_ids.clone(),
                denial_code: None,
            });
            let (change, sessions, users) = well_formed_effects(&request);
            let mut outcome = Outcome {
                decision: Decision {
                    allowed: true,
                    policy_ids,
                    denial_code: None,
                    message: "allowed".into(),
                    errors: Vec::new(),
                },
                change,
                sessions,
                users,
                audit,
            };
            match request.actor.id.as_str() {
                "garbage" => {
                    let mut someone = request.actor.clone();
                    someone.id = "somebody-else".into();
                    someone.mfa = MfaStatus::Off;
                    outcome.decision.policy_ids.clear();
                    outcome.change = Some(Change::User(UserChange {
                        user: someone,
                        authenticator: fresh(),
                    }));
                    outcome.audit = Some(AuditRecord {
                        at: request.now,
                        actor: "somebody-else".into(),
                        organization: "elsewhere".into(),
                        action: "reset_user_mfa".into(),
                        target: "somebody-else".into(),
                        allowed: true,
                        policy_ids: Vec::new(),
                        denial_code: None,
                    });
                }
                "stranger" => {
                    outcome.users = vec![UserStatus {
                        id: "not-in-the-request".into(),
                        role: Role::SubUser,
                        mfa: MfaStatus::Off,
                        effective_mfa: MfaStatus::Off,
                        active: true,
                    }];
                }
                _ => {}
            }
            Ok(outcome)
        }

        fn decide_batch(requests: Vec<Request>) -> Vec<Result<Outcome, RequestError>> {
            requests.into_iter().map(Self::decide).collect()
        }

        /// `garbage` allows a creation of a root with MFA on, and audits it
        /// as nobody: the host must refuse it.
        fn decide_provisioning(
            request: ProvisioningRequest,
        ) -> Result<ProvisioningOutcome, RequestError> {
            misbehave(&request.provisioner.id);
            let ProvisioningAction::CreateUser(id) = &request.action else {
                return Err(refused());
            };
            Ok(ProvisioningOutcome {
                decision: Decision {
                    allowed: true,
                    policy_ids: vec!["misbehaving-allows".into()],
                    denial_code: None,
                    message: "allowed".into(),
                    errors: Vec::new(),
                },
                user: Some(User {
                    id: id.clone(),
                    role: Role::Root,
                    organization: request.provisioner.organization.clone(),
                    mfa: MfaStatus::Active,
                    active: true,
                }),
                sessions: SessionEffect::None,
                audit: None,
            })
        }

        /// Allows every step as a redemption that keeps the account's
        /// authenticator and MFA: the host must refuse it.
        fn decide_recovery(request: RecoveryRequest) -> Result<RecoveryOutcome, RequestError> {
            misbehave(&request.case.account.id);
            let account = request.case.account.clone();
            Ok(RecoveryOutcome {
                decision: Decision {
                    allowed: true,
                    policy_ids: vec!["misbehaving-allows".into()],
                    denial_code: None,
                    message: "allowed".into(),
                    errors: Vec::new(),
                },
                case: RecoveryCase {
                    state: CaseState::Redeemed,
                    ..request.case.clone()
                },
                account: Some(UserChange {
                    user: account.clone(),
                    authenticator: Authenticator {
                        pending: None,
                        active: None,
                        last_accepted_step: None,
                        failures: 0,
                        locked_until: None,
                        recovery_codes: None,
                    },
                }),
                sessions: SessionEffect::None,
                audit: AuditRecord {
                    at: request.now,
                    actor: "nobody".into(),
                    organization: account.organization.id.clone(),
                    action: "redeem_recovery_ticket".into(),
                    target: account.id,
                    allowed: true,
                    policy_ids: vec!["misbehaving-allows".into()],
                    denial_code: None,
                },
            })
        }

        fn next_login_step(_: User) -> LoginStep {
            // Logins succeed, so that a service test gets sessions whose
            // decisions misbehave.
            LoginStep::None
        }

        fn start_enrolment(request: EnrolmentRequest) -> Result<Enrolment, RequestError> {
            misbehave(&request.user.id);
            Err(refused())
        }

        fn confirm_enrolment(request: CodeRequest) -> Result<Verification, RequestError> {
            misbehave(&request.user.id);
            Err(refused())
        }

        fn verify_login(request: CodeRequest) -> Result<Verification, RequestError> {
            misbehave(&request.user.id);
            Err(refused())
        }

        fn use_recovery_code(request: CodeRequest) -> Result<Verification, RequestError> {
            misbehave(&request.user.id);
            if request.user.id != "garbage" {
                return Err(refused());
            }
            let left = request
                .authenticator
                .recovery_codes
                .as_ref()
                .map_or(0, |c| c.hashes.len() as u32);
            Ok(Verification {
                decision: Decision {
                    allowed: true,
                    policy_ids: vec!["misbehaving-allows".into()],
                    denial_code: None,
                    message: String::new(),
                    errors: Vec::new(),
                },
                result: CodeResult::Accepted,
                message: "accepted".into(),
                user: request.user.clone(),
                authenticator: request.authenticator.clone(),
                audit: AuditRecord {
                    at: request.now,
                    actor: request.user.id.clone(),
                    organization: request.user.organization.id.clone(),
                    action: "use_recovery_code".into(),
                    target: request.user.id.clone(),
                    allowed: true,
                    policy_ids: vec!["misbehaving-allows".into()],
                    denial_code: None,
                },
                recovery_codes: Vec::new(),
                recovery_codes_left: left,
            })
        }

        fn regenerate_recovery_codes(
            request: RecoveryCodesRequest,
        ) -> Result<NewRecoveryCodes, RequestError> {
            misbehave(&request.user.id);
            Err(refused())
        }

        fn authorize_cedar(_: String) -> Result<CedarAnswer, String> {
            Err("the misbehaving component does not do this".into())
        }

        fn cedar_case(request: Request) -> Result<String, RequestError> {
            misbehave(&request.actor.id);
            Err(refused())
        }
    }

    export!(Misbehaving);
}
