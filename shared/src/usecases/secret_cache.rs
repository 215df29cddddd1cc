//! Secrets read on every request (a connection's webhook secrets, the deployment's signing keys),
//! kept for a short time in the warm process: a flood of requests to one connection costs one
//! Secrets Manager read per [`SECRET_TTL_MS`], not one per request.
//!
//! How a change reaches a warm process: within [`SECRET_TTL_MS`] at most; sooner where the
//! caller re-reads on a miss ([`SecretCache::reread`]: a webhook whose signature matches no cached
//! secret, a token naming a key the cached set lacks), at most once per [`SECRET_REREAD_MS`], so
//! a rotated secret works at once and a stream of bad requests still costs at most one read per
//! few seconds.
use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::{SecretString, StoreError};

pub const SECRET_TTL_MS: i64 = 60_000;
pub const SECRET_REREAD_MS: i64 = 5_000;

#[derive(Default)]
pub struct SecretCache {
    entries: Mutex<HashMap<String, (i64, Option<SecretString>)>>,
    /// When each key was last re-read on a miss.
    rereads: Mutex<HashMap<String, i64>>,
}

impl SecretCache {
    /// Drops what this process holds under `key` (its owner just wrote a new value: the next read
    /// is the store's). Other warm processes keep theirs up to [`SECRET_TTL_MS`].
    pub fn forget(&self, key: &str) {
        self.entries.lock().unwrap().remove(key);
    }

    /// The value under `key`, read with `load` when none is cached younger than `max_age_ms`.
    /// The bool says whether it was read just now.
    pub async fn get<F>(
        &self,
        key: &str,
        now_ms: i64,
        max_age_ms: i64,
        load: F,
    ) -> Result<(Option<SecretString>, bool), StoreError>
    where
        F: std::future::Future<Output = Result<Option<SecretString>, StoreError>>,
    {
        if let Some((at, v)) = self.entries.lock().unwrap().get(key)
            && now_ms - at < max_age_ms
            && now_ms >= *at
        {
            return Ok((v.clone(), false));
        }
        let v = load.await?;
        self.entries.lock().unwrap().insert(key.to_owned(), (now_ms, v.clone()));
        Ok((v, true))
    }

    /// `check` of the value under `key` (cached up to [`SECRET_TTL_MS`]); when it does not
    /// `pass` and the value was not read just now, `check` once more of a fresh read, at most
    /// once per [`SECRET_REREAD_MS`] (a secret rotated a moment ago works at once; a stream of
    /// bad requests costs a read per few seconds). Each check runs once per value it is given.
    pub async fn check<T, F, Fut>(
        &self,
        key: &str,
        now_ms: i64,
        load: F,
        check: impl Fn(Option<SecretString>) -> T,
        pass: impl Fn(&T) -> bool,
    ) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<SecretString>, StoreError>>,
    {
        let (stored, fresh) = self.get(key, now_ms, SECRET_TTL_MS, load()).await?;
        let first = check(stored);
        if pass(&first) || fresh {
            return Ok(first);
        }
        match self.reread(key, now_ms, load()).await? {
            (stored, true) => Ok(check(stored)),
            (_, false) => Ok(first),
        }
    }

    /// The value under `key` read again now, unless this process re-read it in the last
    /// [`SECRET_REREAD_MS`] (then the cached one, `None` if there is none). The bool says
    /// whether it was read.
    pub async fn reread<F>(&self, key: &str, now_ms: i64, load: F) -> Result<(Option<SecretString>, bool), StoreError>
    where
        F: std::future::Future<Output = Result<Option<SecretString>, StoreError>>,
    {
        {
            let mut rereads = self.rereads.lock().unwrap();
            if rereads.get(key).is_some_and(|at| now_ms >= *at && now_ms - at < SECRET_REREAD_MS) {
                return Ok((self.entries.lock().unwrap().get(key).and_then(|(_, v)| v.clone()), false));
            }
            rereads.insert(key.to_owned(), now_ms);
        }
        self.get(key, now_ms, 0, load).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_once_within_its_age() {
        let c = SecretCache::default();
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let load = || async {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Some(SecretString::new("s")))
        };
        assert!(c.get("k", 0, SECRET_TTL_MS, load()).await.unwrap().1);
        assert!(!c.get("k", 59_999, SECRET_TTL_MS, load()).await.unwrap().1);
        assert!(c.get("k", 60_000, SECRET_TTL_MS, load()).await.unwrap().1);
        // A miss re-reads at once, then not again for a few seconds.
        assert!(c.reread("k", 60_001, load()).await.unwrap().1);
        assert!(!c.reread("k", 60_002, load()).await.unwrap().1);
        assert!(c.reread("k", 60_001 + SECRET_REREAD_MS, load()).await.unwrap().1);
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 4);
    }
}
