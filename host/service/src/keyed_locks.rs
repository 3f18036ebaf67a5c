//! Serializes work on one key inside this replica: state changes of one
//! organization (so that concurrent requests queue instead of colliding at
//! commit time; across replicas the store's version checks still decide),
//! and password checks of one account id (so that parallel guesses cannot
//! all pass the throttle before the first failure is counted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if locks.len() > 10_000 {
                // Forget keys nobody is waiting on.
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry(key.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}
