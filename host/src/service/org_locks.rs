//! Serializes state changes of one organization inside this replica, so
//! that concurrent requests queue instead of colliding at commit time.
//! Across replicas the store's version checks still decide; this lock only
//! spares most retries (and 409s) under contention.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct OrgLocks {
    locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

impl OrgLocks {
    pub async fn lock(&self, organization: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if locks.len() > 10_000 {
                // Forget organizations nobody is waiting on.
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry(organization.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}
