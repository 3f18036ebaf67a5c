//! A real PostgreSQL (Debian's package) in a temp dir on a free loopback
//! port, started and stopped by the test (also when it panics).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian installs the server outside PATH, per major version.
fn pg_bin(tool: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: `apt-get install postgresql` (.ci/run does)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(tool)))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("no PostgreSQL `{tool}` under /usr/lib/postgresql"))
}

/// The server refuses to run as root: as root, run it as `postgres`.
fn as_postgres(command: &mut Command) -> &mut Command {
    let running_as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if running_as_root {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let entry = passwd
            .lines()
            .find(|l| l.starts_with("postgres:"))
            .expect("a `postgres` user (the package creates it)");
        let fields: Vec<&str> = entry.split(':').collect();
        command
            .uid(fields[2].parse().unwrap())
            .gid(fields[3].parse().unwrap());
    }
    command
}

/// A PostgreSQL cluster on a free loopback port; stopped on drop.
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Postgres {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mfa-reset-pg")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        if let Ok(o) = Command::new("id").args(["-u", "postgres"]).output()
            && o.status.success()
            && Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
        {
            let uid: u32 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), None).unwrap();
        }
        let initdb = as_postgres(Command::new(pg_bin("initdb")).arg("-D").arg(&data).args([
            "-U",
            "mfa",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ]))
        .stdout(Stdio::null())
        .output()
        .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut pg = Self {
            child: None,
            port,
            dir,
        };
        pg.spawn();
        pg
    }

    /// Starts the server on the cluster and port of `self`, and waits until
    /// it listens.
    pub fn spawn(&mut self) {
        let child = as_postgres(
            Command::new(pg_bin("postgres"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .arg("-k")
                .arg(self.dir.path())
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ]),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .unwrap(),
        ))
        .spawn()
        .expect("postgres starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (SIGINT: fast shutdown, clients disconnected) and
    /// waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The server's log (its standard error), across restarts.
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("postgres://mfa@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    /// No server outlives the test, also when it panics.
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match sqlx::PgPool::connect(url).await {
            Ok(pool) => return pool.close().await,
            Err(e) => assert!(Instant::now() < deadline, "PostgreSQL not ready: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `n` replicas of the service (the test config) on `pg`, once it is ready,
/// sharing one secret key as a fleet does: the replicas, their base URLs,
/// and the first one's clock.
pub async fn replicas(
    pg: &Postgres,
    n: usize,
) -> (
    Vec<mfa_reset_service::Service>,
    Vec<String>,
    mfa_reset_service::Clock,
) {
    wait_ready(&pg.url()).await;
    let key = mfa_reset_service::SecretBox::generate_base64();
    let configs: Vec<_> = (0..n)
        .map(|_| super::service::config(pg.url(), key.clone()))
        .collect();
    let clock = configs[0].clock.clone();
    let mut services = Vec::new();
    for (i, config) in configs.into_iter().enumerate() {
        let service = mfa_reset_service::Service::start(config)
            .await
            .unwrap_or_else(|e| panic!("replica {i} starts: {e}"));
        services.push(service);
    }
    let bases = services
        .iter()
        .map(|s| format!("http://{}", s.local_addr()))
        .collect();
    (services, bases, clock)
}
