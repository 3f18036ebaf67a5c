//! The real `mfa-reset serve` process, for tests that kill it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::service::client;

/// A running `mfa-reset serve --demo` (args and environment as given, on a
/// free port); killed (SIGKILL) when dropped.
pub struct Served {
    child: Child,
    pub base: String,
    /// Its standard output: the log.
    log: tempfile::NamedTempFile,
}

impl Served {
    pub async fn start(args: &[String], envs: &[(&str, String)]) -> Self {
        Self::launch(args, envs, &["--demo"]).await
    }

    /// `mfa-reset serve` as an operator starts it: no demo data.
    pub async fn start_without_demo(args: &[String], envs: &[(&str, String)]) -> Self {
        Self::launch(args, envs, &[]).await
    }

    async fn launch(args: &[String], envs: &[(&str, String)], demo: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = super::mfa_reset_command()
            .arg("serve")
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--insecure-cookies",
            ])
            .args(demo)
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(log.reopen().unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("the service starts");
        let served = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = client().get(format!("{}/health", served.base)).send().await
                && r.status() == StatusCode::OK
            {
                return served;
            }
            assert!(Instant::now() < deadline, "the service did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Sends `signal` (`TERM`, `INT`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal}");
    }

    /// Waits up to `within` for the process to exit; its exit code (`None`
    /// when it is still running, or was ended by a signal).
    pub fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
