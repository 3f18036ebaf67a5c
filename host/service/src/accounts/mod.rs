//! Use cases of an organization's life (R13): what operators do from the
//! command line against the service's database (create an organization
//! with its root, add users, invite, deactivate and reactivate, SCIM
//! tokens), and what an invited user does with the invitation. No command
//! takes a password: a new account gets a single-use invitation whose
//! token is shown once and kept as a hash.
//!
//! An operator is whoever holds the database: these use cases are audited
//! in the organization's trail (actor `operator`) but not decided by the
//! policies, like any change made to the database by its owner. Requests
//! from the organizations' people and identity providers are.

mod ids;
mod invitations;
pub mod provisioning;

pub(crate) use ids::SUPPORT_DESK_PROBE;
pub use ids::{IdProblem, check_id};
pub use invitations::{Invitation, InvitationAnswer, accept_invitation, peek_invitation};

use time::{Duration, OffsetDateTime};

use crate::config::Clock;
use crate::credentials::{SecretBox, session};
use crate::store::{
    AccountProfile, AuditEntry, OrganizationSummary, ScimTokenSummary, Store, StoreError,
    StoredUser,
};
use mfa_reset::api::{AuditRecord, MfaStatus, Organization, Role, User};
use mfa_reset::timestamp::to_millis as millis;

/// How long an invitation stays usable unless told otherwise.
pub const DEFAULT_INVITATION_LIFETIME: Duration = Duration::days(7);

/// The actor of operators' changes in the audit trail.
pub const OPERATOR: &str = "operator";

/// The organization support agents belong to (R14): the provider's own.
/// No id an operator or identity provider can give is this one (ids start
/// with a letter or digit), so no customer organization can be it.
pub const SUPPORT_DESK: &str = ".support-desk";

/// Why an operator's command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// An id as typed that cannot be one.
    #[error("{field} `{value}`: {problem}")]
    BadId {
        /// Which id: `organization`, `root`, `user`.
        field: &'static str,
        /// As typed.
        value: String,
        /// Why it cannot be one.
        problem: IdProblem,
    },
    /// No organization with this id.
    #[error("no organization `{0}`")]
    NoOrganization(String),
    /// No user with this id.
    #[error("no user `{0}`")]
    NoUser(String),
    /// A new invitation for a user with a password would be a way to
    /// take the account over.
    #[error(
        "user `{0}` has chosen a password already: an invitation would let whoever holds it take the account over (recovery is the support desk's)"
    )]
    HasPassword(String),
    /// Invitations are for active users only.
    #[error("user `{0}` is deactivated: reactivate it first")]
    Deactivated(String),
    /// No such token in that organization, or revoked already.
    #[error("no unrevoked SCIM token `{0}` in organization `{1}`")]
    NoScimToken(String, String),
    /// The support desk is not a customer organization: its accounts are
    /// support agents, made by `agents create`, never provisioned.
    #[error(
        "the support desk holds support agents only: create them with `mfa-reset agents create`"
    )]
    SupportDesk,
    /// The database failed; nothing was changed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// One user as `users list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserSummary {
    /// The user's id.
    pub id: String,
    /// Root or sub-user.
    pub role: Role,
    /// MFA as stored.
    pub mfa: MfaStatus,
    /// False once deactivated.
    pub active: bool,
    /// False until the user has used an invitation.
    pub has_password: bool,
}

/// A new SCIM token: its secret is here and nowhere else, ever.
#[derive(Debug)]
pub struct NewScimToken {
    /// Its id (to revoke it) and organization.
    pub summary: ScimTokenSummary,
    /// The bearer token the identity provider sends.
    pub secret: String,
}

/// The operators' use cases, against the service's database.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    clock: Clock,
    /// Where invitation links point: the console's public address.
    public_url: String,
    invitation_lifetime: Duration,
}

impl Accounts {
    /// Opens the service's database (running its migrations, as `serve`
    /// does). `secret_key` is the service's; no sealed secret is read here.
    pub async fn open(
        database_url: &str,
        secret_key: &str,
        public_url: &str,
    ) -> Result<Self, AccountError> {
        let secrets = SecretBox::from_base64(secret_key).map_err(|e| {
            AccountError::Store(StoreError::Secret {
                user: "(any)".into(),
                message: e.to_string(),
            })
        })?;
        let store = Store::open(database_url, secrets).await?;
        Ok(Self::new(store, Clock::default(), public_url))
    }

    pub(crate) fn new(store: Store, clock: Clock, public_url: &str) -> Self {
        Self {
            store,
            clock,
            public_url: public_url.trim_end_matches('/').to_string(),
            invitation_lifetime: DEFAULT_INVITATION_LIFETIME,
        }
    }

    /// Times its changes by `clock` (a service's, when it is moved in tests
    /// or told another time), instead of the system's.
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// Invitations made from now on stay usable this long.
    pub fn with_invitation_lifetime(self, lifetime: Duration) -> Self {
        Self {
            invitation_lifetime: lifetime,
            ..self
        }
    }

    /// Creates organization `id` with its root `root`, who gets an invitation.
    pub async fn create_organization(
        &self,
        id: &str,
        root: &str,
        enforce_mfa: bool,
    ) -> Result<Invitation, AccountError> {
        check_id("organization", id)?;
        check_id("root", root)?;
        let organization = Organization {
            id: id.into(),
            enforce_mfa,
        };
        let user = new_user(root, Role::Root, &organization);
        let (invitation, stored) = self.new_invitation(&user.id);
        let audit = self.audit("create_organization", id, &user.id);
        busy_retry(|| {
            self.store
                .create_organization(&organization, &user, &stored, &audit)
        })
        .await
        .map_err(taken)?;
        Ok(invitation)
    }

    /// Adds sub-user `user` to `organization`, with an invitation.
    pub async fn add_user(
        &self,
        organization: &str,
        user: &str,
    ) -> Result<Invitation, AccountError> {
        check_id("user", user)?;
        if organization == SUPPORT_DESK {
            return Err(AccountError::SupportDesk);
        }
        let org = self
            .store
            .organization(organization)
            .await?
            .ok_or_else(|| AccountError::NoOrganization(organization.into()))?;
        let user = new_user(user, Role::SubUser, &org);
        let (invitation, stored) = self.new_invitation(&user.id);
        let audit = self.audit("create_user", &org.id, &user.id);
        let profile = AccountProfile::default();
        busy_retry(|| self.store.create_user(&user, &profile, &stored, &audit))
            .await
            .map_err(taken)?;
        Ok(invitation)
    }

    /// Creates support agent `id` (R14) in the support desk, which is made
    /// on first use; the agent gets an invitation, and enrols an
    /// authenticator at the first login (MFA is always required of agents).
    pub async fn create_agent(&self, id: &str) -> Result<Invitation, AccountError> {
        check_id("agent", id)?;
        let desk = Organization {
            id: SUPPORT_DESK.into(),
            enforce_mfa: true,
        };
        let agent = User {
            mfa: MfaStatus::EnrolmentDue,
            ..new_user(id, Role::SupportAgent, &desk)
        };
        let (invitation, stored) = self.new_invitation(&agent.id);
        let audit = self.audit("create_agent", SUPPORT_DESK, &agent.id);
        let profile = AccountProfile::default();
        busy_retry(|| async {
            self.store.ensure_organization(&desk).await?;
            self.store
                .create_user(&agent, &profile, &stored, &audit)
                .await
        })
        .await
        .map_err(taken)?;
        Ok(invitation)
    }

    /// The support agents, by id.
    pub async fn agents(&self) -> Result<Vec<UserSummary>, AccountError> {
        match self.store.organization(SUPPORT_DESK).await? {
            Some(_) => self.users(SUPPORT_DESK).await,
            None => Ok(Vec::new()),
        }
    }

    /// A new invitation for a user who has not chosen a password yet; the
    /// older ones stop working.
    pub async fn invite(&self, user: &str) -> Result<Invitation, AccountError> {
        let stored = self.user(user).await?;
        if !stored.user.active {
            return Err(AccountError::Deactivated(user.into()));
        }
        if !stored.password_hash.is_empty() {
            return Err(AccountError::HasPassword(user.into()));
        }
        let (invitation, new) = self.new_invitation(user);
        let audit = self.audit("invite_user", &stored.user.organization.id, user);
        busy_retry(|| self.store.reinvite(user, &new, &audit)).await?;
        Ok(invitation)
    }

    /// Deactivates (every session ends at once, every request is denied)
    /// or reactivates `user`.
    pub async fn set_active(&self, user: &str, active: bool) -> Result<(), AccountError> {
        let stored = self.user(user).await?;
        let action = if active {
            "reactivate_user"
        } else {
            "deactivate_user"
        };
        let audit = self.audit(action, &stored.user.organization.id, user);
        let now = millis(self.clock.now());
        match busy_retry(|| self.store.set_active(user, active, now, &audit)).await? {
            true => Ok(()),
            false => Err(AccountError::NoUser(user.into())),
        }
    }

    /// Every organization with its user counts.
    pub async fn organizations(&self) -> Result<Vec<OrganizationSummary>, AccountError> {
        Ok(self.store.organizations().await?)
    }

    /// The users of `organization`, by id.
    pub async fn users(&self, organization: &str) -> Result<Vec<UserSummary>, AccountError> {
        if self.store.organization(organization).await?.is_none() {
            return Err(AccountError::NoOrganization(organization.into()));
        }
        let users = self.store.organization_users(organization).await?;
        Ok(users
            .into_iter()
            .map(|u| UserSummary {
                has_password: !u.password_hash.is_empty(),
                id: u.user.id,
                role: u.user.role,
                mfa: u.user.mfa,
                active: u.user.active,
            })
            .collect())
    }

    /// A new bearer token for `organization`'s identity provider (SCIM).
    pub async fn create_scim_token(
        &self,
        organization: &str,
    ) -> Result<NewScimToken, AccountError> {
        if organization == SUPPORT_DESK {
            return Err(AccountError::SupportDesk);
        }
        if self.store.organization(organization).await?.is_none() {
            return Err(AccountError::NoOrganization(organization.into()));
        }
        let secret = format!("mfa-scim-{}", session::new_token());
        let now = self.clock.now();
        let summary = ScimTokenSummary {
            id: format!("scim-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            organization: organization.into(),
            created_at: millis(now),
            revoked_at: None,
        };
        let audit = self.audit("create_scim_token", organization, &summary.id);
        let hash = session::hash(&secret);
        busy_retry(|| self.store.create_scim_token(&summary, &hash, &audit)).await?;
        Ok(NewScimToken { summary, secret })
    }

    /// Revokes SCIM token `id` of `organization`: its next request is refused.
    pub async fn revoke_scim_token(
        &self,
        organization: &str,
        id: &str,
    ) -> Result<(), AccountError> {
        let audit = self.audit("revoke_scim_token", organization, id);
        let now = millis(self.clock.now());
        match busy_retry(|| self.store.revoke_scim_token(id, organization, now, &audit)).await? {
            true => Ok(()),
            false => Err(AccountError::NoScimToken(id.into(), organization.into())),
        }
    }

    /// The SCIM tokens of `organization`, revoked ones too, without secrets.
    pub async fn scim_tokens(
        &self,
        organization: &str,
    ) -> Result<Vec<ScimTokenSummary>, AccountError> {
        Ok(self.store.scim_tokens(organization).await?)
    }

    async fn user(&self, id: &str) -> Result<StoredUser, AccountError> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| AccountError::NoUser(id.into()))
    }

    fn new_invitation(&self, user: &str) -> (Invitation, crate::store::NewInvitation) {
        invitations::new(
            user,
            self.clock.now(),
            self.invitation_lifetime,
            &self.public_url,
        )
    }
}

/// A new invitation of `user` made at `now` with the default lifetime:
/// what its maker is shown once, and what the store keeps.
pub fn new_invitation(
    user: &str,
    now: OffsetDateTime,
    public_url: &str,
) -> (Invitation, crate::store::NewInvitation) {
    invitations::new(user, now, DEFAULT_INVITATION_LIFETIME, public_url)
}

impl Accounts {
    fn audit(&self, action: &str, organization: &str, target: &str) -> AuditEntry {
        operator_audit(self.clock.now(), action, organization, target)
    }
}

/// The audit row of an operator's change: allowed, decided by no policy.
fn operator_audit(
    at: OffsetDateTime,
    action: &str,
    organization: &str,
    target: &str,
) -> AuditEntry {
    let record = AuditRecord {
        at,
        actor: OPERATOR.into(),
        organization: organization.into(),
        action: action.into(),
        target: target.into(),
        allowed: true,
        policy_ids: Vec::new(),
        denial_code: None,
    };
    AuditEntry::new(record, uuid::Uuid::new_v4().to_string())
}

/// A new account: active, MFA off (enforcement makes it due at login).
fn new_user(id: &str, role: Role, organization: &Organization) -> User {
    User {
        id: id.into(),
        role,
        organization: organization.clone(),
        mfa: MfaStatus::Off,
        active: true,
    }
}

/// Runs a write again while the database is busy (another writer holds
/// SQLite's lock, as `serve` does while the operator's command runs):
/// each write is one transaction, so a retry never half-writes.
pub(crate) async fn busy_retry<T, Write>(mut write: impl FnMut() -> Write) -> Result<T, StoreError>
where
    Write: Future<Output = Result<T, StoreError>>,
{
    let mut pause = std::time::Duration::from_millis(20);
    for _ in 0..7 {
        match write().await {
            Err(StoreError::Conflict) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    write().await
}

fn taken(e: StoreError) -> AccountError {
    match e {
        StoreError::Exists { kind, id } => AccountError::BadId {
            field: kind,
            value: id,
            problem: IdProblem::Taken,
        },
        other => AccountError::Store(other),
    }
}
