//! The data directory on disk: what it may hold, who may read it, and opening its SQLite file
//! (ours, WAL, `synchronous = FULL`).

#[cfg(not(target_arch = "wasm32"))]
use std::fs;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// The database file inside a data directory.
pub const DB_FILE: &str = "groundwork.sqlite3";

/// SQLite `application_id` marking a database as Groundwork's ("GRND").
const APPLICATION_ID: i64 = 0x4752_4E44;

/// Files a data directory may hold besides the database.
#[cfg(not(target_arch = "wasm32"))]
fn is_ours(name: &str) -> bool {
    name.starts_with(DB_FILE)
}

#[cfg(not(target_arch = "wasm32"))]
pub(super) fn check_dir(dir: &Path) -> Result<()> {
    let io = |source| Error::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "it is a file, not a directory",
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io)?;
        }
        Err(e) => return Err(io(e)),
    }
    if dir.join(DB_FILE).exists() {
        return Ok(());
    }
    let foreign = fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .any(|e| !is_ours(&e.file_name().to_string_lossy()));
    if foreign {
        return Err(Error::NotOurDataDir {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Make the data directory readable by its owner only (0700), and the database with its
/// `-wal` and `-shm` companions 0600: they hold everyone's records and the relay token.
///
/// A new database file is created here with mode 0600 before SQLite opens it, because SQLite
/// gives the `-wal` and `-shm` files it creates later the mode of the database file. A
/// directory or files created by an older version (which left them to the umask, usually
/// 0755/0644) are tightened here when they are opened.
#[cfg(unix)]
pub(super) fn restrict_to_owner(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |what: &Path, e: std::io::Error| Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!(
                "cannot make {} readable by you only ({e}); make sure you own it, or run chmod go-rwx on it",
                what.display()
            ),
        ),
    };
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| fail(dir, e))?;
    let db = dir.join(DB_FILE);
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&db)
        .map_err(|e| fail(&db, e))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.join(format!("{DB_FILE}{suffix}"));
        match fs::set_permissions(&file, fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.map_err(|e| fail(&file, e))?,
        }
    }
    Ok(())
}

/// Elsewhere the platform's own permissions apply.
#[cfg(all(not(unix), not(target_arch = "wasm32")))]
pub(super) fn restrict_to_owner(_dir: &Path) -> Result<()> {
    Ok(())
}

/// The VFS every notebook file is opened through: the platform's (the disk, or the browser's
/// OPFS pool) under the layer that writes the write-ahead log's frames one write per commit
/// (`gather.rs`).
pub(super) fn vfs_name(dir: &Path) -> Result<&'static std::ffi::CStr> {
    super::gather::register().map_err(|rc| Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::other(format!("SQLite could not set up its files (error {rc})")),
    })
}

/// The notebook's database file in its directory: [`DB_FILE`], or in the browser, once
/// `encrypted`, [`super::at_rest::in_place::SEALED_FILE`].
pub(super) fn notebook_file(encrypted: bool) -> &'static str {
    if cfg!(target_arch = "wasm32") && encrypted {
        super::at_rest::in_place::SEALED_FILE
    } else {
        DB_FILE
    }
}

/// In the browser, the raw key a typed passphrase stands for in the existing encrypted
/// notebook at `path`, worked out here (`at_rest::raw_key`) rather than by SQLCipher: its
/// derivation in the wasm build takes about four times as long (libtomcrypt built for size,
/// where the Rust SHA-512 is built for speed; BENCHMARKS.md). A second connection reads the
/// notebook's salt under a dummy key (SQLCipher reads the salt raw, from the file's first 16
/// bytes) and checks the file holds pages (its first page does not decrypt under that key); `None` (the usual derivation) for a
/// raw key given, a file not there or empty (a new notebook: its salt is made at its first
/// write), or anything unexpected.
#[cfg(target_arch = "wasm32")]
fn derived_key(
    path: &Path,
    vfs: &std::ffi::CStr,
    passphrase: &super::at_rest::Passphrase,
) -> Option<super::at_rest::Passphrase> {
    if super::at_rest::is_raw_key(passphrase) {
        return None;
    }
    let probe = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        vfs,
    )
    .ok()?;
    // As the store's connection: a log left by the last session opens only in this mode here.
    probe
        .query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))
        .ok()?;
    probe
        .execute_batch("PRAGMA cipher_log_level = NONE;")
        .ok()?;
    probe
        .pragma_update(None, "key", format!("x'{}'", "0".repeat(64)))
        .ok()?;
    let key = super::at_rest::raw_key(&probe, passphrase).ok()?;
    // A file with pages does not read under the dummy key; an empty one reads as no pages.
    let empty = probe.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0));
    match empty {
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => Some(key),
        _ => None,
    }
}

/// Open the database `file` in `dir` (the notebook's is [`DB_FILE`], or in the browser
/// [`super::at_rest::in_place::SEALED_FILE`] once encrypted), with `passphrase` when it is
/// encrypted at rest (or is to be, for a new one).
pub(super) fn open_connection(
    dir: &Path,
    file: &str,
    passphrase: Option<&super::at_rest::Passphrase>,
) -> Result<Connection> {
    let path = dir.join(file);
    let fail = |e: String| Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let vfs = vfs_name(dir)?;
    let conn = Connection::open_with_flags_and_vfs(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        vfs,
    )
    .map_err(|e| fail(e.to_string()))?;
    // The browser's OPFS pool has no shared memory for a WAL's index, so there the store
    // worker (the one connection, under the notebook's Web Lock) holds the database in
    // exclusive locking mode, set before its first read (the key's check included: a log left
    // by the last session could not be opened otherwise), and SQLite keeps the index in the
    // worker's memory. A save then writes its pages once, to the log, and flushes once, where
    // a rollback journal wrote each page twice and flushed and truncated the journal at every
    // commit (half of a save's time in the worker; BENCHMARKS.md, "A faster notebook").
    #[cfg(target_arch = "wasm32")]
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))?;
    // The key comes before anything is read.
    if let Some(passphrase) = passphrase {
        #[cfg(target_arch = "wasm32")]
        let derived = derived_key(&path, vfs, passphrase);
        #[cfg(not(target_arch = "wasm32"))]
        let derived = None;
        super::at_rest::unlock(&conn, derived.as_ref().unwrap_or(passphrase), dir)?;
        super::at_rest::check_key(&conn, dir)?;
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // The store caches more statements than rusqlite's default of 16 (taking in a page of
    // pulled changes alone uses most of those): beyond the cache, a statement is prepared
    // again at every use.
    conn.set_prepared_statement_cache_capacity(128);
    // Is it ours? A new file has no tables and application_id 0.
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|_| Error::NotOurDataDir {
            path: dir.to_path_buf(),
        })?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if app_id != APPLICATION_ID && !(app_id == 0 && tables == 0) {
        return Err(Error::NotOurDataDir {
            path: dir.to_path_buf(),
        });
    }
    // WAL (see above for the browser).
    {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| Error::DataDir {
                path: dir.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
        // In the browser a notebook left in its rollback journal still works, only slower.
        if !mode.eq_ignore_ascii_case("wal") && cfg!(not(target_arch = "wasm32")) {
            return Err(Error::DataDir {
                path: dir.to_path_buf(),
                source: std::io::Error::other(format!(
                    "could not switch the database to WAL (got {mode})"
                )),
            });
        }
    }
    // 8 MiB of page cache: a write touches pages all over the projection indexes. Freed
    // content is overwritten with zeros, so that an erased person's words do not stay in free
    // space of the file (`erasure.rs`).
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192;
         PRAGMA secure_delete = ON;",
    )?;
    // Plans that do not depend on bound values. Without this, SQLite marks a statement with
    // an ORDER BY for re-preparation whenever its parameters are bound again, and the
    // statement cache clears the bindings of every statement it takes back: each read of a
    // person's conversations was parsed and planned again (a tenth of a save's time). The
    // store has no statistics (no ANALYZE) for value-dependent plans to use.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;

    if app_id == 0 {
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    Ok(conn)
}

#[cfg(all(test, unix))]
mod permission_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::model::{NewPerson, PersonField};
    use crate::store::Store;

    /// The permission bits, in octal as `ls` and `chmod` show them.
    fn mode(path: &Path) -> String {
        let mode = fs::metadata(path).expect("exists").permissions().mode();
        format!("{:o}", mode & 0o777)
    }

    fn check_modes(dir: &Path) {
        assert_eq!(mode(dir), "700", "the data directory");
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{DB_FILE}{suffix}"));
            assert_eq!(mode(&file), "600", "{}", file.display());
        }
    }

    fn write_someone(store: &mut Store) {
        store
            .add_person(NewPerson::new().put(PersonField::Name, "Ada"))
            .expect("add");
    }

    #[test]
    fn the_data_directory_and_database_are_readable_by_the_user_only() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("notebook");
        let mut store = Store::open(&dir).expect("open");
        write_someone(&mut store);
        // The WAL and shared-memory files exist while the store is open.
        check_modes(&dir);
    }

    #[test]
    fn a_notebook_left_open_to_others_is_tightened_when_opened() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("notebook");
        let mut store = Store::open(&dir).expect("open");
        write_someone(&mut store);
        // As an older version left them: the umask's 0755 and 0644.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{DB_FILE}{suffix}"));
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        drop(store);
        let mut store = Store::open(&dir).expect("reopen");
        write_someone(&mut store);
        check_modes(&dir);
    }
}
