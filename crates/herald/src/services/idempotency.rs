//! Idempotency keys, with Stripe's semantics: the same key with the same request gives the
//! first response again; with a different request it is refused (422); while the first
//! request still runs, a repeat gets a conflict (409), never a second message.
//!
//! A key is stored only in the transaction of what its request creates, already `done`
//! with the response: a request that fails, or whose process dies, leaves nothing behind,
//! so its retry is served at once. While a request runs, its key is held in this process
//! ([`HeldKeys`]); a repeat meanwhile gets 409. A repeat in another process (PostgreSQL)
//! waits on the key's row until the first commits, then gets its response.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use herald_domain::AccountId;
use sha2::{Digest, Sha256};

/// A client-chosen idempotency key: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to 255 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(input: &str) -> Result<Self, InvalidIdempotencyKey> {
        let valid = !input.is_empty()
            && input.len() <= Self::MAX_LEN
            && input.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies "the same request": method, path and the JSON body with its object
/// keys in sorted order (so key order and whitespace do not matter).
pub fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    // serde_json's map is ordered by key (no `preserve_order`), so this is canonical.
    hasher.update(body.to_string().as_bytes());
    hasher.finalize().into()
}

/// A key presented with a request, and that request's fingerprint.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    pub key: IdempotencyKey,
    pub fingerprint: [u8; 32],
}

/// The keys of the requests running in this process.
#[derive(Debug, Clone, Default)]
pub struct HeldKeys(Arc<Mutex<HashSet<(AccountId, String)>>>);

/// A key held for one running request; dropping it (the request ended, however) frees it.
#[derive(Debug)]
pub struct KeyHold {
    keys: HeldKeys,
    key: (AccountId, String),
}

impl HeldKeys {
    /// Holds `key` for a request; None while another request of this process holds it.
    pub fn hold(&self, account: AccountId, key: &IdempotencyKey) -> Option<KeyHold> {
        let key = (account, key.as_str().to_owned());
        let mut held = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.insert(key.clone()).then(|| KeyHold { keys: self.clone(), key })
    }
}

impl Drop for KeyHold {
    fn drop(&mut self) {
        let mut held = self.keys.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        held.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_held_key_is_refused_until_its_hold_is_dropped() {
        let keys = HeldKeys::default();
        let (account, key) = (AccountId::new(), IdempotencyKey::parse("k").unwrap());
        let hold = keys.hold(account, &key).expect("free");
        assert!(keys.hold(account, &key).is_none(), "held");
        assert!(keys.hold(AccountId::new(), &key).is_some(), "keys are per account");
        drop(hold);
        assert!(keys.hold(account, &key).is_some(), "free again");
    }

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("order-42/receipt").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("caf\u{e9}").is_err());
    }

    #[test]
    fn fingerprint_ignores_key_order_but_not_values_or_paths() {
        let a = json!({"to": "+1", "body": "hi"});
        let b: serde_json::Value = serde_json::from_str(r#"{ "body":"hi",  "to":"+1" }"#).unwrap();
        assert_eq!(fingerprint("POST", "/x", &a), fingerprint("POST", "/x", &b));
        assert_ne!(fingerprint("POST", "/x", &a), fingerprint("POST", "/y", &a));
        assert_ne!(
            fingerprint("POST", "/x", &a),
            fingerprint("POST", "/x", &json!({"to": "+1", "body": "ho"}))
        );
    }
}
