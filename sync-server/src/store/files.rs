//! The data directory's permissions: it holds every team's data and the hashes of every token
//! and invite, so on Unix the directory is made `0700` and the database files `0600` (owner only),
//! whatever the umask.
//!
//! The database file is created with `0600` before SQLite opens it; SQLite gives its `-wal` and
//! `-shm` files the database file's permissions, and any that already exist are corrected too.

use std::io;
use std::path::Path;

/// Creates `dir` if needed and makes it owner-only.
pub fn secure_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Creates the database file `db` (empty: SQLite treats it as new) owner-only if it does not
/// exist, and makes it and its `-wal`, `-shm` and `-journal` companions owner-only.
pub fn secure_db_files(db: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db)
        {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            set_mode(path, 0o600)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn directory_and_files_are_owner_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        secure_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("relay.sqlite3");
        std::fs::write(dir.join("relay.sqlite3-wal"), b"").expect("wal");
        set_mode(&dir.join("relay.sqlite3-wal"), 0o644).expect("chmod");
        secure_db_files(&db).expect("files");
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.join("relay.sqlite3-wal")), 0o600);
        // Loosened by hand, tightened again on the next open.
        set_mode(&dir, 0o755).expect("chmod");
        secure_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
    }
}
