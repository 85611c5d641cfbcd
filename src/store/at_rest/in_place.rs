//! Encrypting and decrypting a notebook whose file cannot be renamed: the phone web app's, in
//! the browser's OPFS pool, which has no rename and keeps the notebook open in one worker for
//! as long as the app runs.
//!
//! The encrypted notebook is a file of its own ([`SEALED_FILE`]) beside the plain one
//! ([`DB_FILE`]). Encrypting writes a mark in the *plain* notebook (`meta.sealed_copy`) saying a
//! copy has started, copies the notebook into the new file (SQLCipher's `sqlcipher_export`),
//! opens and checks the copy, and turns the mark into "done" (committed and flushed); only then
//! does the store switch to the copy and delete the plain files. Which file is the notebook is
//! decided at every start by [`settle`], from what is there, without the passphrase:
//!
//! - only the plain file: it is the notebook (never encrypted);
//! - only the encrypted file: it is the notebook, and opens with the passphrase;
//! - both, the plain one marked "done": the copy was whole and the app stopped before the plain
//!   files were deleted: they are deleted now;
//! - both, the plain one marked "started": the copy was cut short (the app closed, the phone's
//!   storage ran out): the copy is deleted and the plain notebook, never written to after the
//!   copy began, is the notebook;
//! - both, the plain one unmarked (made beside the encrypted notebook by something else, such as
//!   an older app): neither is deleted, and the encrypted one is the notebook.
//!
//! Decrypting ([`open_up`]) is the same the other way: the *encrypted* notebook is marked
//! "opening" (so that whatever part of its `meta` a plain copy holds says so), copied into the
//! plain file, the copy opened, checked and marked "opened"; then the store switches to it and
//! deletes the encrypted files. At the start, both files:
//!
//! - the plain one marked "opening": a decryption cut short: the plain copy is deleted and the
//!   encrypted notebook, never written to after the copy began, is the notebook;
//! - the plain one marked "opened": the copy was whole: the encrypted files are deleted and the
//!   plain one is the notebook.
//!
//! A plain notebook that cannot be read to find its mark fails the start rather than have a
//! file chosen on a guess. So a crash at any point loses nothing, and the plain file never
//! outlives a whole encrypted copy by more than one start of the app. Deleting a file of the
//! OPFS pool truncates it (the pool keeps the emptied file for reuse): the plain bytes are gone
//! from the browser's storage, not only unnamed. A database is deleted before its log and
//! journal, and a log or journal left without its database is deleted at the start.

use std::ffi::{CString, c_int};
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, ffi};

use super::super::files::{self, DB_FILE};
use super::Passphrase;
use crate::error::{Error, Result};

/// The encrypted notebook's file, beside the plain one.
pub const SEALED_FILE: &str = "groundwork-sealed.sqlite3";

/// The key, in the plain notebook's `meta`, of the mark saying whether the copy between it and
/// the encrypted notebook has started or is whole (written in the encrypted notebook too, as
/// a decryption starts, for its plain copy to take: [`open_up`]).
const MARK: &str = "sealed_copy";

/// The files SQLite may keep for a database `name`: itself, its log, its rollback journal.
/// The database goes first: its log may hold the plain notebook's "done" mark (when closing
/// could not copy the log into the file), and a plain notebook left without that log would
/// read as a copy cut short, and have the encrypted notebook deleted at the next start. A log
/// or journal left without its database is deleted by [`settle`].
const SIDES: [&str; 3] = ["", "-wal", "-journal"];

/// Settle which file is the notebook in `dir` (see the module's doc), finishing or undoing an
/// encryption that was cut short: true when it is the encrypted one. Nothing may have either
/// file open.
pub fn settle(dir: &Path) -> Result<bool> {
    let plain = exists(dir, DB_FILE)?;
    let sealed = exists(dir, SEALED_FILE)?;
    // A log or journal whose database was deleted before it (the app stopped in between).
    for (name, there) in [(DB_FILE, plain), (SEALED_FILE, sealed)] {
        if !there {
            remove(dir, name)?;
        }
    }
    if !sealed {
        return Ok(false);
    }
    if !plain {
        return Ok(true);
    }
    match mark(dir)? {
        Some(Mark::Done | Mark::Opening) => remove(dir, DB_FILE)?,
        Some(Mark::Started | Mark::Opened) => {
            remove(dir, SEALED_FILE)?;
            return Ok(false);
        }
        None => {}
    }
    Ok(true)
}

/// Copy the plain notebook open on `plain` into a new encrypted file under `passphrase`,
/// check the copy, and mark the plain notebook as copied: the connection to the copy, ready for
/// the store (its search rows' table made), which is from now on the notebook. The caller
/// closes `plain` and then deletes its files ([`remove_plain`]); until it does, [`settle`] at
/// the next start does. On any failure the copy is deleted and the plain notebook goes on.
pub fn seal(plain: &Connection, dir: &Path, passphrase: &Passphrase) -> Result<Connection> {
    passphrase.check_strength()?;
    // A copy left by an attempt that failed in this session starts again from nothing.
    remove(dir, SEALED_FILE)?;
    let sealed = copy(plain, dir, passphrase).and_then(|sealed| {
        // The copy is whole: from the moment this commits, the encrypted file is the notebook.
        set_mark(plain, Mark::Done)?;
        Ok(sealed)
    });
    if sealed.is_err() {
        // The plain notebook stays the notebook: its mark says "started" (or, if even that
        // failed, nothing), and the next start would delete a copy left now anyway.
        let _ = remove(dir, SEALED_FILE);
    }
    sealed
}

/// Mark `plain` as being copied, copy it, and open and check the copy.
fn copy(plain: &Connection, dir: &Path, passphrase: &Passphrase) -> Result<Connection> {
    set_mark(plain, Mark::Started)?;
    let user_version: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let application_id: i64 = plain.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let target = dir.join(SEALED_FILE);
    super::export(
        plain,
        super::path_str(&target, dir)?,
        Some(passphrase),
        (user_version, application_id),
    )?;
    let sealed = files::open_connection(dir, SEALED_FILE, Some(passphrase))?;
    super::check_copied(&sealed, dir, user_version)?;
    super::super::project::prepare_search(&sealed)?;
    Ok(sealed)
}

/// Delete the plain notebook's files once its encrypted copy is the notebook (nothing may
/// have them open).
pub fn remove_plain(dir: &Path) -> Result<()> {
    remove(dir, DB_FILE)
}

/// The reverse of [`seal`]: copy the encrypted notebook open on `sealed` into a new plain file,
/// check the copy, and mark it whole: the connection to the copy, ready for the store, which is
/// from now on the notebook. The caller closes `sealed` and then deletes its files
/// ([`remove_sealed`]); until it does, [`settle`] at the next start does. On any failure the
/// copy is deleted and the encrypted notebook goes on.
///
/// The mark is the copy's own, since only a file readable without the passphrase can tell the
/// next start which file is whole: the encrypted notebook is marked "opening" first, so that
/// a copy cut short holds that mark or none (never a mark it took from the encrypted file that
/// could say it is the notebook), and the whole copy is then marked "opened".
pub fn open_up(sealed: &Connection, dir: &Path) -> Result<Connection> {
    // A copy left by an attempt that failed in this session starts again from nothing.
    remove(dir, DB_FILE)?;
    let plain = copy_out(sealed, dir).and_then(|plain| {
        // The copy is whole: from the moment this commits, the plain file is the notebook.
        set_mark(&plain, Mark::Opened)?;
        Ok(plain)
    });
    if plain.is_err() {
        let _ = remove(dir, DB_FILE);
    }
    plain
}

/// Mark `sealed` as being copied out, copy it into the plain file, and open and check the copy.
///
/// The export copies tables in the order of `sqlite_master`, where `meta` is the first (the
/// first migration makes it; a test holds that): a copy cut short holds the mark or nothing of
/// the notebook at all.
fn copy_out(sealed: &Connection, dir: &Path) -> Result<Connection> {
    set_mark(sealed, Mark::Opening)?;
    let user_version: i64 = sealed.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let application_id: i64 = sealed.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let target = dir.join(DB_FILE);
    super::export(
        sealed,
        super::path_str(&target, dir)?,
        None,
        (user_version, application_id),
    )?;
    let plain = files::open_connection(dir, DB_FILE, None)?;
    if plain_mark(&plain)? != Some(Mark::Opening) {
        return Err(io_error(
            dir,
            "the notebook's plain copy did not take its mark; the notebook is still encrypted"
                .into(),
        ));
    }
    super::check_copied(&plain, dir, user_version)?;
    super::super::project::prepare_search(&plain)?;
    Ok(plain)
}

/// Delete the encrypted notebook's files once its plain copy is the notebook (nothing may have
/// them open).
pub fn remove_sealed(dir: &Path) -> Result<()> {
    remove(dir, SEALED_FILE)
}

/// What the plain notebook's mark says of the copy between it and the encrypted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// An encrypted copy began and has not been found whole.
    Started,
    /// The encrypted copy is whole: it is the notebook.
    Done,
    /// This plain file is a copy of the encrypted notebook (decrypting it) not yet found whole.
    Opening,
    /// This plain file is a whole copy of the encrypted notebook: it is the notebook.
    Opened,
}

impl Mark {
    fn as_str(self) -> &'static str {
        match self {
            Mark::Started => "started",
            Mark::Done => "done",
            Mark::Opening => "opening",
            Mark::Opened => "opened",
        }
    }

    fn parse(text: &str) -> Option<Mark> {
        [Mark::Started, Mark::Done, Mark::Opening, Mark::Opened]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

fn set_mark(conn: &Connection, mark: Mark) -> Result<()> {
    super::super::meta::meta_set(conn, MARK, mark.as_str())
}

/// The plain notebook's mark in `dir`: none for a file that has no `meta` table yet or no mark
/// in it. A plain file that cannot be read is an error: a file is never chosen on a guess.
fn mark(dir: &Path) -> Result<Option<Mark>> {
    let vfs = files::vfs_name(dir)?;
    let conn = Connection::open_with_flags_and_vfs(
        dir.join(DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        vfs,
    )?;
    // As the store opens it in the browser: its log's index in this connection's memory.
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))?;
    plain_mark(&conn)
}

/// The mark in the plain notebook open on `conn` (none: no `meta` table yet, or no mark).
fn plain_mark(conn: &Connection) -> Result<Option<Mark>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    let value: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [MARK], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(value.as_deref().and_then(Mark::parse))
}

fn io_error(dir: &Path, what: String) -> Error {
    Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::other(what),
    }
}

/// Whether `dir` holds the file `name`, asked of the notebook's VFS (the phone's OPFS pool,
/// or the disk).
fn exists(dir: &Path, name: &str) -> Result<bool> {
    let path = CString::new(super::path_str(&dir.join(name), dir)?)
        .map_err(|_| io_error(dir, format!("{name}: a path with a NUL byte")))?;
    let vfs = find_vfs(dir)?;
    let mut out: c_int = 0;
    // SAFETY: `vfs` is a registered VFS, which SQLite keeps for the process; `xAccess` is
    // called as SQLite documents it, with a NUL-terminated path and a place for the answer.
    let rc = unsafe {
        match (*vfs).xAccess {
            Some(access) => access(vfs, path.as_ptr(), ffi::SQLITE_ACCESS_EXISTS, &mut out),
            None => ffi::SQLITE_ERROR,
        }
    };
    if rc != ffi::SQLITE_OK {
        return Err(io_error(
            dir,
            format!("could not tell whether {name} exists (SQLite error {rc})"),
        ));
    }
    Ok(out != 0)
}

/// Delete the database `name` in `dir` with its log and journal, those that exist (the
/// database first: [`SIDES`]).
fn remove(dir: &Path, name: &str) -> Result<()> {
    let vfs = find_vfs(dir)?;
    for side in SIDES {
        let file = format!("{name}{side}");
        if !exists(dir, &file)? {
            continue;
        }
        let path = CString::new(super::path_str(&dir.join(&file), dir)?)
            .map_err(|_| io_error(dir, format!("{file}: a path with a NUL byte")))?;
        // SAFETY: as in `exists`: a registered VFS and a NUL-terminated path; `0` asks for no
        // directory sync (the pool flushes its own record of names; natively this is only
        // the plain copy of an encrypted notebook, gone either way at the next start).
        let rc = unsafe {
            match (*vfs).xDelete {
                Some(delete) => delete(vfs, path.as_ptr(), 0),
                None => ffi::SQLITE_ERROR,
            }
        };
        if rc != ffi::SQLITE_OK && rc != ffi::SQLITE_IOERR_DELETE_NOENT {
            return Err(io_error(
                dir,
                format!("could not delete {file} (SQLite error {rc})"),
            ));
        }
    }
    Ok(())
}

/// The VFS the notebook's files are opened through.
fn find_vfs(dir: &Path) -> Result<*mut ffi::sqlite3_vfs> {
    let name = files::vfs_name(dir)?;
    // SAFETY: `name` is NUL-terminated and names a registered VFS (or null is returned).
    let vfs = unsafe { ffi::sqlite3_vfs_find(name.as_ptr()) };
    if vfs.is_null() {
        return Err(io_error(dir, "SQLite has no file system to use".into()));
    }
    Ok(vfs)
}
