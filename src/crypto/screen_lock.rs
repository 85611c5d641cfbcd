//! The phone's screen lock as a key store for an encrypted notebook: what the page keeps so
//! that a fingerprint, a face or the phone's PIN opens the notebook instead of the typed
//! passphrase. What is sealed (the key below) is a text the notebook opens with:
//! the app gives it the notebook's raw key (SQLCipher's `x'…'` form, which skips the
//! passphrase's derivation), not the passphrase itself.
//!
//! The phone's authenticator (a passkey made for the app, WebAuthn) gives, after its user
//! verification, a secret of 32 bytes for a salt of ours (WebAuthn's `prf` extension): the
//! same secret for the same passkey and salt every time, and no way to have it without the
//! authenticator and its screen lock. The key is sealed under a cipher keyed from that
//! secret (AES-256-SIV, keyed by HKDF-SHA256; a random nonce, the passkey's id and the salt
//! as associated data) and kept in the page's storage as an [`Enrolment`]; opening the
//! notebook asks the authenticator for the secret again and opens the key with it. The
//! browser side (the WebAuthn calls) is in the app's `browser::screen_lock`.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::text::{base64url, from_base64url};

/// Why the screen lock's copy of the notebook's key could not be made or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenLockError {
    /// The copy kept by the page is not one this version reads.
    #[error(
        "the screen lock's copy of the notebook's key {0}: type the passphrase, and set the screen lock up again in Settings"
    )]
    Damaged(&'static str),
    /// The authenticator's answer is not a secret of the expected length.
    #[error(
        "the phone's screen lock gave a key of {0} bytes instead of {SECRET_LEN}: this phone cannot open the notebook with it; type the passphrase"
    )]
    Secret(usize),
    /// Sealing failed (the cipher refused the input).
    #[error("the notebook's key could not be sealed ({0}); try again")]
    Seal(String),
}

/// The length of the salt the authenticator's secret is asked for with.
pub const SALT_LEN: usize = 32;

/// The length of the authenticator's secret (WebAuthn's `prf` gives SHA-256 outputs).
pub const SECRET_LEN: usize = 32;

/// What the page keeps: the passkey's id, the salt, and the key sealed under the
/// secret the authenticator gives for them. Nothing here opens anything without the
/// authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The passkey's credential id (asked for by id: one passkey, this notebook's).
    pub credential: Vec<u8>,
    /// The salt the secret is asked for with.
    pub salt: [u8; SALT_LEN],
    /// A 16-byte nonce, then the key sealed.
    sealed: Vec<u8>,
}

/// The enrolment as text in the page's storage (base64url fields).
#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    credential: String,
    salt: String,
    sealed: String,
}

/// The format's version in [`Stored::v`].
const VERSION: u32 = 1;

fn cipher(secret: &[u8; SECRET_LEN]) -> aes_siv::siv::Aes256Siv {
    super::keys::siv(secret, b"groundwork screen lock v1", "")
}

impl Enrolment {
    /// Seal `key` (the text the notebook opens with) under the authenticator's `secret` for
    /// passkey `credential` and `salt`, with a random `nonce`.
    pub fn seal(
        credential: &[u8],
        salt: [u8; SALT_LEN],
        secret: &[u8; SECRET_LEN],
        nonce: [u8; 16],
        key: &str,
    ) -> Result<Enrolment, ScreenLockError> {
        let sealed = super::keys::seal_with_nonce(
            cipher(secret),
            nonce,
            &[credential, &salt[..]],
            key.as_bytes(),
        )
        .map_err(|e| ScreenLockError::Seal(e.to_string()))?;
        Ok(Enrolment {
            credential: credential.to_vec(),
            salt,
            sealed,
        })
    }

    /// The key, opened with the authenticator's `secret`; an error if the secret is not the
    /// one it was sealed under or the enrolment was changed.
    pub fn open(&self, secret: &[u8; SECRET_LEN]) -> Result<Zeroizing<String>, ScreenLockError> {
        let plain = super::keys::open_with_nonce(
            cipher(secret),
            &self.sealed,
            &[&self.credential[..], &self.salt[..]],
        )
        .ok_or(ScreenLockError::Damaged(
            "does not open with this phone's screen lock",
        ))?;
        std::str::from_utf8(&plain)
            .map(|text| Zeroizing::new(text.to_string()))
            .map_err(|_| ScreenLockError::Damaged("is damaged"))
    }

    /// As kept in the page's storage.
    pub fn to_text(&self) -> String {
        let stored = Stored {
            v: VERSION,
            credential: base64url(&self.credential),
            salt: base64url(&self.salt),
            sealed: base64url(&self.sealed),
        };
        // A struct of strings and a number always serialises.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Read back from the page's storage.
    pub fn from_text(text: &str) -> Result<Enrolment, ScreenLockError> {
        let stored: Stored =
            serde_json::from_str(text).map_err(|_| ScreenLockError::Damaged("is damaged"))?;
        if stored.v != VERSION {
            return Err(ScreenLockError::Damaged(
                "was written by another version of Groundwork",
            ));
        }
        let credential = from_base64url(&stored.credential)
            .filter(|c| !c.is_empty())
            .ok_or(ScreenLockError::Damaged("is damaged"))?;
        let salt = from_base64url(&stored.salt)
            .and_then(|s| <[u8; SALT_LEN]>::try_from(s.as_slice()).ok())
            .ok_or(ScreenLockError::Damaged("is damaged"))?;
        let sealed =
            from_base64url(&stored.sealed).ok_or(ScreenLockError::Damaged("is damaged"))?;
        Ok(Enrolment {
            credential,
            salt,
            sealed,
        })
    }
}

/// The authenticator's secret as the 32 bytes it must be; an error (in words) otherwise.
pub fn secret(bytes: &[u8]) -> Result<Zeroizing<[u8; SECRET_LEN]>, ScreenLockError> {
    <[u8; SECRET_LEN]>::try_from(bytes)
        .map(Zeroizing::new)
        .map_err(|_| ScreenLockError::Secret(bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [9; 32];
    const PASS: &str = "kettle lantern orchard 42";

    fn enrolment() -> Enrolment {
        Enrolment::seal(b"passkey id", [4; SALT_LEN], &SECRET, [1; 16], PASS).unwrap()
    }

    #[test]
    fn the_passphrase_opens_only_with_the_authenticators_secret() {
        let e = enrolment();
        assert_eq!(e.open(&SECRET).unwrap().as_str(), PASS);
        assert!(e.open(&[8; 32]).is_err());
        // Kept as text, read back: the same, and no trace of the passphrase.
        let text = e.to_text();
        assert!(!text.contains("kettle") && !text.contains(&base64url(PASS.as_bytes())));
        let back = Enrolment::from_text(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.open(&SECRET).unwrap().as_str(), PASS);
    }

    #[test]
    fn an_enrolment_changed_anywhere_does_not_open() {
        let e = enrolment();
        for i in 0..e.sealed.len() {
            let mut changed = e.clone();
            changed.sealed[i] ^= 1;
            assert!(changed.open(&SECRET).is_err(), "sealed byte {i}");
        }
        // Bound to the passkey and the salt: moved to another passkey's id, or to another
        // salt, it does not open even with the same secret.
        let mut moved = e.clone();
        moved.credential = b"another id".to_vec();
        assert!(moved.open(&SECRET).is_err());
        let mut salted = e.clone();
        salted.salt[0] ^= 1;
        assert!(salted.open(&SECRET).is_err());
        let mut short = e.clone();
        short.sealed.truncate(10);
        assert!(short.open(&SECRET).is_err());
    }

    #[test]
    fn damaged_text_is_an_error_in_words() {
        for text in [
            "",
            "not json",
            r#"{"v":2,"credential":"AA","salt":"AA","sealed":"AA"}"#,
            r#"{"v":1,"credential":"","salt":"AA","sealed":"AA"}"#,
            r#"{"v":1,"credential":"AA","salt":"AA","sealed":"AA"}"#,
            r#"{"v":1,"credential":"AA","salt":"!!","sealed":"AA"}"#,
        ] {
            let e = Enrolment::from_text(text).unwrap_err().to_string();
            assert!(e.contains("type the passphrase"), "{text}: {e}");
        }
        assert!(secret(&[0; 31]).is_err());
        assert!(secret(&[0; 32]).is_ok());
    }
}
