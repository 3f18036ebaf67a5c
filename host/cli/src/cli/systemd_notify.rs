//! systemd's readiness protocol (sd_notify(3), `Type=notify`): `READY=1`
//! once the service answers, `STOPPING=1` when a signal starts its stop.
//! Nothing is sent without `NOTIFY_SOCKET` (not started by systemd).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;

/// Sends `state` to systemd, if it asked for it; a failure is logged, and
/// the service goes on (a notification is never worth stopping for).
pub fn notify(state: &str) {
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET")
        && let Err(e) = notify_to(&path, state)
    {
        tracing::warn!(error = %e, state, "cannot notify systemd");
    }
}

/// Sends `state` to the socket `path` names (a file, or `@name`).
fn notify_to(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    UnixDatagram::unbound().and_then(|socket| {
        match path.as_bytes().strip_prefix(b"@") {
            // An abstract socket: `@` stands for the leading NUL.
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(state.as_bytes(), &address)
            }
            None => socket.send_to(state.as_bytes(), path),
        }
        .map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// systemd may name an abstract socket (`@…`) or a file; both get the
    /// state, and a socket nobody listens on is an error, not a panic.
    #[test]
    fn the_state_reaches_an_abstract_socket_and_a_file_socket() {
        use std::os::linux::net::SocketAddrExt;

        let name = format!("mfa-reset-notify-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let listener = UnixDatagram::bind_addr(&address).unwrap();
        notify_to(std::ffi::OsStr::new(&format!("@{name}")), "READY=1").unwrap();
        let mut buffer = [0; 64];
        let n = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"READY=1");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notify");
        let listener = UnixDatagram::bind(&file).unwrap();
        notify_to(file.as_os_str(), "STOPPING=1").unwrap();
        let n = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"STOPPING=1");

        assert!(notify_to(dir.path().join("nobody").as_os_str(), "READY=1").is_err());
    }
}
