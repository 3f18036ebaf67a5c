//! `mfa-reset orgs|users|agents|scim-tokens`: the operators' commands (R13, R14),
//! against the database `serve` uses (SQLite or PostgreSQL; run them
//! while it serves). No command takes a password: a new account gets a
//! single-use invitation link, printed once.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use mfa_reset_service::{AccountError, Accounts, Invitation};
use serde::Serialize;

use super::database::DatabaseArgs;
use super::error::CliError;

/// Flags every operator command shares.
#[derive(Args)]
pub struct OperatorArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The console's public address, where invitation links point.
    #[arg(
        long,
        env = "MFA_RESET_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    public_url: String,
    /// Days an invitation made by this command stays usable.
    #[arg(long, default_value_t = 7, global = true)]
    invitation_days: u16,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
pub enum OrgsCommand {
    /// Create an organization and its root user, who gets an invitation.
    Create {
        /// The organization's id.
        organization: String,
        /// The id of its root user.
        #[arg(long)]
        root: String,
        /// Enforce MFA for all its users from the start (R5).
        #[arg(long)]
        enforce_mfa: bool,
    },
    /// List the organizations with their user counts.
    List,
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a sub-user to an organization; it gets an invitation.
    Add {
        /// The new user's id.
        user: String,
        /// Its organization.
        #[arg(long = "org")]
        organization: String,
    },
    /// List an organization's users.
    List {
        #[arg(long = "org")]
        organization: String,
    },
    /// A new invitation for a user who has not chosen a password yet
    /// (older ones stop working).
    Invite { user: String },
    /// Deactivate a user: every session ends at once and every request of
    /// theirs is denied.
    Deactivate { user: String },
    /// Reactivate a deactivated user.
    Reactivate { user: String },
}

#[derive(Subcommand)]
pub enum AgentsCommand {
    /// Create a support agent (R14); they get an invitation, and enrol an
    /// authenticator at their first login. Deactivate one with
    /// `users deactivate`.
    Create {
        /// The agent's id.
        agent: String,
    },
    /// List the support agents.
    List,
}

#[derive(Subcommand)]
pub enum ScimTokensCommand {
    /// Create a bearer token for the organization's identity provider
    /// (SCIM 2.0); printed once.
    Create {
        #[arg(long = "org")]
        organization: String,
    },
    /// List an organization's tokens (ids and dates, never secrets).
    List {
        #[arg(long = "org")]
        organization: String,
    },
    /// Revoke a token: its next request is refused.
    Revoke {
        /// The token's id (`scim-…`), as `list` shows it.
        id: String,
        #[arg(long = "org")]
        organization: String,
    },
}

/// Which operator command.
pub enum Operation {
    Orgs(OrgsCommand),
    Users(UsersCommand),
    Agents(AgentsCommand),
    ScimTokens(ScimTokensCommand),
}

pub fn run(args: &OperatorArgs, operation: Operation) -> Result<ExitCode, CliError> {
    let (url, key) = args.database.url_and_key()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let accounts = Accounts::open(&url, &key, &args.public_url)
            .await
            .map_err(|e| database_error(&url, e))?
            .with_invitation_lifetime(time::Duration::days(i64::from(args.invitation_days.max(1))));
        let printer = Printer { json: args.json };
        let outcome = match operation {
            Operation::Orgs(command) => orgs(&accounts, command, &printer).await,
            Operation::Users(command) => users(&accounts, command, &printer).await,
            Operation::Agents(command) => agents(&accounts, command, &printer).await,
            Operation::ScimTokens(command) => scim_tokens(&accounts, command, &printer).await,
        };
        outcome.map_err(|e| database_error(&url, e))?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn orgs(
    accounts: &Accounts,
    command: OrgsCommand,
    out: &Printer,
) -> Result<(), AccountError> {
    match command {
        OrgsCommand::Create {
            organization,
            root,
            enforce_mfa,
        } => {
            let invitation = accounts
                .create_organization(&organization, &root, enforce_mfa)
                .await?;
            out.invitation(
                &format!("created organization {organization} with root {root}"),
                &invitation,
            );
        }
        OrgsCommand::List => {
            let list = accounts.organizations().await?;
            out.list(&list, |o| {
                format!(
                    "{}\tenforce_mfa={}\tusers={} ({} active)",
                    o.id, o.enforce_mfa, o.users, o.active_users
                )
            });
        }
    }
    Ok(())
}

async fn users(
    accounts: &Accounts,
    command: UsersCommand,
    out: &Printer,
) -> Result<(), AccountError> {
    match command {
        UsersCommand::Add { user, organization } => {
            let invitation = accounts.add_user(&organization, &user).await?;
            out.invitation(&format!("added {user} to {organization}"), &invitation);
        }
        UsersCommand::List { organization } => {
            let list = accounts.users(&organization).await?;
            out.list(&list, |u| {
                format!(
                    "{}\t{:?}\tmfa={:?}\t{}{}",
                    u.id,
                    u.role,
                    u.mfa,
                    if u.active { "active" } else { "deactivated" },
                    if u.has_password { "" } else { "\tinvited" }
                )
            });
        }
        UsersCommand::Invite { user } => {
            let invitation = accounts.invite(&user).await?;
            out.invitation(&format!("new invitation for {user}"), &invitation);
        }
        UsersCommand::Deactivate { user } => {
            accounts.set_active(&user, false).await?;
            out.done(&format!("deactivated {user}: its sessions ended"));
        }
        UsersCommand::Reactivate { user } => {
            accounts.set_active(&user, true).await?;
            out.done(&format!("reactivated {user}"));
        }
    }
    Ok(())
}

async fn agents(
    accounts: &Accounts,
    command: AgentsCommand,
    out: &Printer,
) -> Result<(), AccountError> {
    match command {
        AgentsCommand::Create { agent } => {
            let invitation = accounts.create_agent(&agent).await?;
            out.invitation(&format!("created support agent {agent}"), &invitation);
        }
        AgentsCommand::List => {
            let list = accounts.agents().await?;
            out.list(&list, |u| {
                format!(
                    "{}	mfa={:?}	{}{}",
                    u.id,
                    u.mfa,
                    if u.active { "active" } else { "deactivated" },
                    if u.has_password { "" } else { "\tinvited" }
                )
            });
        }
    }
    Ok(())
}

async fn scim_tokens(
    accounts: &Accounts,
    command: ScimTokensCommand,
    out: &Printer,
) -> Result<(), AccountError> {
    match command {
        ScimTokensCommand::Create { organization } => {
            let token = accounts.create_scim_token(&organization).await?;
            if out.json {
                out.value(&serde_json::json!({
                    "id": token.summary.id,
                    "organization": token.summary.organization,
                    "token": token.secret,
                }));
            } else {
                println!(
                    "SCIM token {} for {organization} (shown once; give it to the identity provider as the bearer token):\n{}",
                    token.summary.id, token.secret
                );
            }
        }
        ScimTokensCommand::List { organization } => {
            let list = accounts.scim_tokens(&organization).await?;
            out.list(&list, |t| {
                format!(
                    "{}\tcreated {}\t{}",
                    t.id,
                    rfc3339(t.created_at),
                    t.revoked_at.map_or_else(
                        || "in use".to_string(),
                        |r| format!("revoked {}", rfc3339(r))
                    )
                )
            });
        }
        ScimTokensCommand::Revoke { id, organization } => {
            accounts.revoke_scim_token(&organization, &id).await?;
            out.done(&format!("revoked {id}"));
        }
    }
    Ok(())
}

fn rfc3339(millis: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    mfa_reset::timestamp::from_millis(millis)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Text for people, or JSON for scripts.
struct Printer {
    json: bool,
}

impl Printer {
    fn value(&self, value: &impl Serialize) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("answers serialize")
        );
    }

    fn invitation(&self, what: &str, invitation: &Invitation) {
        if self.json {
            return self.value(invitation);
        }
        use time::format_description::well_known::Rfc3339;
        println!(
            "{what}.\nInvitation for {} (single use, until {}); send it to them only:\n{}",
            invitation.user,
            invitation.expires_at.format(&Rfc3339).unwrap_or_default(),
            invitation.link
        );
    }

    fn list<T: Serialize>(&self, items: &[T], line: impl Fn(&T) -> String) {
        if self.json {
            return self.value(&items);
        }
        for item in items {
            println!("{}", line(item));
        }
    }

    fn done(&self, what: &str) {
        if self.json {
            self.value(&serde_json::json!({ "done": what }));
        } else {
            println!("{what}");
        }
    }
}

/// An operator's command failed: which id and why, or the database.
fn database_error(url: &str, error: AccountError) -> CliError {
    match error {
        AccountError::Store(e) => CliError::Database {
            url: mfa_reset_service::redact(url),
            message: mfa_reset_service::redact(&e.to_string()),
        },
        other => CliError::Refused(other.to_string()),
    }
}
