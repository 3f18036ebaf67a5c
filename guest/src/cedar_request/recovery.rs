//! The Cedar request of a recovery case step (R14): the case as the
//! resource, a child of its account; the caller's account or the case's
//! cancel link as the principal.

use std::collections::{HashMap, HashSet};

use cedar_policy::{Context, Entity, EntityId, EntityUid, RestrictedExpression, Schema};

use super::{
    CedarRequest, RequestBuilder, datetime_expr, organization_entity, request_entities,
    session_expr, user_entity,
};
use crate::mfa_reset::engine::types::{
    CaseState, IdentityCheck, RecoveryCase, Role, Session, User,
};

/// What a recovery case step asks Cedar: `caller` (none: the case's cancel
/// link) does `action` on the case.
pub struct RecoveryQuery<'a> {
    pub caller: Option<&'a User>,
    pub action: &'a str,
    pub case: &'a RecoveryCase,
    pub session: &'a Session,
    pub account_has_active_session: bool,
    pub now: i64,
}

/// Builds the Cedar request of a recovery case step (R14): the resource is
/// the case, a child of its account (and of the account's organization);
/// the principal the caller's account, or the case's `CancelLink`.
pub fn build_recovery(
    names: &RequestBuilder,
    query: &RecoveryQuery,
    schema: Option<&Schema>,
) -> Result<CedarRequest, String> {
    let case = query.case;
    let case_uid = names.recovery_case(&case.id);
    let mut entities = vec![recovery_case_entity(names, case)?];
    let principal = match query.caller {
        Some(caller) => {
            if caller.role != Role::SupportAgent {
                entities.push(organization_entity(names, &caller.organization)?);
            }
            entities.push(user_entity(names, caller)?);
            names.account(caller)
        }
        None => {
            let link = EntityUid::from_type_name_and_id(
                names.cancel_link.clone(),
                EntityId::new(&case.id),
            );
            entities.push(
                Entity::new(
                    link.clone(),
                    HashMap::from([(
                        "case".to_string(),
                        RestrictedExpression::new_entity_uid(case_uid.clone()),
                    )]),
                    HashSet::new(),
                )
                .map_err(|e| e.to_string())?,
            );
            link
        }
    };
    let entities = request_entities(names, query.action, entities, schema)?;
    let now = ("now".to_string(), datetime_expr(names, query.now)?);
    let context = match query.caller {
        Some(_) => Context::from_pairs([
            now,
            ("session".to_string(), session_expr(names, query.session)?),
            (
                "target_has_active_session".to_string(),
                RestrictedExpression::new_bool(query.account_has_active_session),
            ),
        ]),
        None => Context::from_pairs([now]),
    }
    .map_err(|e| e.to_string())?;
    let request = cedar_policy::Request::new(
        principal,
        names.action(query.action),
        case_uid,
        context,
        schema,
    )
    .map_err(|e| e.to_string())?;
    Ok(CedarRequest { request, entities })
}

/// A case's entity: its parents are its account and, for a user, the
/// user's organization (listed, so the hierarchy is closed).
fn recovery_case_entity(names: &RequestBuilder, case: &RecoveryCase) -> Result<Entity, String> {
    let account = &case.account;
    let mut parents = HashSet::from([names.account(account)]);
    if account.role != Role::SupportAgent {
        parents.insert(names.organization(&account.organization.id));
    }
    let has = |check| case.checks.contains(&check);
    let checks = RestrictedExpression::new_record([
        (
            "code_to_email_on_file".to_string(),
            RestrictedExpression::new_bool(has(IdentityCheck::CodeToEmailOnFile)),
        ),
        (
            "callback_to_phone_on_file".to_string(),
            RestrictedExpression::new_bool(has(IdentityCheck::CallbackToPhoneOnFile)),
        ),
        (
            "confirmed_by_root".to_string(),
            RestrictedExpression::new_bool(has(IdentityCheck::ConfirmedByRoot)),
        ),
        (
            "document_check".to_string(),
            RestrictedExpression::new_bool(has(IdentityCheck::DocumentCheck)),
        ),
    ])
    .map_err(|e| e.to_string())?;
    let agent = |id: &str| RestrictedExpression::new_entity_uid(names.support_agent(id));
    let mut attrs = HashMap::from([
        (
            "for_root".to_string(),
            RestrictedExpression::new_bool(account.role == Role::Root),
        ),
        (
            "for_support_agent".to_string(),
            RestrictedExpression::new_bool(account.role == Role::SupportAgent),
        ),
        (
            "target_active".to_string(),
            RestrictedExpression::new_bool(account.active),
        ),
        ("opened_by".to_string(), agent(&case.opened_by)),
        (
            "opened_at".to_string(),
            datetime_expr(names, case.opened_at)?,
        ),
        ("checks".to_string(), checks),
        (
            "cancelled".to_string(),
            RestrictedExpression::new_bool(case.state == CaseState::Cancelled),
        ),
        (
            "redeemed".to_string(),
            RestrictedExpression::new_bool(case.state == CaseState::Redeemed),
        ),
    ]);
    if let Some(approver) = &case.approved_by {
        attrs.insert("approved_by".to_string(), agent(approver));
    }
    if let Some(at) = case.ticket_issued_at {
        attrs.insert("ticket_issued_at".to_string(), datetime_expr(names, at)?);
    }
    Entity::new(names.recovery_case(&case.id), attrs, parents).map_err(|e| e.to_string())
}
