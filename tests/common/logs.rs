//! Everything logged in this test process, through one global subscriber:
//! a thread-local one misses events whose callsites other test threads
//! registered first (tracing caches callsite interest globally).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Buffer> = OnceLock::new();

/// Starts capturing (once per process); call before what is to be read.
pub fn capture() {
    LOGS.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        tracing::callsite::rebuild_interest_cache();
        buffer
    });
}

/// What was logged since [`capture`] first ran.
pub fn captured() -> String {
    let buffer = LOGS.get().expect("capture() first");
    String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned()
}
