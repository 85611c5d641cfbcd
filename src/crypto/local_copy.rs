//! The phone page's own copy of drafts (written to the page's `localStorage` as the page goes;
//! `ui::unsaved`), sealed when the notebook is encrypted at rest: the page's storage is not
//! the notebook's file, and a draft typed into an encrypted notebook must not sit beside it in
//! the clear.
//!
//! The key is random, made once per notebook and kept in it (so encrypted with it at rest);
//! the worker gives it to the page once the notebook is unlocked. A sealed copy is
//! `SEALED_PREFIX` then, in base64url, a random 16-byte nonce and the text sealed with
//! AES-256-SIV under a key derived from the notebook's (the nonce as associated data, so that
//! the same drafts sealed twice do not look alike). A page without the key (the lock screen)
//! leaves a sealed copy where it is, for the page that has it.

use aes_siv::siv::Aes256Siv;

use super::CryptoError;

/// What a sealed copy starts with (a plain copy is JSON, starting with `{` or `[`).
pub const SEALED_PREFIX: &str = "gw-sealed-1:";

/// A copy as read back from the page's storage.
#[derive(Debug, PartialEq, Eq)]
pub enum Copy {
    /// Its text: a plain copy, or a sealed one opened with the key.
    Text(String),
    /// Sealed, and no key to open it yet (the notebook is still locked).
    Locked,
    /// Sealed, and the key given does not open it (damaged, or another notebook's).
    Damaged,
}

fn cipher(key: &[u8; 32]) -> Aes256Siv {
    super::keys::siv(key, b"groundwork page copy v1", "")
}

/// Seal `text` under the notebook's page-copy `key`, with a random `nonce`.
pub fn seal(key: &[u8; 32], nonce: [u8; 16], text: &str) -> Result<String, CryptoError> {
    let bytes = super::keys::seal_with_nonce(cipher(key), nonce, &[], text.as_bytes())
        .map_err(|e| CryptoError::Key(format!("the drafts' copy could not be sealed ({e})")))?;
    Ok(format!("{SEALED_PREFIX}{}", super::text::base64url(&bytes)))
}

/// Read a copy back: plain as it is, sealed opened with `key` if there is one.
pub fn open(key: Option<&[u8; 32]>, stored: &str) -> Copy {
    let Some(body) = stored.strip_prefix(SEALED_PREFIX) else {
        return Copy::Text(stored.to_string());
    };
    let Some(key) = key else {
        return Copy::Locked;
    };
    let Some(bytes) = super::text::from_base64url(body) else {
        return Copy::Damaged;
    };
    match super::keys::open_with_nonce(cipher(key), &bytes, &[]) {
        Some(plain) => String::from_utf8(plain.to_vec()).map_or(Copy::Damaged, Copy::Text),
        None => Copy::Damaged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_sealed_copy_holds_none_of_its_text_and_opens_only_with_its_key() {
        let text = r#"{"person:1":"Rosa, heating off since the 4th"}"#;
        let sealed = seal(&KEY, [1; 16], text).unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("heating") && !sealed.contains("Rosa"));
        assert_eq!(open(Some(&KEY), &sealed), Copy::Text(text.to_string()));
        assert_eq!(open(None, &sealed), Copy::Locked);
        assert_eq!(open(Some(&[8; 32]), &sealed), Copy::Damaged);
        // Sealed again with another nonce, the sealed text itself differs (the nonce is bound
        // in), and opens the same.
        let again = seal(&KEY, [2; 16], text).unwrap();
        let body = |s: &str| {
            crate::crypto::text::from_base64url(s.strip_prefix(SEALED_PREFIX).unwrap()).unwrap()
                [16..]
                .to_vec()
        };
        assert_ne!(body(&again), body(&sealed));
        assert_eq!(open(Some(&KEY), &again), Copy::Text(text.to_string()));
        // A plain copy (written before the notebook was encrypted) reads as it is.
        assert_eq!(open(None, text), Copy::Text(text.to_string()));
    }

    #[test]
    fn a_sealed_copy_changed_anywhere_is_refused() {
        let sealed = seal(&KEY, [3; 16], "a draft").unwrap();
        let body = sealed.strip_prefix(SEALED_PREFIX).unwrap();
        let bytes = crate::crypto::text::from_base64url(body).unwrap();
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 1;
            let text = format!(
                "{SEALED_PREFIX}{}",
                crate::crypto::text::base64url(&changed)
            );
            assert_eq!(open(Some(&KEY), &text), Copy::Damaged, "byte {i}");
        }
        let short = format!(
            "{SEALED_PREFIX}{}",
            crate::crypto::text::base64url(&bytes[..10])
        );
        assert_eq!(open(Some(&KEY), &short), Copy::Damaged);
        assert_eq!(
            open(Some(&KEY), &format!("{SEALED_PREFIX}!!")),
            Copy::Damaged
        );
    }
}
