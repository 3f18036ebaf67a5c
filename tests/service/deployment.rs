//! What an operator deploys: the hardened systemd unit (checked by systemd's
//! own `systemd-analyze`), and the service's side of its `Type=notify`
//! contract (ready once it answers, stopping at SIGTERM, exit 0).

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::served::Served;

const UNIT: &str = "host/service/deploy/mfa-reset.service";

/// The shipped unit with the binary this build made in place of
/// `/usr/local/bin/mfa-reset` (verify checks that the binary exists).
fn unit_copy(dir: &Path, text: &str) -> std::path::PathBuf {
    let installed = "ExecStart=/usr/local/bin/mfa-reset serve ";
    assert_eq!(
        text.matches(installed).count(),
        1,
        "the unit starts the installed binary"
    );
    let built = format!("ExecStart={} serve ", env!("CARGO_BIN_EXE_mfa-reset"));
    let copy = dir.join("mfa-reset.service");
    std::fs::write(&copy, text.replace(installed, &built)).unwrap();
    copy
}

/// Runs `systemd-analyze` with `args`: exit code and everything it printed.
fn systemd_analyze(args: &[&str], unit: &Path) -> (i32, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze runs (Debian's systemd)");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), said)
}

/// `systemd-analyze verify` accepts the unit without a word (an unknown
/// key or a bad value would be a warning), and `systemd-analyze security`
/// rates its exposure at most 2.0 ("OK"): its own user, a read-only
/// system, no privileges, no new ones, a system-call filter.
#[test]
fn the_systemd_unit_verifies_and_its_exposure_is_low() {
    let text = std::fs::read_to_string(common::repo(UNIT)).unwrap();
    for line in [
        "Type=notify",
        "DynamicUser=yes",
        "StateDirectory=mfa-reset",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(text.contains(line), "the unit has {line:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path(), &text);
    let (code, said) = systemd_analyze(&["verify"], &unit);
    assert_eq!((code, said.as_str()), (0, ""), "systemd-analyze verify");
    let (code, said) = systemd_analyze(&["security", "--offline=yes", "--threshold=20"], &unit);
    assert_eq!(code, 0, "exposure above 2.0:\n{said}");
    assert!(
        said.contains("Overall exposure level for mfa-reset.service: 1."),
        "{said}"
    );

    // The checks can fail: a misspelt key, and the unit without its hardening.
    let typo = unit_copy(dir.path(), &text.replace("ProtectSystem=", "ProtectSystm="));
    let (_, said) = systemd_analyze(&["verify"], &typo);
    assert!(said.contains("Unknown key 'ProtectSystm'"), "{said}");
    let bare: String = text
        .lines()
        .filter(|l| {
            !l.starts_with("Protect") && !l.starts_with("SystemCall") && !l.starts_with("Private")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let bare = unit_copy(dir.path(), &bare);
    let (code, _) = systemd_analyze(&["security", "--offline=yes", "--threshold=20"], &bare);
    assert_ne!(code, 0, "the unhardened unit is rated above 2.0");
}

/// The service's side of `Type=notify`: `READY=1` once it answers (the
/// unit's start completes then), `STOPPING=1` at SIGTERM, then exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_is_told_ready_once_serving_and_stopping_at_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let args = vec![
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
    ];
    let mut served = Served::start(
        &args,
        &[("NOTIFY_SOCKET", socket_path.display().to_string())],
    )
    .await;
    let mut buffer = [0; 256];
    let n = socket.recv(&mut buffer).expect("READY=1 within 30 s");
    assert_eq!(std::str::from_utf8(&buffer[..n]).unwrap(), "READY=1");
    served.signal("TERM");
    let n = socket.recv(&mut buffer).expect("STOPPING=1 after SIGTERM");
    assert_eq!(std::str::from_utf8(&buffer[..n]).unwrap(), "STOPPING=1");
    assert_eq!(
        served.exit_code(Duration::from_secs(30)),
        Some(0),
        "{}",
        served.log()
    );
}
