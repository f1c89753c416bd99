//! API key secrets: generated from the OS random source, shown once, stored
//! only as a SHA-256 digest. A 256-bit random key needs no slow hash: there
//! is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every Roster key starts with this, so leaked keys are easy to grep for.
pub const KEY_PREFIX: &str = "rst_";

/// A new secret: `rst_` followed by 43 URL-safe characters (256 bits).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new console session token: 256 random bits, URL-safe, with a prefix
/// of its own so that it is never taken for an API key.
pub fn generate_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("rss_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A secret's SHA-256: what [`digest`] spells in hex, and the key under
/// which a resolved secret is remembered in memory (no text to build on
/// every request).
pub fn raw_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The digest under which a secret is stored and looked up.
pub fn digest(secret: &str) -> String {
    hex::encode(raw_digest(secret))
}

/// The length of a secret made by [`generate`].
const GENERATED_LEN: usize = KEY_PREFIX.len() + 43;

/// The part of a secret that key listings show, to tell keys apart: `rst_`
/// and 6 of a generated key's 43 random characters (36 of 256 bits).
/// Nothing of a secret chosen by an operator (the bootstrap key), which
/// may be short or guessable. Never written to the event log.
pub fn visible_prefix(secret: &str) -> String {
    if secret.starts_with(KEY_PREFIX) && secret.len() == GENERATED_LEN {
        secret.chars().take(KEY_PREFIX.len() + 6).collect()
    } else {
        String::new()
    }
}

/// Whether `password` matches a stored argon2 `hash`. The check is slow on
/// purpose, so it runs off the async workers.
pub async fn password_matches(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody knows, checked when a user has none, so a
/// failed password check takes the same time either way.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| crate::validate::password(&generate()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_digests_stable() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(digest(&a), digest(&a));
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(visible_prefix(&a).len(), 10);
        assert_eq!(visible_prefix("rst_chosen_by_an_operator"), "", "a chosen secret shows nothing");
    }
}
