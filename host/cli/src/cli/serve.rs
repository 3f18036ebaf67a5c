//! `mfa-reset serve`: the sidecar service.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use mfa_reset::{EngineBuilder, LockoutPolicy};
use mfa_reset_service::{
    Clock, DEFAULT_MAX_HEADER_LINES, DEFAULT_ROUTES, DEMO_SEED, DecisionLogConfig, DenialThrottle,
    ForwardedHeaders, LoginThrottle, ReloadGate, RouteMap, Seed, Service, ServiceConfig, Webhook,
    WebhookKey,
};

use super::database::{DatabaseArgs, read};
use super::error::CliError;

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum HeaderFamily {
    Original,
    Forwarded,
    RequestLine,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MFA_RESET_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Policy directory (`*.cedar` + `*.cedarschema`), reloaded when edited; built-in if not given.
    #[arg(long, env = "MFA_RESET_POLICIES")]
    policies: Option<PathBuf>,
    /// Guardrail directory (e.g. policies/guardrails): install a policy set, at start or
    /// on reload, only if it is proven within these guardrails (needs cvc5).
    #[arg(long, env = "MFA_RESET_GUARDRAILS")]
    guardrails: Option<PathBuf>,
    /// Support URL that session-expired denials point to (R8).
    #[arg(long, env = "MFA_RESET_SUPPORT_URL")]
    support_url: Option<String>,
    /// Gateway route map (TOML); host/service/deploy/routes.toml if not given.
    #[arg(long, env = "MFA_RESET_ROUTES")]
    routes: Option<PathBuf>,
    /// Peers (gateways) allowed to ask forward-auth, and whose forwarding
    /// headers and X-Forwarded-For are believed (repeat the flag).
    #[arg(
        long = "trusted-proxy",
        env = "MFA_RESET_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = "127.0.0.1,::1"
    )]
    trusted_proxies: Vec<IpAddr>,
    /// Which headers carry the original method and URI to /forward-auth:
    /// `original` (X-Original-Method/-URI: nginx, host/service/deploy/nginx.conf),
    /// `forwarded` (X-Forwarded-Method/-Uri: Traefik, Caddy, APISIX) or
    /// `request-line` (Envoy ext_authz). A request carrying another family is refused.
    #[arg(
        long,
        env = "MFA_RESET_FORWARDED_HEADERS",
        value_enum,
        default_value = "original"
    )]
    forwarded_headers: HeaderFamily,
    /// The console's public address (`https://mfa.example.com`), where the
    /// invitation links of users provisioned by SCIM point; `http://LISTEN`
    /// if not given.
    #[arg(long, env = "MFA_RESET_PUBLIC_URL")]
    public_url: Option<String>,
    /// Name shown in authenticator apps.
    #[arg(long, default_value = "mfa-reset")]
    issuer: String,
    /// Wrong codes in a row that lock verification.
    #[arg(long, default_value_t = 5)]
    max_failures: u32,
    /// First lock in seconds; doubles with each further failure.
    #[arg(long, default_value_t = 30)]
    lockout_seconds: u32,
    /// Longest lock in seconds.
    #[arg(long, default_value_t = 3600)]
    lockout_max_seconds: u32,
    /// Fill an empty database with the demo organizations
    /// (host/service/seed/demo.json: known passwords, for trying the product
    /// only). Without it, or --seed, an empty database stays empty.
    #[arg(long, conflicts_with = "seed")]
    demo: bool,
    /// Fill an empty database with the demo data in this file instead.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Browsers reach the service over plain HTTP (development only): the
    /// session cookie is then `mfa_session` without `Secure` instead of
    /// `__Host-mfa_session`.
    #[arg(long, env = "MFA_RESET_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// R16: decide with the policy sets published to the database (`mfa-reset
    /// policies publish`), switching with every replica at each set's
    /// activation time; the value names this replica in `policies status`.
    #[arg(
        long,
        value_name = "REPLICA_ID",
        conflicts_with_all = ["policies", "guardrails", "no_new_access", "max_flipped_share"]
    )]
    published_policies: Option<String>,
    /// Milliseconds between two reads of the policy directory (a changed
    /// set is installed once two reads in a row agree).
    #[arg(long, default_value_t = 2000)]
    policy_poll_ms: u64,
    /// Seconds between two records of a session's activity by reads
    /// (the idle limit is days; state changes always record it).
    #[arg(long, default_value_t = 60)]
    activity_interval_seconds: u64,
    /// Refuse a reloaded policy set that allows any request the set in
    /// force denies, proven for all requests (needs cvc5); the set in force
    /// keeps deciding, and the log shows the newly allowed requests.
    #[arg(long, env = "MFA_RESET_NO_NEW_ACCESS")]
    no_new_access: bool,
    /// Refuse a reloaded policy set that would flip (allow ↔ deny) more than
    /// this share (0–1) of the recent recorded decisions.
    #[arg(long, env = "MFA_RESET_MAX_FLIPPED_SHARE", value_name = "SHARE")]
    max_flipped_share: Option<f64>,
    /// Share (0–1) of decisions recorded in the decision log, for
    /// `policies replay`; 0 records none.
    #[arg(
        long,
        env = "MFA_RESET_DECISION_LOG_SAMPLE",
        default_value_t = 1.0,
        value_name = "SHARE"
    )]
    decision_log_sample: f64,
    /// Days a recorded decision is kept.
    #[arg(long, env = "MFA_RESET_DECISION_LOG_DAYS", default_value_t = 7)]
    decision_log_days: u32,
    /// Where notifications of MFA changes (reset, enable, disable,
    /// enrolment, enforcement) are POSTed, signed as Standard Webhooks says:
    /// `https://…` (plain http to loopback only). Needs MFA_RESET_WEBHOOK_SECRET.
    #[arg(long, env = "MFA_RESET_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Milliseconds one webhook delivery may take before it is tried again.
    #[arg(long, default_value_t = 10_000)]
    webhook_timeout_ms: u64,
    /// Milliseconds before the first retry of a failed delivery; doubles
    /// with each failure up to --webhook-retry-max-ms. Deliveries never give up.
    #[arg(long, default_value_t = 1_000)]
    webhook_retry_ms: u64,
    #[arg(long, default_value_t = 900_000)]
    webhook_retry_max_ms: u64,
    /// Denied state changes (reset, enable, disable, enforcement) one
    /// session or user may make per --denial-window-seconds; beyond that,
    /// its state changes are refused undecided (429) until the window ends.
    #[arg(long, env = "MFA_RESET_MAX_DENIALS", default_value_t = 10)]
    max_denials: u32,
    /// (1 to 3 600.)
    #[arg(long, env = "MFA_RESET_DENIAL_WINDOW_SECONDS", default_value_t = 60)]
    denial_window_seconds: u32,
    /// Days an audit record is kept, then purged; 0 (the default) keeps
    /// them forever. Purging is never switched on by an upgrade: set it.
    #[arg(long, env = "MFA_RESET_AUDIT_DAYS", default_value_t = 0)]
    audit_days: u32,
    /// Seconds a stopping service (SIGTERM, SIGINT) waits for requests in
    /// flight before exiting; a second signal exits at once.
    #[arg(long, env = "MFA_RESET_DRAIN_SECONDS", default_value_t = 20)]
    drain_seconds: u64,
    /// Header lines a request may have before it is refused with 431. The
    /// default reads whatever nginx forwards with its default buffers, so
    /// forward-auth answers only 200, 401 or 403 (nginx turns anything else
    /// into a 500); lower it only with a gateway that limits header lines.
    #[arg(long, env = "MFA_RESET_MAX_HEADER_LINES", default_value_t = DEFAULT_MAX_HEADER_LINES)]
    max_header_lines: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// Log format on standard output.
    #[arg(long, value_enum, default_value = "json")]
    log_format: LogFormat,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MFA_RESET_LOG")
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

pub fn run(args: ServeArgs, engine: EngineBuilder) -> Result<ExitCode, CliError> {
    init_logs(args.log_format);
    let config = service_config(args, engine)?;
    let drain = config.drain_timeout;
    let runtime = tokio::runtime::Runtime::new()?;
    let code = runtime.block_on(serve_until_signalled(config, drain))?;
    // Work on the blocking pool (a policy proof, a replay) is not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(code)
}

/// What the flags and the environment tell the service, checked.
fn service_config(args: ServeArgs, engine: EngineBuilder) -> Result<ServiceConfig, CliError> {
    let (database, secret_key) = args.database.url_and_key()?;
    let routes = match &args.routes {
        Some(path) => RouteMap::parse(&read(path)?).map_err(|e| CliError::file(path, e))?,
        None => RouteMap::parse(DEFAULT_ROUTES).expect("the shipped route map parses"),
    };
    // Demo data (known passwords) only when asked for: a real database is
    // never filled with it by accident, PostgreSQL included.
    let seed = match (&args.seed, args.demo) {
        (Some(path), _) => Some(Seed::parse(&read(path)?)?),
        (None, true) => Some(Seed::parse(DEMO_SEED)?),
        (None, false) => None,
    };
    let webhook = webhook(&args)?;
    let (decision_log, reload_gate) = decision_log_and_gate(&args)?;
    Ok(ServiceConfig {
        listen: args.listen,
        reload_gate,
        decision_log,
        database,
        secret_key,
        public_url: args
            .public_url
            .unwrap_or_else(|| format!("http://{}", args.listen))
            .trim_end_matches('/')
            .to_string(),
        seed,
        policies_dir: args.policies,
        published_policies: args.published_policies,
        policy_poll_interval: std::time::Duration::from_millis(args.policy_poll_ms.max(10)),
        guardrails_dir: args.guardrails,
        support_url: args.support_url,
        routes,
        trusted_proxies: args.trusted_proxies,
        forwarded_headers: match args.forwarded_headers {
            HeaderFamily::Original => ForwardedHeaders::Original,
            HeaderFamily::Forwarded => ForwardedHeaders::Forwarded,
            HeaderFamily::RequestLine => ForwardedHeaders::RequestLine,
        },
        login_throttle: LoginThrottle::default(),
        denial_throttle: DenialThrottle {
            max_denials: args.max_denials.max(1),
            // Windows are forgotten a day after they start.
            window_seconds: args.denial_window_seconds.clamp(1, 3600),
        },
        audit_retention: (args.audit_days > 0)
            .then(|| std::time::Duration::from_secs(u64::from(args.audit_days) * 86_400)),
        drain_timeout: std::time::Duration::from_secs(args.drain_seconds),
        // hyper allocates a table this large for every request.
        max_header_lines: args.max_header_lines.clamp(100, 65_536),
        issuer: args.issuer,
        lockout: LockoutPolicy {
            max_failures: args.max_failures,
            base_delay_seconds: args.lockout_seconds,
            max_delay_seconds: args.lockout_max_seconds,
        },
        secure_cookies: !args.insecure_cookies,
        max_body_bytes: args.max_body_bytes,
        activity_interval: std::time::Duration::from_secs(args.activity_interval_seconds),
        webhook,
        clock: Clock::default(),
        engine,
    })
}

/// The webhook, if `--webhook-url` is given; its signing secret comes from
/// the environment only (a flag would show in the process list).
fn webhook(args: &ServeArgs) -> Result<Option<Webhook>, CliError> {
    let secret = std::env::var("MFA_RESET_WEBHOOK_SECRET").ok();
    match (&args.webhook_url, &secret) {
        (None, _) => Ok(None),
        (Some(_), None) => Err(CliError::setting(
            "--webhook-url",
            "needs MFA_RESET_WEBHOOK_SECRET (the signing secret)",
        )),
        (Some(url), Some(secret)) => {
            let key = WebhookKey::parse(secret).map_err(|e| {
                CliError::setting("MFA_RESET_WEBHOOK_SECRET", format!("is refused: {e}"))
            })?;
            let webhook = Webhook::new(url, key)
                .map_err(|e| CliError::setting("--webhook-url", format!("is refused: {e}")))?;
            let ms = std::time::Duration::from_millis;
            Ok(Some(Webhook {
                timeout: ms(args.webhook_timeout_ms.max(1)),
                retry_base: ms(args.webhook_retry_ms.max(1)),
                retry_max: ms(args.webhook_retry_max_ms.max(args.webhook_retry_ms).max(1)),
                ..webhook
            }))
        }
    }
}

/// The decision log (when sampled) and the gates a reloaded set must pass.
fn decision_log_and_gate(
    args: &ServeArgs,
) -> Result<(Option<DecisionLogConfig>, ReloadGate), CliError> {
    let share = |flag: &'static str, value: f64| {
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(CliError::setting(
                flag,
                format!("{value}: must be a share between 0 and 1"),
            ))
        }
    };
    let sample = share("--decision-log-sample", args.decision_log_sample)?;
    let decision_log = (sample > 0.0).then(|| DecisionLogConfig {
        sample,
        retention: std::time::Duration::from_secs(
            u64::from(args.decision_log_days.max(1)) * 86_400,
        ),
    });
    let max_flipped_share = args
        .max_flipped_share
        .map(|s| share("--max-flipped-share", s))
        .transpose()?;
    if max_flipped_share.is_some() && decision_log.is_none() {
        return Err(CliError::setting(
            "--max-flipped-share",
            "replays the decision log: it needs --decision-log-sample above 0",
        ));
    }
    let gate = ReloadGate {
        no_new_access: args.no_new_access,
        max_flipped_share,
    };
    Ok((decision_log, gate))
}

/// Starts the service and serves until SIGTERM or SIGINT, then stops it
/// cleanly (see `Service::shutdown`); a second signal exits at once.
async fn serve_until_signalled(
    config: ServiceConfig,
    drain: std::time::Duration,
) -> Result<ExitCode, CliError> {
    // Listening before the service starts: a signal while it starts (the
    // component compiling, the database migrating) stops it cleanly too.
    let mut signals = Signals::new()?;
    let started = tokio::select! {
        started = Service::start(config) => started,
        signal = signals.next() => {
            tracing::info!(signal, "stopped before it started");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut service = match started {
        Ok(service) => service,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    super::systemd_notify::notify("READY=1");
    tokio::select! {
        result = service.wait() => {
            result?;
            return Ok(ExitCode::SUCCESS);
        }
        signal = signals.next() => tracing::info!(
            signal,
            drain_seconds = drain.as_secs(),
            "stopping: no new connections; draining the requests in flight"
        ),
    }
    super::systemd_notify::notify("STOPPING=1");
    tokio::select! {
        stopped = service.shutdown(drain) => {
            tracing::info!(
                drained = stopped.drained,
                decisions_flushed = stopped.decisions_flushed,
                notifications_released = stopped.notifications_released,
                "{}",
                if stopped.drained { "drained: every request in flight was answered; stopped" }
                else { "drain timeout: requests still in flight were dropped; stopped" }
            );
            Ok(ExitCode::SUCCESS)
        }
        signal = signals.next() => {
            tracing::warn!(signal, "second signal: exiting at once");
            // 128 + the signal's number, as a shell reports it; now, not
            // after whatever the runtime is still running.
            std::process::exit(if signal == "SIGINT" { 130 } else { 143 });
        }
    }
}

/// SIGTERM (systemd, Kubernetes) and SIGINT (Ctrl-C) alike.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
