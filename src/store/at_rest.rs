//! Encryption at rest: a notebook whose database file (and its write-ahead log) is encrypted
//! on disk with SQLCipher, for those who need it (a laptop or phone that may be lost or
//! seized). It is off by default; `groundwork notebook encrypt` turns it on for a notebook.
//!
//! The passphrase comes from the desktop app's lock screen, the `GROUNDWORK_PASSPHRASE`
//! environment variable, or the desktop's key store (the Secret Service, through
//! `secret-tool`) where one is running and holds a key for the notebook. SQLCipher derives the
//! page key from it (PBKDF2-HMAC-SHA512) and encrypts and authenticates every page (AES-256,
//! HMAC-SHA512). A notebook is known to be encrypted by its first bytes: a plain SQLite file
//! starts with `SQLite format 3`, an encrypted one with a random salt.
//!
//! In the browser (the phone web app) the notebook is encrypted the same way, SQLCipher being
//! the browser's SQLite too; there its file cannot be renamed, so an encrypted notebook is a
//! file of its own ([`in_place`]), and the passphrase is typed at every start (no key store).

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

use super::files::DB_FILE;

pub mod in_place;

/// The environment variable holding a notebook's passphrase.
pub const PASSPHRASE_VAR: &str = "GROUNDWORK_PASSPHRASE";

/// The shortest passphrase `notebook encrypt` accepts.
pub const MIN_PASSPHRASE: usize = 10;

/// The first bytes of every plain SQLite database file.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// A notebook's passphrase, wiped from memory when dropped.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

impl Passphrase {
    /// A passphrase as given.
    pub fn new(secret: impl Into<String>) -> Passphrase {
        Passphrase(Zeroizing::new(secret.into()))
    }

    /// The passphrase in `GROUNDWORK_PASSPHRASE`, if it is set and not empty.
    pub fn from_env() -> Option<Passphrase> {
        std::env::var(PASSPHRASE_VAR)
            .ok()
            .filter(|p| !p.is_empty())
            .map(Passphrase::new)
    }

    /// The passphrase for the notebook in `dir`: one this process keeps ([`remember`]: typed
    /// into the desktop app's lock screen, or found at its start), else
    /// `GROUNDWORK_PASSPHRASE`, else the key store's.
    pub fn find(dir: &Path) -> Option<Passphrase> {
        remembered()
            .or_else(Passphrase::from_env)
            .or_else(|| key_store::lookup(dir))
    }

    /// The text itself: for SQLCipher, or a raw key handed on to the phone's page for its
    /// screen lock.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `other` is this passphrase (compared in time that does not depend on where
    /// they differ).
    pub fn same_as(&self, other: &Passphrase) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
    }

    /// Refuse a passphrase too short to protect a notebook.
    pub fn check_strength(&self) -> Result<()> {
        if self.0.chars().count() < MIN_PASSPHRASE {
            return Err(Error::WeakPassphrase {
                min: MIN_PASSPHRASE,
            });
        }
        Ok(())
    }
}

/// A raw key in one of the forms SQLCipher takes in place of a passphrase: `x'` (either case),
/// 64 hex digits (the key), 96 (the key and the salt) or 160, and `'`. SQLCipher uses such a
/// text as the key itself, with no derivation, so none must be derived here either.
pub(super) fn is_raw_key(key: &Passphrase) -> bool {
    let text = key.expose();
    let Some(hex) = text
        .strip_prefix("x'")
        .or_else(|| text.strip_prefix("X'"))
        .and_then(|rest| rest.strip_suffix('\''))
    else {
        return false;
    };
    matches!(hex.len(), 64 | 96 | 160) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The raw key `passphrase` stands for in the encrypted notebook behind `conn` (open), as
/// SQLCipher derives it: PBKDF2-HMAC-SHA512 over the database's salt, with its iteration
/// count, 32 bytes; in the form SQLCipher takes as a key (`x'…'`). Opening with it skips the
/// derivation (a second or more on a phone): the phone's screen lock keeps it rather than the
/// passphrase. Not checked against the notebook: a wrong passphrase gives a key that does not
/// open it.
pub fn raw_key(conn: &rusqlite::Connection, passphrase: &Passphrase) -> Result<Passphrase> {
    use std::fmt::Write;
    // A raw key given is the key itself (SQLCipher would take it so).
    if is_raw_key(passphrase) {
        return Ok(passphrase.clone());
    }
    let salt: String = conn.query_row("PRAGMA cipher_salt", [], |r| r.get(0))?;
    let salt = (0..salt.len())
        .step_by(2)
        .map(|i| {
            salt.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .filter(|s| s.len() == 16)
        .ok_or(Error::NoRawKey("its salt does not read"))?;
    let iterations: String = conn.query_row("PRAGMA kdf_iter", [], |r| r.get(0))?;
    let iterations: u32 = iterations
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or(Error::NoRawKey("its key derivation does not read"))?;
    let key = pbkdf2_hmac_sha512(passphrase.expose().as_bytes(), &salt, iterations);
    let mut text = Zeroizing::new(String::with_capacity(67));
    text.push_str("x'");
    for b in key.iter() {
        let _ = write!(text, "{b:02X}");
    }
    text.push('\'');
    Ok(Passphrase(text))
}

/// PBKDF2 (RFC 8018) with HMAC-SHA512, the first 32 bytes of its first block.
fn pbkdf2_hmac_sha512(password: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    use hmac::{KeyInit, Mac};
    type HmacSha512 = hmac::Hmac<sha2::Sha512>;
    // HMAC takes a key of any length: this cannot fail.
    let Ok(prf) = HmacSha512::new_from_slice(password) else {
        return Zeroizing::new([0; 32]);
    };
    let mut first = prf.clone();
    first.update(salt);
    first.update(&1u32.to_be_bytes());
    let mut u = Zeroizing::new([0u8; 64]);
    u.copy_from_slice(&first.finalize().into_bytes());
    let mut t = Zeroizing::new(*u);
    for _ in 1..iterations {
        let mut next = prf.clone();
        next.update(u.as_slice());
        u.copy_from_slice(&next.finalize().into_bytes());
        for (a, b) in t.iter_mut().zip(u.iter()) {
            *a ^= b;
        }
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&t[..32]);
    out
}

/// The raw key of the notebook open behind `conn` under `key`, if `typed` opens it: the same
/// text as `key`, or, for a notebook opened with its raw key (the phone's screen lock), the
/// passphrase that key is derived from (worked out once); `None` otherwise.
pub(super) fn current_raw_key(
    conn: &rusqlite::Connection,
    key: &Passphrase,
    typed: &Passphrase,
) -> Result<Option<Passphrase>> {
    if key.same_as(typed) {
        return raw_key(conn, typed).map(Some);
    }
    if !is_raw_key(key) || is_raw_key(typed) || typed.expose().is_empty() {
        return Ok(None);
    }
    let derived = raw_key(conn, typed)?;
    let upper = |p: &Passphrase| Passphrase::new(p.expose().to_ascii_uppercase());
    Ok(upper(&derived).same_as(&upper(key)).then_some(derived))
}

/// Whether `typed` opens the notebook open behind `conn` under `key` (see
/// [`current_raw_key`]; no derivation when it is the same text).
pub(super) fn is_current(
    conn: &rusqlite::Connection,
    key: &Passphrase,
    typed: &Passphrase,
) -> Result<bool> {
    if key.same_as(typed) {
        return Ok(true);
    }
    Ok(current_raw_key(conn, key, typed)?.is_some())
}

/// A passphrase typed into this process (the lock screen) or found once at its start, used by
/// every store it opens on an encrypted notebook from then on (the app's store thread and its
/// sync thread, which opens the notebook at each sync).
static TYPED: std::sync::Mutex<Option<Passphrase>> = std::sync::Mutex::new(None);

/// Use `passphrase` for the encrypted notebooks this process opens (none: forget it).
pub fn remember(passphrase: Option<Passphrase>) {
    if let Ok(mut typed) = TYPED.lock() {
        *typed = passphrase;
    }
}

fn remembered() -> Option<Passphrase> {
    TYPED.lock().ok().and_then(|t| t.clone())
}

/// Whether the notebook in `dir` is encrypted at rest. A directory with no database yet, or an
/// empty one, is not.
pub fn is_encrypted(dir: &Path) -> Result<bool> {
    use std::io::Read;
    let path = dir.join(DB_FILE);
    let mut head = Vec::with_capacity(PLAIN_HEADER.len());
    match std::fs::File::open(&path) {
        Ok(f) => f
            .take(PLAIN_HEADER.len() as u64)
            .read_to_end(&mut head)
            .map_err(|source| Error::DataDir {
                path: dir.to_path_buf(),
                source,
            })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::DataDir {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    Ok(!head.is_empty() && head.as_slice() != PLAIN_HEADER)
}

/// Whether `passphrase` opens the encrypted notebook in `dir` (a key found in the key store
/// may be one the notebook no longer has).
#[cfg(not(target_arch = "wasm32"))]
pub fn opens(dir: &Path, passphrase: &Passphrase) -> Result<bool> {
    match open_keyed(&dir.join(DB_FILE), dir, passphrase) {
        Ok(_) => Ok(true),
        Err(Error::WrongPassphrase { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A connection to the encrypted database at `path` (of the notebook in `dir`), its key given
/// and checked.
fn open_keyed(path: &Path, dir: &Path, passphrase: &Passphrase) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    unlock(&conn, passphrase, dir)?;
    check_key(&conn, dir)?;
    Ok(conn)
}

/// Give `conn` the notebook's key before anything else is read. A wrong passphrase shows on
/// the first read (SQLCipher's "file is not a database"), which [`check_key`] turns into a
/// clear error.
pub(super) fn unlock(
    conn: &rusqlite::Connection,
    passphrase: &Passphrase,
    dir: &Path,
) -> Result<()> {
    // SQLCipher would also print its own line for a wrong key on stderr, beside ours.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    // The pragma is SQL text holding the passphrase: its error (a passphrase no notebook can
    // have, such as one with a NUL character) would quote it, so it is told as a wrong one.
    conn.pragma_update(None, "key", passphrase.expose())
        .map_err(|_| Error::WrongPassphrase {
            path: dir.to_path_buf(),
        })
}

/// Read the first page with the key given: the error says a wrong passphrase rather than a
/// foreign file. Any other failure (a file that cannot be opened) is told as itself, not as a
/// wrong passphrase.
pub(super) fn check_key(conn: &rusqlite::Connection, dir: &Path) -> Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|_| ())
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => Error::WrongPassphrase {
            path: dir.to_path_buf(),
        },
        _ => Error::from(e),
    })
}

/// Copy the open plain notebook behind `conn` into a new encrypted database file beside it,
/// check that file opens with the passphrase, and put it in place of the plain one. The plain
/// file stays until the encrypted one is durable and checked; a crash before the swap leaves
/// the plain notebook as it was (and a half-written copy, removed by the next attempt).
pub(super) fn encrypt(
    conn: rusqlite::Connection,
    dir: &Path,
    passphrase: &Passphrase,
) -> Result<()> {
    passphrase.check_strength()?;
    swap_in_copy(conn, dir, "encrypting", Some(passphrase))
}

/// The reverse of [`encrypt`]: copy the encrypted notebook open behind `conn` into a new plain
/// database file beside it, check it, and put it in place of the encrypted one, which stays
/// until the plain copy is durable and checked (a crash before the swap leaves the encrypted
/// notebook as it was, and a half-written copy, removed by the next attempt). From then on
/// the notebook opens with no passphrase and its files hold its words in the clear.
pub(super) fn decrypt(conn: rusqlite::Connection, dir: &Path) -> Result<()> {
    swap_in_copy(conn, dir, "decrypting", None)
}

/// Copy the notebook open behind `conn` into the new file `DB_FILE.<suffix>` beside it,
/// encrypted under `key` (none: in the clear), check the copy, and rename it over the notebook
/// while `conn` still holds the notebook alone.
fn swap_in_copy(
    conn: rusqlite::Connection,
    dir: &Path,
    suffix: &str,
    key: Option<&Passphrase>,
) -> Result<()> {
    let notebook = dir.join(DB_FILE);
    let copy = dir.join(format!("{DB_FILE}.{suffix}"));
    let user_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let application_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    // Everything in the log goes into the database, and the database leaves WAL mode, which
    // SQLite allows only to the one connection open on it: the app or another command using
    // the notebook now would keep writing to the old file after the swap. Then this
    // connection keeps the file locked until it closes.
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .unwrap_or_default();
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(Error::NotebookBusy {
            path: dir.to_path_buf(),
        });
    }
    conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")?;
    // Held alone from here: a copy left by an attempt cut short goes (a decryption's holds the
    // notebook's words in the clear).
    remove_copies(dir)?;
    // The copy is made readable by its owner only before SQLite writes to it, as the
    // notebook's own file is (`files::restrict_to_owner`).
    create_private(&copy, dir)?;
    let copied = (|| {
        export(
            &conn,
            path_str(&copy, dir)?,
            key,
            (user_version, application_id),
        )?;
        sync_file(&copy, dir)?;
        check_copy(&copy, dir, key, user_version)?;
        for side in ["-wal", "-shm", "-journal"] {
            remove_if_there(&dir.join(format!("{DB_FILE}{side}")), dir)?;
        }
        // Swapped while the old file is still locked by this connection.
        std::fs::rename(&copy, &notebook).map_err(|source| Error::DataDir {
            path: dir.to_path_buf(),
            source,
        })
    })();
    if copied.is_err() {
        // The notebook is as it was: the copy (and its journal) must not stay beside it.
        let _ = remove_copies(dir);
        return copied;
    }
    sync_dir(dir)?;
    drop(conn);
    Ok(())
}

/// The copies an encryption or a decryption writes beside the notebook, with their journals.
const COPIES: [&str; 4] = [
    ".encrypting",
    ".encrypting-journal",
    ".decrypting",
    ".decrypting-journal",
];

/// Delete the copies an encryption or a decryption cut short left beside the notebook in
/// `dir` (a decryption's holds its words in the clear). Only while nothing else can be writing
/// them: with the notebook held alone, or open (an encryption or decryption running holds it
/// alone, so opening it fails first).
pub(super) fn remove_copies(dir: &Path) -> Result<()> {
    for copy in COPIES {
        remove_if_there(&dir.join(format!("{DB_FILE}{copy}")), dir)?;
    }
    Ok(())
}

/// Encrypt every page of the encrypted notebook open on `conn` again under `new` (SQLCipher's
/// `rekey`), in place and in one transaction, the connection going on under the new key.
///
/// The rekey runs in a rollback journal, not the write-ahead log: SQLCipher writes a page to
/// the journal as it was on disk, under the old key, so a crash or a failure halfway is rolled
/// back at the next open (the journal's pages are copied back as they are, whichever
/// passphrase is typed) and the notebook opens with the old passphrase, whole. Leaving the
/// log needs the notebook alone, and the connection then holds it alone until the rekey is
/// done (the app or another command having it open is refused, as `notebook encrypt` is); the
/// log comes back afterwards. The journal is emptied at the commit even where the connection
/// keeps it open (the phone's exclusive locking mode keeps the file and would only blank its
/// header): its pages are the notebook under the old key.
///
/// SQLCipher keeps the new key for writing after a rekey that failed, and does not report a
/// commit that failed: the first page is read again after it, and on any error the caller
/// must not write on `conn` again (the store opens the notebook again).
pub(super) fn change_key(conn: &rusqlite::Connection, dir: &Path, new: &Passphrase) -> Result<()> {
    let exclusive: String = conn.query_row("PRAGMA locking_mode", [], |r| r.get(0))?;
    let exclusive = exclusive.eq_ignore_ascii_case("exclusive");
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let changed = rekey_in_journal(conn, dir, new, exclusive);
    let _ = conn.execute_batch("PRAGMA journal_size_limit = -1");
    if !exclusive {
        let _ = conn.execute_batch("PRAGMA locking_mode = NORMAL");
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Back to the log. Not being able to (another connection opened the notebook the moment
    // the lock went) changes nothing that matters: the next open puts it back.
    let _ = conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()));
    changed
}

/// [`change_key`] up to its commit, checked: out of the log, the lock held (`exclusive`: the
/// connection holds it already), every page encrypted again, the journal emptied.
pub(super) fn rekey_in_journal(
    conn: &rusqlite::Connection,
    dir: &Path,
    new: &Passphrase,
    exclusive: bool,
) -> Result<()> {
    let busy = || Error::NotebookBusy {
        path: dir.to_path_buf(),
    };
    let locked_out = |e: &rusqlite::Error| {
        matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    };
    let mode: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(|e| if locked_out(&e) { busy() } else { e.into() })?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(busy());
    }
    if !exclusive {
        // Held from here to the end of the rekey: nobody opens the notebook in between
        // (and puts it back in the log).
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")
            .map_err(|e| if locked_out(&e) { busy() } else { e.into() })?;
    }
    conn.execute_batch("PRAGMA journal_size_limit = 0")?;
    let failed = |why: String| Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::other(format!(
            "the notebook could not be encrypted under the new passphrase ({why}); it still opens with the current one"
        )),
    };
    // SQLCipher would derive the new key from the passphrase with the file's salt, which a
    // rekey keeps: worked out here instead, the same key (`raw_key`; a quarter of SQLCipher's
    // time in the phone's wasm, whose SQLCipher is built for size). Should the salt not read,
    // SQLCipher derives it as before.
    let key = raw_key(conn, new).unwrap_or_else(|_| new.clone());
    // The pragma's error does not quote the key, but SQL text holding it is not shown.
    conn.pragma_update(None, "rekey", key.expose())
        .map_err(|e| failed(format!("SQLite error {:?}", e.sqlite_error_code())))?;
    // A commit that failed puts the pager in error, and the next read goes to the file,
    // whose pages (rolled back) are under the old key: the new one cannot read them.
    check_key(conn, dir).map_err(|e| failed(e.to_string()))
}

/// Copy the notebook open on `conn` into the new database file `target`, encrypted under
/// `key` (none: in the clear, SQLCipher's empty key), with the notebook's schema version and
/// application id (`ids`: SQLCipher's export leaves them out). The copy is detached again
/// whatever happens, so that the notebook goes on as before on a failure.
pub(super) fn export(
    conn: &rusqlite::Connection,
    target: &str,
    key: Option<&Passphrase>,
    (user_version, application_id): (i64, i64),
) -> Result<()> {
    let copied = (|| -> Result<()> {
        conn.execute(
            "ATTACH DATABASE ?1 AS copied KEY ?2",
            rusqlite::params![target, key.map_or("", Passphrase::expose)],
        )?;
        conn.query_row("SELECT sqlcipher_export('copied')", [], |_| Ok(()))?;
        conn.execute_batch(&format!(
            "PRAGMA copied.user_version = {user_version};
             PRAGMA copied.application_id = {application_id};"
        ))?;
        Ok(())
    })();
    let detached = conn.execute("DETACH DATABASE copied", []);
    copied?;
    detached?;
    Ok(())
}

/// The copy opens with `key` (none: it is a plain SQLite file), has the schema version, and
/// is whole.
fn check_copy(copy: &Path, dir: &Path, key: Option<&Passphrase>, user_version: i64) -> Result<()> {
    let conn = match key {
        Some(key) => open_keyed(copy, dir, key)?,
        None => {
            let mut start = [0u8; PLAIN_HEADER.len()];
            std::fs::File::open(copy)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut start))
                .map_err(|source| Error::DataDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
            if start != *PLAIN_HEADER {
                return Err(copy_failed(dir, "it is not a plain SQLite file".into()));
            }
            rusqlite::Connection::open(copy)?
        }
    };
    check_copied(&conn, dir, user_version)
}

/// The copy open on `conn` has the schema version `user_version` and every page is whole
/// (SQLite's `quick_check`); else the error says the notebook is unchanged.
pub(super) fn check_copied(
    conn: &rusqlite::Connection,
    dir: &Path,
    user_version: i64,
) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if version != user_version || check != "ok" {
        return Err(copy_failed(dir, format!("schema {version}, {check}")));
    }
    Ok(())
}

/// The notebook's copy did not check out (`why`): the notebook is as it was.
fn copy_failed(dir: &Path, why: String) -> Error {
    Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::other(format!(
            "the notebook's new copy did not check out ({why}); the notebook is unchanged"
        )),
    }
}

/// An empty file at `path`, readable and writable by its owner only (elsewhere than Unix, as
/// the platform makes it).
fn create_private(path: &Path, dir: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|source| Error::DataDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// `path` as the text SQLite is given, or an error naming the data directory.
fn path_str<'a>(path: &'a Path, dir: &Path) -> Result<&'a str> {
    path.to_str().ok_or_else(|| Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::other("the data directory's path is not valid UTF-8"),
    })
}

fn remove_if_there(path: &Path, dir: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::DataDir {
            path: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn sync_file(path: &Path, dir: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| Error::DataDir {
            path: dir.to_path_buf(),
            source,
        })
}

fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    sync_file(dir, dir)?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The desktop's key store (the freedesktop Secret Service: GNOME Keyring, KWallet), reached
/// through `secret-tool` (Debian's `libsecret-tools`) so that the app links no D-Bus code.
/// Where no key store runs, nothing is found and nothing can be kept there.
pub mod key_store {
    use std::io::Write;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::Passphrase;
    use crate::error::{Error, Result};

    /// The attributes naming a notebook's key: the application and the notebook's directory.
    fn attributes(dir: &Path) -> [String; 4] {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        [
            "application".into(),
            "groundwork".into(),
            "notebook".into(),
            dir.display().to_string(),
        ]
    }

    /// The key kept for the notebook in `dir`, if a key store runs and holds one. Only asked
    /// where there is a session bus to reach it on (so a server or a test run never waits on
    /// a key store starting).
    pub fn lookup(dir: &Path) -> Option<Passphrase> {
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS")?;
        let out = Command::new("secret-tool")
            .arg("lookup")
            .args(attributes(dir))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let secret = String::from_utf8(out.stdout).ok()?;
        let secret = secret.trim_end_matches('\n');
        (out.status.success() && !secret.is_empty()).then(|| Passphrase::new(secret))
    }

    /// Remove the key kept in the key store for the notebook in `dir` (one that no longer
    /// opens it).
    pub fn clear(dir: &Path) -> Result<()> {
        let out = Command::new("secret-tool")
            .arg("clear")
            .args(attributes(dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::KeyStore(format!("cannot run secret-tool ({e})")))?;
        if !out.status.success() {
            return Err(Error::KeyStore(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        Ok(())
    }

    /// Keep `passphrase` in the key store for the notebook in `dir`.
    pub fn save(dir: &Path, passphrase: &Passphrase) -> Result<()> {
        let unavailable = |why: String| Error::KeyStore(why);
        let mut child = Command::new("secret-tool")
            .arg("store")
            .arg("--label=Groundwork notebook")
            .args(attributes(dir))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| unavailable(format!("cannot run secret-tool ({e})")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(passphrase.expose().as_bytes())
                .map_err(|e| unavailable(format!("cannot give secret-tool the key ({e})")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| unavailable(format!("secret-tool failed ({e})")))?;
        if !out.status.success() {
            return Err(unavailable(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        // Read back: a key store that took the key but cannot give it back is no use.
        match lookup(dir) {
            Some(kept) if kept.expose() == passphrase.expose() => Ok(()),
            _ => Err(unavailable(
                "the key store did not give the key back".to_string(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers of PBKDF2-HMAC-SHA512 ("password", "salt"; one and two iterations), the
    /// first 32 bytes. That SQLCipher opens a notebook with the key worked out this way is
    /// tested end to end (`tests/notebook/at_rest.rs`).
    #[test]
    fn pbkdf2_gives_the_known_answers() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(pbkdf2_hmac_sha512(b"password", b"salt", 1).as_slice()),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
        );
        assert_eq!(
            hex(pbkdf2_hmac_sha512(b"password", b"salt", 2).as_slice()),
            "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c"
        );
    }

    #[test]
    fn only_sqlciphers_raw_key_form_is_a_raw_key() {
        let raw = format!("x'{}'", "Ab".repeat(32));
        // Every form SQLCipher takes as a key without derivation.
        for form in [
            raw.clone(),
            raw.replace("x'", "X'"),
            format!("x'{}'", "a".repeat(96)),
            format!("X'{}'", "0".repeat(160)),
        ] {
            assert!(is_raw_key(&Passphrase::new(form.clone())), "{form}");
        }
        for not in [
            raw.replace("x'", "y'"),
            format!("x'{}'", "g".repeat(64)),
            format!("x'{}'", "a".repeat(63)),
            format!("x'{}'", "a".repeat(65)),
            format!("x'{}", "a".repeat(64)),
            "correct horse battery staple".to_string(),
        ] {
            assert!(!is_raw_key(&Passphrase::new(not.clone())), "{not}");
        }
    }
}
