//! Builds the Cedar request, context and entities for an engine request.
//! The shape here is what `policies/mfa.cedarschema` describes.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};
use time::OffsetDateTime;

use crate::mfa_reset::engine::types::{
    Action, MfaStatus, Organization, Provisioner, Request, Role, Session, User,
};

mod recovery;
mod schema_check;
pub use recovery::{RecoveryQuery, build_recovery};
pub use schema_check::schema_mismatches;

/// What every request shares, made once per policy set: parsed type names
/// and, per action, the entities that carry its groups (the action with
/// every ancestor), so a request adds the one action it needs instead of
/// copying all of them and recomputing their hierarchy.
pub struct RequestBuilder {
    user: EntityTypeName,
    support_agent: EntityTypeName,
    recovery_case: EntityTypeName,
    cancel_link: EntityTypeName,
    provisioner: EntityTypeName,
    organization: EntityTypeName,
    action: EntityTypeName,
    actions: Entities,
    action_entities: HashMap<String, Vec<Entity>>,
    /// Per action, the principal and resource types it applies to: a
    /// support agent asking a user's action (or a root acting on an
    /// agent) is not a request the schema knows, so it is denied unasked.
    applies_to: HashMap<String, (HashSet<EntityTypeName>, HashSet<EntityTypeName>)>,
    /// The `datetime` extension's name: `RestrictedExpression::new_datetime`
    /// parses it with the full Cedar parser on every call (a third of a
    /// decision's time, measured), so it is parsed once here.
    datetime: cedar_policy_core::ast::Name,
}

impl RequestBuilder {
    pub fn new(schema: &Schema) -> Result<Self, String> {
        let name = |n: &str| EntityTypeName::from_str(n).expect("a valid Cedar type name");
        let actions = schema.action_entities().map_err(|e| e.to_string())?;
        let closed = |uid: &EntityUid| -> Entity {
            let ancestors = actions
                .ancestors(uid)
                .map(|a| a.cloned().collect())
                .unwrap_or_default();
            Entity::new_no_attrs(uid.clone(), ancestors)
        };
        let mut action_entities = HashMap::new();
        let mut applies_to = HashMap::new();
        for action in schema.actions() {
            // Another namespace's action of the same name is not ours to
            // build requests for (and must not take our action's place).
            if action.type_name().to_string() != "MfaReset::Action" {
                continue;
            }
            let mut entities = vec![closed(action)];
            if let Some(ancestors) = actions.ancestors(action) {
                entities.extend(ancestors.map(closed));
            }
            let principals: HashSet<EntityTypeName> = schema
                .principals_for_action(action)
                .map(|types| types.cloned().collect())
                .unwrap_or_default();
            let resources: HashSet<EntityTypeName> = schema
                .resources_for_action(action)
                .map(|types| types.cloned().collect())
                .unwrap_or_default();
            let name = action.id().unescaped().to_string();
            applies_to.insert(name.clone(), (principals, resources));
            action_entities.insert(name, entities);
        }
        Ok(Self {
            user: name("MfaReset::User"),
            support_agent: name("MfaReset::SupportAgent"),
            recovery_case: name("MfaReset::RecoveryCase"),
            cancel_link: name("MfaReset::CancelLink"),
            provisioner: name("MfaReset::Provisioner"),
            organization: name("MfaReset::Organization"),
            action: name("MfaReset::Action"),
            actions,
            action_entities,
            applies_to,
            datetime: cedar_policy_core::ast::Name::parse_unqualified_name("datetime")
                .map_err(|e| e.to_string())?,
        })
    }

    fn user(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.user.clone(), EntityId::new(id))
    }

    /// The Cedar type of an account: a support agent is not a `User`.
    fn account_type(&self, account: &User) -> &EntityTypeName {
        match account.role {
            Role::SupportAgent => &self.support_agent,
            Role::Root | Role::SubUser => &self.user,
        }
    }

    /// An account's entity uid: `User::"id"` or `SupportAgent::"id"`.
    pub fn account(&self, account: &User) -> EntityUid {
        EntityUid::from_type_name_and_id(
            self.account_type(account).clone(),
            EntityId::new(&account.id),
        )
    }

    /// Whether `type_name` is the schema's action type.
    pub fn is_action(&self, type_name: &EntityTypeName) -> bool {
        *type_name == self.action
    }

    fn support_agent(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.support_agent.clone(), EntityId::new(id))
    }

    fn recovery_case(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.recovery_case.clone(), EntityId::new(id))
    }

    /// Whether the schema's recovery `action` applies to `caller` (none:
    /// the case's cancel link) acting on a case.
    pub fn applies_to_case(&self, action: &str, caller: Option<&User>) -> bool {
        let Some((principals, resources)) = self.applies_to.get(action) else {
            return false;
        };
        let principal = caller.map_or(&self.cancel_link, |c| self.account_type(c));
        principals.contains(principal) && resources.contains(&self.recovery_case)
    }

    /// Whether the schema's `action` applies to `actor` acting on `target`
    /// (on the actor's organization when `None`).
    pub fn applies(&self, action: &str, actor: &User, target: Option<&User>) -> bool {
        let Some((principals, resources)) = self.applies_to.get(action) else {
            return false;
        };
        let resource = match target {
            Some(target) => self.account_type(target),
            None => &self.organization,
        };
        principals.contains(self.account_type(actor)) && resources.contains(resource)
    }

    fn organization(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.organization.clone(), EntityId::new(id))
    }

    fn action(&self, name: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.action.clone(), EntityId::new(name))
    }

    /// Every action of the schema by name, with its lineage: the action
    /// itself first, then all its ancestors.
    pub fn action_lineages(&self) -> impl Iterator<Item = (&str, Vec<EntityUid>)> {
        self.action_entities
            .iter()
            .map(|(name, entities)| (name.as_str(), entities.iter().map(Entity::uid).collect()))
    }

    /// Whether `name` is a page's action on the caller's organization: one
    /// of the schema's `console_routes` group (the only actions a gateway
    /// route may name), or of its `support_desk` group (the support desk's
    /// page; its steps on cases do not apply to an organization, so asking
    /// for one as a route is answered `not-permitted`).
    pub fn is_route_action(&self, name: &str) -> bool {
        let action = self.action(name);
        ["console_routes", "support_desk"]
            .iter()
            .any(|group| self.actions.is_ancestor_of(&self.action(group), &action))
    }
}

/// The Cedar action a request asks for.
pub fn action_name(action: &Action) -> &str {
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

/// The user acted on, if the action targets a user (the caller for `*-own-*`).
pub fn target_user(request: &Request) -> Option<&User> {
    match &request.action {
        Action::ResetOwnMfa
        | Action::EnableOwnMfa
        | Action::DisableOwnMfa
        | Action::ViewOwnSession
        | Action::ChangeOwnPassword => Some(&request.actor),
        Action::ResetUserMfa(u)
        | Action::EnableUserMfa(u)
        | Action::DisableUserMfa(u)
        | Action::DeactivateUser(u)
        | Action::ReactivateUser(u)
        | Action::InviteUser(u) => Some(u),
        Action::SetEnforcement(_) | Action::ListUsers(_) | Action::AccessRoute(_) => None,
    }
}

/// A timestamp (milliseconds) as a Cedar `datetime` literal, to the millisecond.
/// Written out by hand: `time`'s format descriptions cost a few percent of a
/// decision in the component (profiled).
pub fn datetime(millis: i64) -> Result<String, String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .filter(|t| (0..=9999).contains(&t.year()))
        .ok_or_else(|| format!("{millis} ms is not a time between the years 0 and 9999"))?;
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

pub struct CedarRequest {
    pub request: cedar_policy::Request,
    pub entities: Entities,
}

/// What Cedar is asked, in the engine's terms: `actor` does `action` on
/// `target` (a user), or on the actor's organization when `target` is `None`.
pub struct Query<'a> {
    pub actor: &'a User,
    pub action: &'a str,
    pub target: Option<&'a User>,
    pub session: &'a Session,
    pub now: i64,
}

impl<'a> Query<'a> {
    pub fn of(request: &'a Request) -> Self {
        Self {
            actor: &request.actor,
            action: action_name(&request.action),
            target: target_user(request),
            session: &request.session,
            now: request.now,
        }
    }
}

/// Builds the Cedar request; with a schema, also checks request, context and
/// entities against it (used at load time, not per decision).
pub fn build(
    names: &RequestBuilder,
    query: &Query,
    schema: Option<&Schema>,
) -> Result<CedarRequest, String> {
    let actor = query.actor;
    let mut organizations = vec![&actor.organization];
    let mut users = vec![actor];
    let resource = match query.target {
        Some(target) => {
            if target.id != actor.id {
                users.push(target);
            }
            if target.organization.id != actor.organization.id {
                organizations.push(&target.organization);
            }
            names.account(target)
        }
        None => names.organization(&actor.organization.id),
    };

    // Room for the action and its groups too.
    let mut entities = Vec::with_capacity(users.len() + organizations.len() + 3);
    for org in organizations {
        entities.push(organization_entity(names, org)?);
    }
    for user in users {
        entities.push(user_entity(names, user)?);
    }
    let entities = request_entities(names, query.action, entities, schema)?;

    let action = names.action(query.action);
    let context = context(names, query.session, query.now)?;
    let request =
        cedar_policy::Request::new(names.account(actor), action, resource, context, schema)
            .map_err(|e| e.to_string())?;
    Ok(CedarRequest { request, entities })
}

/// What an identity provider's request asks Cedar: `provisioner` does
/// `action` on `target`, or on its organization when `target` is `None`.
pub struct ProvisioningQuery<'a> {
    pub provisioner: &'a Provisioner,
    pub action: &'a str,
    pub target: Option<&'a User>,
    pub now: i64,
}

/// Builds the Cedar request of an identity provider: the principal is a
/// `Provisioner` in its organization, the context holds only the time.
pub fn build_provisioning(
    names: &RequestBuilder,
    query: &ProvisioningQuery,
    schema: Option<&Schema>,
) -> Result<CedarRequest, String> {
    let home = &query.provisioner.organization;
    let home_uid = names.organization(&home.id);
    let principal = EntityUid::from_type_name_and_id(
        names.provisioner.clone(),
        EntityId::new(&query.provisioner.id),
    );
    let provisioner = Entity::new(
        principal.clone(),
        HashMap::from([(
            "organization".to_string(),
            RestrictedExpression::new_entity_uid(home_uid.clone()),
        )]),
        HashSet::from([home_uid.clone()]),
    )
    .map_err(|e| e.to_string())?;
    let mut entities = vec![organization_entity(names, home)?, provisioner];
    let resource = match query.target {
        Some(user) => {
            if user.organization.id != home.id {
                entities.push(organization_entity(names, &user.organization)?);
            }
            entities.push(user_entity(names, user)?);
            names.user(&user.id)
        }
        None => home_uid,
    };
    let entities = request_entities(names, query.action, entities, schema)?;
    let context = Context::from_pairs([("now".to_string(), datetime_expr(names, query.now)?)])
        .map_err(|e| e.to_string())?;
    let request = cedar_policy::Request::new(
        principal,
        names.action(query.action),
        resource,
        context,
        schema,
    )
    .map_err(|e| e.to_string())?;
    Ok(CedarRequest { request, entities })
}

/// `entities` with the action's own (the action and its groups): checked
/// against `schema` when given (at load time), else taken as closed.
fn request_entities(
    names: &RequestBuilder,
    action: &str,
    mut entities: Vec<Entity>,
    schema: Option<&Schema>,
) -> Result<Entities, String> {
    let action_entities = names
        .action_entities
        .get(action)
        .ok_or_else(|| format!("`{action}` is not an action of the schema"))?;
    match schema {
        Some(schema) => names
            .actions
            .clone()
            .add_entities(entities, Some(schema))
            .map_err(|e| e.to_string()),
        None => {
            entities.extend(action_entities.iter().cloned());
            closed_entities(entities)
        }
    }
}

/// The request's entities, already transitively closed by construction (a
/// user's parent is its organization, which has none; each action comes with
/// all its ancestors): Cedar's closure computation, a tenth of a decision's
/// time (measured), is skipped.
fn closed_entities(entities: Vec<Entity>) -> Result<Entities, String> {
    use cedar_policy_core::entities::{Entities as CoreEntities, NoEntitiesSchema, TCComputation};
    CoreEntities::from_entities(
        entities
            .iter()
            .map(|e| AsRef::<cedar_policy_core::ast::Entity>::as_ref(e).clone()),
        None::<&NoEntitiesSchema>,
        TCComputation::AssumeAlreadyComputed,
        cedar_policy_core::extensions::Extensions::all_available(),
    )
    .map(Entities::from)
    .map_err(|e| e.to_string())
}

fn organization_entity(names: &RequestBuilder, org: &Organization) -> Result<Entity, String> {
    let attrs = HashMap::from([(
        "enforce_mfa".to_string(),
        RestrictedExpression::new_bool(org.enforce_mfa),
    )]);
    Entity::new(names.organization(&org.id), attrs, HashSet::new()).map_err(|e| e.to_string())
}

fn user_entity(names: &RequestBuilder, user: &User) -> Result<Entity, String> {
    if user.role == Role::SupportAgent {
        return support_agent_entity(names, user);
    }
    let org = names.organization(&user.organization.id);
    let attrs = HashMap::from([
        (
            "organization".to_string(),
            RestrictedExpression::new_entity_uid(org.clone()),
        ),
        (
            "is_root".to_string(),
            RestrictedExpression::new_bool(user.role == Role::Root),
        ),
        (
            "mfa_enabled".to_string(),
            RestrictedExpression::new_bool(user.mfa != MfaStatus::Off),
        ),
        (
            "mfa_enrolled".to_string(),
            RestrictedExpression::new_bool(user.mfa == MfaStatus::Active),
        ),
        (
            "active".to_string(),
            RestrictedExpression::new_bool(user.active),
        ),
    ]);
    Entity::new(names.user(&user.id), attrs, HashSet::from([org])).map_err(|e| e.to_string())
}

/// A support agent: no organization, no parent (R14).
fn support_agent_entity(names: &RequestBuilder, agent: &User) -> Result<Entity, String> {
    let attrs = HashMap::from([
        (
            "active".to_string(),
            RestrictedExpression::new_bool(agent.active),
        ),
        (
            "mfa_enrolled".to_string(),
            RestrictedExpression::new_bool(agent.mfa == MfaStatus::Active),
        ),
    ]);
    Entity::new(names.support_agent(&agent.id), attrs, HashSet::new()).map_err(|e| e.to_string())
}

/// A timestamp as the Cedar expression `datetime("…")`.
fn datetime_expr(names: &RequestBuilder, millis: i64) -> Result<RestrictedExpression, String> {
    use cedar_policy_core::ast::RestrictedExpr;
    let text = RestrictedExpr::val(datetime(millis)?);
    Ok(RestrictedExpr::call_extension_fn(names.datetime.clone(), [text]).into())
}

fn context(names: &RequestBuilder, session: &Session, now: i64) -> Result<Context, String> {
    let pairs = [
        ("now".to_string(), datetime_expr(names, now)?),
        ("session".to_string(), session_expr(names, session)?),
    ];
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

fn session_expr(names: &RequestBuilder, session: &Session) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record([
        (
            "login_at".to_string(),
            datetime_expr(names, session.login_at)?,
        ),
        (
            "last_activity_at".to_string(),
            datetime_expr(names, session.last_activity_at)?,
        ),
        (
            "mfa_satisfied".to_string(),
            RestrictedExpression::new_bool(session.mfa_satisfied),
        ),
        (
            "recovery_code_login".to_string(),
            RestrictedExpression::new_bool(session.recovery_code_login),
        ),
    ])
    .map_err(|e| e.to_string())
}

/// The Cedar actions of the login steps, decided like every other action.
pub const LOGIN_STEPS: [&str; 3] = ["start_enrolment", "confirm_enrolment", "verify_code"];

#[cfg(test)]
mod tests {
    use super::datetime;

    #[test]
    fn datetimes_keep_milliseconds_and_refuse_what_cedar_cannot_hold() {
        assert_eq!(datetime(0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            datetime(1_795_000_005_123).unwrap(),
            "2026-11-18T11:06:45.123Z"
        );
        assert_eq!(datetime(-1).unwrap(), "1969-12-31T23:59:59.999Z");
        assert!(datetime(i64::MAX).is_err());
        assert!(datetime(-62_198_755_200_000).is_err(), "year -1");
    }
}
