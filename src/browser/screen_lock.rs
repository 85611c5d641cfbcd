//! The phone's screen lock opens the encrypted notebook: a passkey made for the app
//! (WebAuthn, the phone's own authenticator: fingerprint, face or PIN) gives a secret through
//! its `prf` extension, under which the page keeps a sealed copy of the notebook's raw key
//! ([`groundwork::crypto::screen_lock`]; the store works it out from the passphrase typed in
//! Settings, which it checks first). Used on the lock screen in place of the passphrase (with
//! no slow derivation); forgotten when the passphrase changes or the copy no longer opens the
//! notebook.
//!
//! Nothing is sent anywhere: the passkey's assertion is not checked by a server (there is none
//! to ask offline); what protects the notebook is that only the authenticator, after its user
//! verification, gives the secret. The calls go through `navigator.credentials` as plain
//! JavaScript objects (`js_sys::Reflect`), the `prf` extension having no typed binding.

use std::cell::Cell;

use groundwork::crypto::screen_lock::{Enrolment, SALT_LEN, secret};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

/// Where the page keeps the enrolment (`localStorage`).
const STORAGE_KEY: &str = "groundwork-screen-lock";

/// Where the page keeps the passkey's user handle, made once and kept when the enrolment is
/// forgotten: a passkey made again for the same handle replaces the one before in the phone's
/// list instead of piling up beside it.
const USER_KEY: &str = "groundwork-screen-lock-user";

/// How long the phone's prompt waits for a finger or a face.
const PROMPT_MS: f64 = 120_000.0;

thread_local! {
    /// The lock screen's last key came from the screen lock: a "wrong passphrase" answer means
    /// the copy is stale (the passphrase changed since).
    static TRYING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this browser offers passkeys here (a secure context with WebAuthn). Whether the
/// phone's authenticator gives a `prf` secret is only known by trying.
pub fn available() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    window.is_secure_context()
        && Reflect::get(&window, &"PublicKeyCredential".into())
            .map(|v| v.is_function())
            .unwrap_or(false)
}

/// Whether the browser says its passkeys give a PRF secret (`PublicKeyCredential.
/// getClientCapabilities()`, where there is one): `Some(false)` when it says they do not, so
/// that no passkey is made for nothing; `None` when it does not say (tried, then).
pub async fn prf_capable() -> Option<bool> {
    let window = web_sys::window()?;
    let class = Reflect::get(&window, &"PublicKeyCredential".into()).ok()?;
    let ask = Reflect::get(&class, &"getClientCapabilities".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let promise = ask.call0(&class).ok()?.dyn_into::<js_sys::Promise>().ok()?;
    let capabilities = JsFuture::from(promise).await.ok()?;
    Reflect::get(&capabilities, &"extension:prf".into())
        .ok()?
        .as_bool()
}

/// The enrolment kept by this page, if any (one that does not read counts as none, and is
/// removed).
fn kept() -> Option<Enrolment> {
    let text = super::client::page_storage()?
        .get_item(STORAGE_KEY)
        .ok()
        .flatten()?;
    match Enrolment::from_text(&text) {
        Ok(e) => Some(e),
        Err(e) => {
            super::log(&format!("page: {e}"));
            forget();
            None
        }
    }
}

/// Whether the screen lock is set up to open this notebook.
pub fn enrolled() -> bool {
    kept().is_some()
}

/// Stop opening the notebook with the screen lock: the copy of the key is removed (the
/// passkey itself stays in the phone's list, opening nothing).
pub fn forget() {
    if let Some(storage) = super::client::page_storage() {
        let _ = storage.remove_item(STORAGE_KEY);
    }
}

/// Remember that the lock screen is trying the screen lock's key.
pub(super) fn set_trying(trying: bool) {
    TRYING.with(|t| t.set(trying));
}

/// Whether the last key the lock screen sent came from the screen lock (and forget it).
pub(super) fn take_trying() -> bool {
    TRYING.with(|t| t.replace(false))
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &key.into(), value);
}

fn object(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (key, value) in pairs {
        set(&o, key, value);
    }
    o
}

fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// The passkey's user handle for this notebook (see [`USER_KEY`]), made the first time.
fn user_handle() -> Result<Vec<u8>, String> {
    let storage = super::client::page_storage();
    if let Some(kept) = storage
        .as_ref()
        .and_then(|s| s.get_item(USER_KEY).ok().flatten())
        .and_then(|text| groundwork::crypto::text::from_base64url(&text))
        .filter(|h| h.len() == 16)
    {
        return Ok(kept);
    }
    let handle = random::<16>()?.to_vec();
    if let Some(storage) = storage {
        let _ = storage.set_item(USER_KEY, &groundwork::crypto::text::base64url(&handle));
    }
    Ok(handle)
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    groundwork::crypto::random::<N>().map_err(|e| e.to_string())
}

/// `{ prf: { eval: { first: salt } } }`
fn prf_extension(salt: &[u8; SALT_LEN]) -> Object {
    let eval = object(&[("first", bytes(salt))]);
    let prf = object(&[("eval", eval.into())]);
    object(&[("prf", prf.into())])
}

/// Call `navigator.credentials[method]({ publicKey })` and wait for the credential.
async fn credentials(method: &str, public_key: Object) -> Result<JsValue, String> {
    let navigator = web_sys::window()
        .ok_or("this page has no window")?
        .navigator();
    let container = Reflect::get(&navigator, &"credentials".into()).map_err(|_| unsupported())?;
    let call = Reflect::get(&container, &method.into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(unsupported)?;
    let options = object(&[("publicKey", public_key.into())]);
    let promise = call
        .call1(&container, &options)
        .map_err(refused)?
        .dyn_into::<js_sys::Promise>()
        .map_err(|_| unsupported())?;
    let credential = JsFuture::from(promise).await.map_err(refused)?;
    if credential.is_null() || credential.is_undefined() {
        return Err(refused(JsValue::NULL));
    }
    Ok(credential)
}

fn unsupported() -> String {
    "This browser cannot use the phone's screen lock for the notebook: type the passphrase.".into()
}

/// A WebAuthn refusal, in words.
fn refused(error: JsValue) -> String {
    let name = Reflect::get(&error, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    let message = Reflect::get(&error, &"message".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    super::log(&format!("page: the screen lock refused: {name}: {message}"));
    match name.as_str() {
        "NotAllowedError" | "AbortError" => "The screen lock was cancelled or timed out, or this \
             phone no longer has the app's passkey: try again, or type the passphrase."
            .into(),
        "SecurityError" => "The screen lock cannot be used on this address (it needs the \
             relay's name, not a number, over HTTPS): type the passphrase."
            .into(),
        _ => unsupported(),
    }
}

/// `credential.getClientExtensionResults().prf`, if the authenticator answered it.
fn prf_results(credential: &JsValue) -> Option<JsValue> {
    let get = Reflect::get(credential, &"getClientExtensionResults".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let results = get.call0(credential).ok()?;
    let prf = Reflect::get(&results, &"prf".into()).ok()?;
    (!prf.is_undefined()).then_some(prf)
}

/// The secret in `prf.results.first`, if there.
fn first_secret(prf: &JsValue) -> Option<Vec<u8>> {
    let results = Reflect::get(prf, &"results".into()).ok()?;
    let first = Reflect::get(&results, &"first".into()).ok()?;
    if first.is_undefined() || first.is_null() {
        return None;
    }
    Some(Uint8Array::new(&first).to_vec())
}

/// The id of the passkey that answered (`rawId`).
fn raw_id(credential: &JsValue) -> Option<Vec<u8>> {
    Reflect::get(credential, &"rawId".into())
        .ok()
        .filter(|raw| !raw.is_undefined() && !raw.is_null())
        .map(|raw| Uint8Array::new(&raw).to_vec())
        .filter(|id| !id.is_empty())
}

/// Ask the phone's authenticator, after its screen lock, for the secret of passkey
/// `credential` and `salt`. An answer from another passkey is refused (its secret would not
/// open the copy, which must not then be taken for stale).
async fn ask_secret(
    credential: &[u8],
    salt: &[u8; SALT_LEN],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let allowed = object(&[("type", "public-key".into()), ("id", bytes(credential))]);
    let public_key = object(&[
        ("challenge", bytes(&random::<32>()?)),
        ("allowCredentials", Array::of1(&allowed).into()),
        ("userVerification", "required".into()),
        ("timeout", PROMPT_MS.into()),
        ("extensions", prf_extension(salt).into()),
    ]);
    let assertion = credentials("get", public_key).await?;
    if raw_id(&assertion).as_deref() != Some(credential) {
        return Err(
            "Another passkey answered than the one this notebook was set up with: try \
                    again and choose \"Groundwork notebook\", or type the passphrase."
                .into(),
        );
    }
    prf_results(&assertion)
        .as_ref()
        .and_then(first_secret)
        .map(Zeroizing::new)
        .ok_or_else(no_prf)
}

fn no_prf() -> String {
    "This phone's screen lock cannot keep a key for the app (its passkeys do not support the \
     PRF extension): type the passphrase at each start."
        .into()
}

/// A passkey made for the app, and the secret it gives: the first half of setting the screen
/// lock up, called straight after the tap (browsers may refuse a passkey asked for long after
/// one); [`keep`] is the second.
pub struct Made {
    id: Vec<u8>,
    salt: [u8; SALT_LEN],
    secret: Zeroizing<[u8; groundwork::crypto::screen_lock::SECRET_LEN]>,
}

/// Make a passkey for the app and ask it for its secret. A passkey made again (for the same
/// notebook's user handle) replaces the one before in the phone's list.
pub async fn make_passkey() -> Result<Made, String> {
    if !available() {
        return Err(unsupported());
    }
    let salt = random::<SALT_LEN>()?;
    let rp = object(&[("name", "Groundwork".into())]);
    let user = object(&[
        ("id", bytes(&user_handle()?)),
        ("name", "Groundwork notebook".into()),
        ("displayName", "Groundwork notebook on this phone".into()),
    ]);
    let algorithm = |alg: i32| object(&[("type", "public-key".into()), ("alg", alg.into())]);
    // Ed25519, P-256, RSA: whichever the authenticator makes (the assertion is not checked).
    let algorithms = Array::of3(&algorithm(-8), &algorithm(-7), &algorithm(-257));
    let selection = object(&[
        ("authenticatorAttachment", "platform".into()),
        // A passkey proper (discoverable): phones make only those with PRF.
        ("residentKey", "preferred".into()),
        ("userVerification", "required".into()),
    ]);
    let public_key = object(&[
        ("rp", rp.into()),
        ("user", user.into()),
        ("challenge", bytes(&random::<32>()?)),
        ("pubKeyCredParams", algorithms.into()),
        ("authenticatorSelection", selection.into()),
        ("timeout", PROMPT_MS.into()),
        ("extensions", prf_extension(&salt).into()),
    ]);
    let credential = credentials("create", public_key).await?;
    let id = raw_id(&credential).ok_or_else(unsupported)?;
    let prf = prf_results(&credential).ok_or_else(no_prf)?;
    let enabled = Reflect::get(&prf, &"enabled".into())
        .ok()
        .and_then(|e| e.as_bool());
    if enabled == Some(false) {
        return Err(no_prf());
    }
    // Some authenticators give the secret as the passkey is made; others only when asked.
    let given = match first_secret(&prf) {
        Some(given) => Zeroizing::new(given),
        None => ask_secret(&id, &salt).await?,
    };
    let given = secret(&given).map_err(|e| e.to_string())?;
    Ok(Made {
        id,
        salt,
        secret: given,
    })
}

/// Keep `key` (the notebook's raw key, from the store) sealed under the secret of the passkey
/// `made`: from now on the screen lock opens the notebook. Replaces an earlier enrolment.
pub fn keep(made: &Made, key: &str) -> Result<(), String> {
    let enrolment = Enrolment::seal(&made.id, made.salt, &made.secret, random::<16>()?, key)
        .map_err(|e| e.to_string())?;
    super::client::page_storage()
        .ok_or("this browser keeps nothing for the page: type the passphrase at each start")?
        .set_item(STORAGE_KEY, &enrolment.to_text())
        .map_err(|_| "the page's storage is full: the screen lock was not set up".to_string())?;
    Ok(())
}

/// The notebook's key, from the screen lock: the authenticator asked for the secret (the
/// phone shows its prompt), the kept copy opened with it. The worker opens the notebook with
/// it as with a typed passphrase.
pub async fn notebook_key() -> Result<String, String> {
    let enrolment = kept()
        .ok_or("The screen lock is not set up on this phone any more: type the passphrase.")?;
    let given = ask_secret(&enrolment.credential, &enrolment.salt).await?;
    let key = secret(&given).map_err(|e| e.to_string())?;
    let opened = enrolment.open(&key).map_err(|e| {
        forget();
        e.to_string()
    })?;
    Ok(opened.to_string())
}
