//! Encryption at rest: a notebook encrypted on disk holds none of its words in any file, opens
//! only with its passphrase (a clear error otherwise, and nothing changed), keeps working
//! (search, writes, erasure) once open, and takes its key from the desktop's key store when
//! one runs (a real GNOME Keyring in a private D-Bus session).

use std::path::Path;
use std::process::Command;

use groundwork::error::Error;
use groundwork::model::{NewPerson, PersonField};
use groundwork::store::Store;
use groundwork::store::at_rest::{self, Passphrase};

use super::erasure::{CANARY, canary_person, files_holding};
use super::{groundwork, ok};

const PASSPHRASE: &str = "correct horse battery staple";

fn passphrase() -> Passphrase {
    Passphrase::new(PASSPHRASE)
}

#[test]
fn an_encrypted_notebook_holds_no_words_and_opens_only_with_its_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut store);
    assert!(!store.encrypted_at_rest());
    assert!(
        !files_holding(&dir, CANARY).is_empty(),
        "a plain notebook holds its words (else this test proves nothing)"
    );
    // Too short a passphrase is refused, and the notebook stays as it was.
    let weak = Store::open(&dir)
        .unwrap()
        .encrypt_at_rest(&Passphrase::new("short"));
    assert!(
        matches!(weak, Err(Error::WeakPassphrase { .. })),
        "{weak:?}"
    );
    assert!(!at_rest::is_encrypted(&dir).unwrap());
    // While the notebook is open elsewhere (the app), it is not swapped from under it.
    let busy = Store::open(&dir).unwrap().encrypt_at_rest(&passphrase());
    let message = busy.unwrap_err().to_string();
    assert!(message.contains("close them"), "{message}");
    assert!(!at_rest::is_encrypted(&dir).unwrap());
    assert!(store.person(&rosa).is_ok());
    drop(store);

    Store::open(&dir)
        .unwrap()
        .encrypt_at_rest(&passphrase())
        .unwrap();
    assert!(at_rest::is_encrypted(&dir).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("groundwork.sqlite3"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    assert_eq!(
        files_holding(&dir, "SQLite format 3"),
        Vec::<String>::new(),
        "not even the header is in the clear"
    );

    // Without the passphrase, or with a wrong one: a clear error, and the file is untouched.
    let before = std::fs::read(dir.join("groundwork.sqlite3")).unwrap();
    let locked = Store::open(&dir);
    assert!(matches!(locked, Err(Error::Locked { .. })), "{locked:?}");
    let wrong = Store::open_with(&dir, Some(&Passphrase::new("not the right passphrase")));
    assert!(
        matches!(wrong, Err(Error::WrongPassphrase { .. })),
        "{wrong:?}"
    );
    assert!(
        wrong
            .unwrap_err()
            .to_string()
            .contains("GROUNDWORK_PASSPHRASE"),
        "the message says where the passphrase goes"
    );
    assert_eq!(
        std::fs::read(dir.join("groundwork.sqlite3")).unwrap(),
        before
    );

    // With it: everything is there, search included, and new writes are encrypted too (the
    // write-ahead log as well as the database).
    let mut store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    assert!(store.encrypted_at_rest());
    assert!(store.person(&rosa).unwrap().person.name.contains(CANARY));
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);
    let again = Store::open(&dir).unwrap_err();
    assert!(matches!(again, Error::Locked { .. }), "{again:?}");
    let second = format!("{CANARY}two");
    store
        .add_person(NewPerson::new().put(PersonField::Name, second.as_str()))
        .unwrap();
    assert!(dir.join("groundwork.sqlite3-wal").exists());
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    assert_eq!(store.search(&second, 10).unwrap().len(), 1);
    // Erasure works as in a plain notebook.
    store
        .erase_locally(&rosa, groundwork::docs::DocKind::Person)
        .unwrap();
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);
    // Encrypting twice is refused.
    let twice = store.encrypt_at_rest(&passphrase());
    assert!(
        matches!(twice, Err(Error::AlreadyEncrypted { .. })),
        "{twice:?}"
    );
}

#[test]
fn a_new_notebook_made_with_a_passphrase_is_encrypted_from_its_first_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let weak = Store::open_with(&dir, Some(&Passphrase::new("tooshort")));
    assert!(
        matches!(weak, Err(Error::WeakPassphrase { .. })),
        "{weak:?}"
    );
    let mut store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    canary_person(&mut store);
    assert!(store.encrypted_at_rest());
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    drop(store);
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);
}

/// A notebook in `tmp` holding the canary person (their id returned), encrypted under
/// [`PASSPHRASE`] by `notebook encrypt`'s way.
fn encrypted_canary_notebook(tmp: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut store);
    drop(store);
    Store::open(&dir)
        .unwrap()
        .encrypt_at_rest(&passphrase())
        .unwrap();
    (dir, rosa)
}

/// `groundwork ARGS` on `dir` with `passphrase` (if any) in its environment, no key store in
/// reach.
fn command(dir: &Path, args: &[&str], passphrase: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_groundwork"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("GROUNDWORK_DATA_DIR")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove(at_rest::PASSPHRASE_VAR);
    if let Some(p) = passphrase {
        cmd.env(at_rest::PASSPHRASE_VAR, p);
    }
    cmd
}

/// `groundwork notebook change-passphrase` on `dir`, from [`PASSPHRASE`] to
/// [`NEW_PASSPHRASE`], no key store in reach.
fn change_passphrase(dir: &Path) -> Command {
    let mut cmd = command(dir, &["notebook", "change-passphrase"], Some(PASSPHRASE));
    cmd.env("GROUNDWORK_NEW_PASSPHRASE", NEW_PASSPHRASE);
    cmd
}

/// `groundwork` with the passphrase in its environment, run.
fn with_passphrase(dir: &Path, args: &[&str], passphrase: Option<&str>) -> std::process::Output {
    command(dir, args, passphrase).output().unwrap()
}

/// 40 MB of pages added to the encrypted notebook of `dir`, so that a command writing every
/// page can be killed halfway.
fn add_ballast(dir: &Path) {
    let store = Store::open_with(dir, Some(&passphrase())).unwrap();
    store
        .connection()
        .execute_batch(
            "CREATE TABLE ballast (b BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
             INSERT INTO ballast SELECT randomblob(1000000) FROM n;",
        )
        .unwrap();
}

/// The notebook open in `store` is whole: `rosa` there, every page checked, the ballast's 40
/// rows ([`add_ballast`]).
fn assert_whole(store: &Store, rosa: &str) {
    assert!(store.person(rosa).is_ok());
    let (check, ballast): (String, i64) = store
        .connection()
        .query_row(
            "SELECT (SELECT quick_check FROM pragma_quick_check), (SELECT count(*) FROM ballast)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((check.as_str(), ballast), ("ok", 40));
}

#[test]
fn the_command_line_encrypts_a_notebook_and_says_what_it_needs_to_open_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let id = ok(&dir, &["person", "add", "--name", &format!("Ana {CANARY}")]);
    let id = id.trim();
    // No passphrase given: refused with what to do.
    let none = with_passphrase(&dir, &["notebook", "encrypt"], None);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("GROUNDWORK_PASSPHRASE"));
    let enc = with_passphrase(&dir, &["notebook", "encrypt"], Some(PASSPHRASE));
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());

    let locked = groundwork(&dir, &["person", "show", id]);
    assert_eq!(locked.status.code(), Some(1));
    let err = String::from_utf8_lossy(&locked.stderr);
    assert!(
        err.contains("encrypted") && err.contains("GROUNDWORK_PASSPHRASE"),
        "{err}"
    );
    let wrong = with_passphrase(&dir, &["person", "show", id], Some("wrong passphrase!"));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not open"));

    let shown = with_passphrase(&dir, &["person", "show", id], Some(PASSPHRASE));
    assert!(String::from_utf8_lossy(&shown.stdout).contains(CANARY));
    let status = with_passphrase(&dir, &["status"], Some(PASSPHRASE));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["encrypted_at_rest"], true);
    let plain = tempfile::tempdir().unwrap();
    let status: serde_json::Value = serde_json::from_str(&ok(plain.path(), &["status"])).unwrap();
    assert_eq!(status["encrypted_at_rest"], false);
}

/// The key-store path, end to end, in a private D-Bus session with a GNOME Keyring unlocked in
/// it (as a desktop login does): `notebook encrypt --key-store` keeps a random key there, and
/// the notebook then opens with no passphrase typed or set; `notebook change-passphrase` and
/// `notebook decrypt` remove a kept key that no longer opens it.
#[test]
fn a_key_kept_in_the_desktop_key_store_opens_the_notebook_with_nothing_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let id = ok(&dir, &["person", "add", "--name", &format!("Ana {CANARY}")]);
    let home = tmp.path().join("home");
    let runtime = tmp.path().join("run");
    for d in [&home, &runtime] {
        std::fs::create_dir_all(d).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_groundwork");
    let script = format!(
        r#"set -e
printf 'login' | gnome-keyring-daemon --daemonize --login > /dev/null
eval "$(gnome-keyring-daemon --start --components=secrets)"
"{bin}" --data-dir "$NB" notebook encrypt --key-store
"{bin}" --data-dir "$NB" person show {id}
secret-tool lookup application groundwork notebook "$(realpath "$NB")" > "$NB/../key"
GROUNDWORK_NEW_PASSPHRASE="$NEW" "{bin}" --data-dir "$NB" notebook change-passphrase > "$NB/../changed"
secret-tool lookup application groundwork notebook "$(realpath "$NB")" > "$NB/../key-after" || true
"{bin}" --data-dir "$NB" person show {id} > /dev/null 2> "$NB/../locked" || true
cp -r "$NB" "$NB/../after-change"
GROUNDWORK_PASSPHRASE="$NEW" "{bin}" --data-dir "$NB" notebook decrypt > /dev/null
"{bin}" --data-dir "$NB" notebook encrypt --key-store > /dev/null
"{bin}" --data-dir "$NB" notebook decrypt > "$NB/../decrypted"
secret-tool lookup application groundwork notebook "$(realpath "$NB")" > "$NB/../key-after-decrypt" || true
"#,
        id = id.trim()
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", &script])
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("NB", &dir)
        .env("NEW", NEW_PASSPHRASE)
        .env_remove("GROUNDWORK_DATA_DIR")
        .env_remove(at_rest::PASSPHRASE_VAR)
        .output()
        .expect("dbus-run-session runs (.ci/setup-system installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""key_store": true"#), "{stdout}");
    assert!(
        stdout.contains(CANARY),
        "opened with the kept key: {stdout}"
    );
    // The notebook as it was after the change (copied then: the script goes on to decrypt it).
    let after_change = tmp.path().join("after-change");
    assert!(at_rest::is_encrypted(&after_change).unwrap());
    assert_eq!(files_holding(&after_change, CANARY), Vec::<String>::new());
    // The key is the store's own: 64 hex digits, and not in any file of the notebook.
    let key = std::fs::read_to_string(tmp.path().join("key")).unwrap();
    assert_eq!(key.trim().len(), 64, "{key}");
    assert_eq!(
        files_holding(&after_change, key.trim()),
        Vec::<String>::new()
    );
    // Outside that session the key store is out of reach: the notebook stays shut.
    let locked = groundwork(&after_change, &["person", "show", id.trim()]);
    assert_eq!(locked.status.code(), Some(1));
    // With the key itself as the passphrase it opens (what a user could do with the key
    // copied out of the key store).
    // Then the passphrase was changed from the kept key (found in the key store, nothing
    // typed): the key store no longer holds a key that would not open the notebook, and the
    // notebook, asked for, says it is locked; the new passphrase opens it, the key does not.
    let changed = std::fs::read_to_string(tmp.path().join("changed")).unwrap();
    assert!(
        changed.contains(r#""key_store_cleared": true"#),
        "{changed}"
    );
    let after = std::fs::read_to_string(tmp.path().join("key-after")).unwrap();
    assert_eq!(after.trim(), "", "the key store still holds a key");
    let locked = std::fs::read_to_string(tmp.path().join("locked")).unwrap();
    assert!(locked.contains("is encrypted"), "{locked}");
    assert!(matches!(
        Store::open_with(&after_change, Some(&Passphrase::new(key.trim()))),
        Err(Error::WrongPassphrase { .. })
    ));
    let store = Store::open_with(&after_change, Some(&Passphrase::new(NEW_PASSPHRASE))).unwrap();
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);
    // Then, decrypted, encrypted under a new kept key, and decrypted with nothing typed: the
    // key store no longer holds that key, and the notebook opens in the clear.
    let decrypted = std::fs::read_to_string(tmp.path().join("decrypted")).unwrap();
    assert!(
        decrypted.contains(r#""key_store_cleared": true"#),
        "{decrypted}"
    );
    let after = std::fs::read_to_string(tmp.path().join("key-after-decrypt")).unwrap();
    assert_eq!(after.trim(), "", "the key store still holds a key");
    assert!(plain_file(&dir));
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);
}

/// Whether the notebook file in `dir` is a plain SQLite file (its header in the clear).
fn plain_file(dir: &Path) -> bool {
    let bytes = std::fs::read(dir.join("groundwork.sqlite3")).unwrap();
    bytes.starts_with(b"SQLite format 3\0")
}

/// `notebook decrypt` opens the notebook with its passphrase and puts a plain file in its
/// place: everything in it (the person, the search index), opened with nothing typed, nothing
/// left of the copy; refused without the passphrase, with a wrong one and on a plain notebook,
/// each changing nothing; and it can be encrypted again.
#[test]
fn the_command_line_decrypts_a_notebook_back_into_a_plain_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, rosa) = encrypted_canary_notebook(&tmp);
    let none = with_passphrase(&dir, &["notebook", "decrypt"], None);
    assert_eq!(none.status.code(), Some(1));
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.contains("GROUNDWORK_PASSPHRASE"), "{err}");
    let wrong = with_passphrase(&dir, &["notebook", "decrypt"], Some("wrong passphrase!"));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not open"));
    assert!(at_rest::is_encrypted(&dir).unwrap());
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());

    let done = with_passphrase(&dir, &["notebook", "decrypt"], Some(PASSPHRASE));
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let said: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(said["encrypted"], false);
    assert_eq!(said["key_store_cleared"], false);
    assert!(plain_file(&dir));
    assert!(!at_rest::is_encrypted(&dir).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("groundwork.sqlite3"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the plain notebook readable by others");
    }
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("crypting") || n.ends_with("-journal"))
        .collect();
    left.sort();
    assert_eq!(left, Vec::<String>::new());
    let store = Store::open(&dir).unwrap();
    assert!(!store.encrypted_at_rest());
    assert!(store.person(&rosa).unwrap().person.name.contains(CANARY));
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);
    let check: String = store
        .connection()
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(store);
    let shown = ok(&dir, &["person", "show", &rosa]);
    assert!(shown.contains(CANARY), "{shown}");

    let again = with_passphrase(&dir, &["notebook", "decrypt"], Some(PASSPHRASE));
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not encrypted"));
    let enc = with_passphrase(&dir, &["notebook", "encrypt"], Some(PASSPHRASE));
    assert!(enc.status.success());
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);
}

/// `notebook decrypt` killed while it writes the plain copy (a crash, a laptop's battery): the
/// notebook is still encrypted, whole, opens with its passphrase, and none of its words is in
/// the clear but in the half copy, which the next opening of the notebook deletes. Decrypting
/// while the app has the notebook open is refused, the notebook unchanged.
#[test]
fn a_decryption_cut_short_leaves_the_notebook_encrypted_and_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, rosa) = encrypted_canary_notebook(&tmp);
    add_ballast(&dir);
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    // Open elsewhere (the app): refused, saying so.
    let busy = Store::open_with(&dir, Some(&passphrase()))
        .unwrap()
        .decrypt_at_rest()
        .unwrap_err();
    assert!(matches!(busy, Error::NotebookBusy { .. }), "{busy}");
    drop(store);
    assert!(at_rest::is_encrypted(&dir).unwrap());

    let copy = dir.join("groundwork.sqlite3.decrypting");
    let mut child = command(&dir, &["notebook", "decrypt"], Some(PASSPHRASE))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the decryption finished before it could be cut short"
        );
        assert!(std::time::Instant::now() < deadline, "no copy seen");
        if std::fs::metadata(&copy).map(|m| m.len()).unwrap_or(0) > 10_000_000 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(copy.exists(), "killed halfway, with its copy left");
    assert!(!plain_file(&dir));
    assert!(at_rest::is_encrypted(&dir).unwrap());
    // The words in the clear are in the half copy only, which the next open deletes.
    let holding = files_holding(&dir, CANARY);
    assert!(
        !holding.is_empty() && holding.iter().all(|f| f.contains(".decrypting")),
        "{holding:?}"
    );
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    assert!(!copy.exists());
    assert_whole(&store, &rosa);
    drop(store);

    let done = with_passphrase(&dir, &["notebook", "decrypt"], Some(PASSPHRASE));
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(!copy.exists());
    assert!(plain_file(&dir));
    let store = Store::open(&dir).unwrap();
    assert!(store.person(&rosa).is_ok());
}

/// Encrypting a notebook another connection holds open (the app, a sync) is refused saying so,
/// not "check that it exists, is a directory and is writable", and the notebook is unchanged.
#[test]
fn encrypting_a_notebook_open_elsewhere_is_refused_saying_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut open = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut open);
    let err = Store::open(&dir)
        .unwrap()
        .encrypt_at_rest(&passphrase())
        .unwrap_err();
    assert!(matches!(err, Error::NotebookBusy { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is open in the app or another command: close them and try again"),
        "{err}"
    );
    drop(open);
    let store = Store::open(&dir).unwrap();
    assert!(!store.encrypted_at_rest());
    assert_eq!(store.person(&rosa).unwrap().person.id, rosa);
}

/// The names in the `people` table of the encrypted notebook file `file` in `dir`, read with
/// `key` (an error for a wrong one).
fn names_in_sealed(dir: &Path, key: &str) -> rusqlite::Result<Vec<String>> {
    let conn = rusqlite::Connection::open(dir.join(at_rest::in_place::SEALED_FILE))?;
    conn.pragma_update(None, "key", key)?;
    let mut stmt = conn.prepare("SELECT name FROM people ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

/// The phone's way of encrypting (its notebook stays open in one worker, and its files cannot
/// be renamed), run here on the same SQLCipher and the same file layer.
#[test]
fn a_notebook_encrypted_in_place_holds_no_words_and_goes_on_in_its_encrypted_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut store);
    assert!(
        !files_holding(&dir, CANARY).is_empty(),
        "a plain notebook holds its words (else this test proves nothing)"
    );
    let weak = store.encrypt_in_place(&Passphrase::new("short"));
    assert!(
        matches!(weak, Err(Error::WeakPassphrase { .. })),
        "{weak:?}"
    );
    assert!(!dir.join(at_rest::in_place::SEALED_FILE).exists());

    store.encrypt_in_place(&passphrase()).unwrap();
    assert!(store.encrypted_at_rest());
    // The same store goes on, in the encrypted file: what was there, and what is added now.
    assert!(store.person(&rosa).is_ok());
    let later = format!("Later {CANARY}");
    store
        .add_person(NewPerson::new().put(PersonField::Name, later.as_str()))
        .unwrap();
    assert_eq!(store.search(&later, 10).unwrap().len(), 1);
    assert!(!dir.join("groundwork.sqlite3").exists(), "the plain file");
    assert!(
        !dir.join("groundwork.sqlite3-wal").exists(),
        "the plain log"
    );
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    let twice = store.encrypt_in_place(&passphrase());
    assert!(
        matches!(twice, Err(Error::AlreadyEncrypted { .. })),
        "{twice:?}"
    );
    drop(store);

    assert!(
        at_rest::in_place::settle(&dir).unwrap(),
        "the encrypted file is the notebook"
    );
    assert_eq!(
        names_in_sealed(&dir, PASSPHRASE).unwrap(),
        vec![later, format!("Rosa {CANARY}")]
    );
    assert!(names_in_sealed(&dir, "not the right passphrase").is_err());
}

/// An encryption cut short (the app closed, the phone's storage full) at either side of the
/// mark that says the copy is whole: before it, the copy goes and the plain notebook stays; after
/// it, the plain files go. Either way nothing is lost.
#[test]
fn an_encryption_in_place_cut_short_settles_on_a_whole_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut store);
    drop(store);

    // Cut short while copying: the plain notebook marked "started", half a copy beside it.
    let plain = rusqlite::Connection::open(dir.join("groundwork.sqlite3")).unwrap();
    plain
        .execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('sealed_copy', 'started')",
            [],
        )
        .unwrap();
    drop(plain);
    std::fs::write(dir.join(at_rest::in_place::SEALED_FILE), b"half a copy").unwrap();
    assert!(!at_rest::in_place::settle(&dir).unwrap());
    assert!(!dir.join(at_rest::in_place::SEALED_FILE).exists());
    let store = Store::open(&dir).unwrap();
    assert!(!store.encrypted_at_rest());
    assert!(store.person(&rosa).is_ok());
    drop(store);

    // Cut after the mark, before the plain files were deleted.
    let plain = rusqlite::Connection::open(dir.join("groundwork.sqlite3")).unwrap();
    let sealed = at_rest::in_place::seal(&plain, &dir, &passphrase()).unwrap();
    drop(sealed);
    drop(plain);
    assert!(dir.join("groundwork.sqlite3").exists());
    assert!(at_rest::in_place::settle(&dir).unwrap());
    assert!(!dir.join("groundwork.sqlite3").exists(), "the plain file");
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    assert_eq!(
        names_in_sealed(&dir, PASSPHRASE).unwrap(),
        vec![format!("Rosa {CANARY}")]
    );
    // Settled once, it stays settled.
    assert!(at_rest::in_place::settle(&dir).unwrap());
}

/// A connection to the encrypted notebook file of `dir` (the phone's), under [`PASSPHRASE`].
fn sealed_connection(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join(at_rest::in_place::SEALED_FILE)).unwrap();
    conn.pragma_update(None, "key", PASSPHRASE).unwrap();
    conn
}

/// The mark in the plain notebook file of `dir`.
fn plain_mark(dir: &Path) -> Option<String> {
    use rusqlite::OptionalExtension;
    rusqlite::Connection::open(dir.join("groundwork.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'sealed_copy'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
}

/// The phone's way of decrypting (the notebook stays open): refused with a wrong passphrase,
/// changing nothing; then the same store goes on in a plain file holding everything, the
/// encrypted files are gone, and the next start settles on the plain file; encrypted again, it
/// goes back to its encrypted file.
#[test]
fn a_notebook_decrypted_in_place_goes_on_in_its_plain_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut store);
    let plain_twice = store.decrypt_in_place(&passphrase());
    assert!(
        matches!(plain_twice, Err(Error::NotEncrypted { .. })),
        "{plain_twice:?}"
    );
    // The export copies `meta` first (the first table), so a copy cut short holds its mark or
    // nothing of the notebook (`in_place::open_up`).
    let first: String = store
        .connection()
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(first, "meta");
    store.encrypt_in_place(&passphrase()).unwrap();
    let copy_key = store.page_copy_key().unwrap().expect("a key, encrypted");
    let later = format!("Later {CANARY}");
    store
        .add_person(NewPerson::new().put(PersonField::Name, later.as_str()))
        .unwrap();
    let wrong = store.decrypt_in_place(&Passphrase::new("not the passphrase"));
    assert!(
        matches!(wrong, Err(Error::WrongCurrentPassphrase)),
        "{wrong:?}"
    );
    assert!(store.encrypted_at_rest());
    assert!(!dir.join("groundwork.sqlite3").exists());

    store.decrypt_in_place(&passphrase()).unwrap();
    assert!(!store.encrypted_at_rest());
    assert!(store.person(&rosa).is_ok());
    assert_eq!(store.search(&later, 10).unwrap().len(), 1);
    let after = format!("After {CANARY}");
    store
        .add_person(NewPerson::new().put(PersonField::Name, after.as_str()))
        .unwrap();
    for gone in ["", "-wal", "-journal"] {
        let file = format!("{}{gone}", at_rest::in_place::SEALED_FILE);
        assert!(!dir.join(&file).exists(), "{file}");
    }
    assert!(plain_file(&dir));
    assert_eq!(plain_mark(&dir).as_deref(), Some("opened"));
    // The key of the page's sealed copies does not stay in the clear.
    assert_eq!(store.page_copy_key().unwrap(), None);
    let kept: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM meta WHERE key = 'page_copy_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 0);
    drop(store);

    assert!(
        !at_rest::in_place::settle(&dir).unwrap(),
        "the plain file is the notebook"
    );
    let mut store = Store::open(&dir).unwrap();
    assert!(!store.encrypted_at_rest());
    for name in [&later, &after] {
        assert_eq!(store.search(name, 10).unwrap().len(), 1, "{name}");
    }
    assert!(store.person(&rosa).is_ok());
    store.encrypt_in_place(&passphrase()).unwrap();
    let again = store
        .page_copy_key()
        .unwrap()
        .expect("a key, encrypted again");
    assert_ne!(
        again, copy_key,
        "the old key sealing the page's copies again"
    );
    drop(store);
    assert!(at_rest::in_place::settle(&dir).unwrap());
    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    assert_eq!(names_in_sealed(&dir, PASSPHRASE).unwrap().len(), 3);
}

/// A decryption cut short (the app closed, the phone's storage full) at either side of the
/// mark that says the plain copy is whole: before it, the copy goes and the encrypted notebook
/// stays; after it, the encrypted files go. A copy left unmarked (cut before it took the
/// notebook's `meta`) is left alone, and the next decryption starts again from nothing.
#[test]
fn a_decryption_in_place_cut_short_settles_on_a_whole_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut store);
    store.encrypt_in_place(&passphrase()).unwrap();
    drop(store);
    assert!(at_rest::in_place::settle(&dir).unwrap());
    let sealed = dir.join(at_rest::in_place::SEALED_FILE);
    let before = std::fs::read(&sealed).unwrap();

    // Cut short while copying, after the copy took the notebook's mark.
    let half = rusqlite::Connection::open(dir.join("groundwork.sqlite3")).unwrap();
    half.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta (key, value) VALUES ('sealed_copy', 'opening');",
    )
    .unwrap();
    drop(half);
    assert!(at_rest::in_place::settle(&dir).unwrap());
    assert!(!dir.join("groundwork.sqlite3").exists(), "the half copy");
    assert_eq!(std::fs::read(&sealed).unwrap(), before);

    // Cut before the copy held anything: an empty file, left alone.
    std::fs::write(dir.join("groundwork.sqlite3"), b"").unwrap();
    assert!(at_rest::in_place::settle(&dir).unwrap());
    assert_eq!(std::fs::read(&sealed).unwrap(), before);

    // What a copy takes from the encrypted notebook's `meta` as it is written: after an
    // encryption its mark says "started", which in a plain copy would have the encrypted
    // notebook deleted at the next start, so a decryption marks it "opening" before copying.
    let mark_in_sealed = |conn: &rusqlite::Connection| -> String {
        conn.query_row(
            "SELECT value FROM meta WHERE key = 'sealed_copy'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let conn = sealed_connection(&dir);
    assert_eq!(mark_in_sealed(&conn), "started");
    // Cut after the mark, before the encrypted files were deleted (the attempt starts again
    // from nothing, over the empty file).
    let plain = at_rest::in_place::open_up(&conn, &dir).unwrap();
    assert_eq!(mark_in_sealed(&conn), "opening");
    drop(plain);
    drop(conn);
    assert!(sealed.exists());
    assert!(!at_rest::in_place::settle(&dir).unwrap());
    assert!(!sealed.exists(), "the encrypted file");
    let store = Store::open(&dir).unwrap();
    assert!(!store.encrypted_at_rest());
    assert!(store.person(&rosa).is_ok());
    drop(store);
    // Settled once, it stays settled.
    assert!(!at_rest::in_place::settle(&dir).unwrap());
}

/// What `settle` does not guess at: a plain notebook beside the encrypted one with no mark
/// (made there by something else) is left alone and the encrypted one stays the notebook; a
/// plain notebook that cannot be read fails the start and deletes nothing; a log left without
/// its database goes.
#[test]
fn settling_deletes_nothing_it_cannot_tell_is_spare() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    canary_person(&mut store);
    store.encrypt_in_place(&passphrase()).unwrap();
    drop(store);
    let sealed = dir.join(at_rest::in_place::SEALED_FILE);
    let before = std::fs::read(&sealed).unwrap();

    // A log of the plain notebook left after the notebook itself was deleted.
    std::fs::write(dir.join("groundwork.sqlite3-wal"), b"a leftover log").unwrap();
    assert!(at_rest::in_place::settle(&dir).unwrap());
    assert!(!dir.join("groundwork.sqlite3-wal").exists());

    // A new plain notebook made beside it (by an older app, say), with no mark.
    let other = rusqlite::Connection::open(dir.join("groundwork.sqlite3")).unwrap();
    other
        .execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta (key, value) VALUES ('device_id', 'made-beside');",
        )
        .unwrap();
    drop(other);
    assert!(at_rest::in_place::settle(&dir).unwrap());
    assert!(
        dir.join("groundwork.sqlite3").exists(),
        "the unmarked plain notebook"
    );
    assert_eq!(
        std::fs::read(&sealed).unwrap(),
        before,
        "the encrypted notebook"
    );

    // The plain notebook held by another connection cannot be read: an error, nothing gone.
    let holder = rusqlite::Connection::open(dir.join("groundwork.sqlite3")).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    assert!(at_rest::in_place::settle(&dir).is_err());
    assert!(dir.join("groundwork.sqlite3").exists());
    assert!(sealed.exists());
    drop(holder);
    assert_eq!(
        names_in_sealed(&dir, PASSPHRASE).unwrap(),
        vec![format!("Rosa {CANARY}")]
    );
}

/// A passphrase SQLite cannot even be given (a NUL character) is a wrong one: the error does
/// not quote it (the key's SQL text would), and nothing is changed.
#[test]
fn a_passphrase_sqlite_cannot_take_is_told_as_wrong_and_not_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = encrypted_canary_notebook(&tmp);
    let before = std::fs::read(dir.join("groundwork.sqlite3")).unwrap();
    let odd = Store::open_with(&dir, Some(&Passphrase::new("secret\0tail-words")));
    let message = format!("{odd:?}");
    assert!(
        matches!(odd, Err(Error::WrongPassphrase { .. })),
        "{message}"
    );
    assert!(!message.contains("tail-words"), "{message}");
    assert_eq!(
        std::fs::read(dir.join("groundwork.sqlite3")).unwrap(),
        before
    );
}

const NEW_PASSPHRASE: &str = "a different set of words";

/// Changing the passphrase: refused for a wrong current passphrase, a weak or unchanged new
/// one, a notebook open elsewhere and a plain notebook, each time with the notebook opening as
/// before; done, the store goes on under the new passphrase, the old one no longer opens the
/// notebook, and no file holds its words.
#[test]
fn changing_the_passphrase_refuses_what_it_must_and_then_only_the_new_one_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    let rosa = canary_person(&mut store);
    let plain = store.change_passphrase(&passphrase(), &Passphrase::new(NEW_PASSPHRASE));
    assert!(
        matches!(plain, Err(Error::NotEncrypted { .. })),
        "{plain:?}"
    );
    // The raw key the phone's Settings ask for their screen lock to keep: there is none.
    let checked = store.raw_key(&passphrase());
    assert!(
        matches!(checked, Err(Error::NotEncrypted { .. })),
        "{checked:?}"
    );
    drop(store);
    Store::open(&dir)
        .unwrap()
        .encrypt_at_rest(&passphrase())
        .unwrap();
    let new = Passphrase::new(NEW_PASSPHRASE);
    let mut store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    store.raw_key(&passphrase()).unwrap();
    for typed in ["not the passphrase", "correct horse battery stapl", ""] {
        let checked = store.raw_key(&Passphrase::new(typed));
        assert!(
            matches!(checked, Err(Error::WrongCurrentPassphrase)),
            "{typed}: {checked:?}"
        );
    }
    let wrong = store.change_passphrase(&Passphrase::new("not the passphrase"), &new);
    assert!(
        matches!(wrong, Err(Error::WrongCurrentPassphrase)),
        "{wrong:?}"
    );
    let weak = store.change_passphrase(&passphrase(), &Passphrase::new("short"));
    assert!(
        matches!(weak, Err(Error::WeakPassphrase { .. })),
        "{weak:?}"
    );
    let same = store.change_passphrase(&passphrase(), &passphrase());
    assert!(matches!(same, Err(Error::SamePassphrase)), "{same:?}");
    // Another connection (the app's sync) has the notebook open: refused, and both go on.
    let other = Store::open_with(&dir, Some(&passphrase())).unwrap();
    let busy = store.change_passphrase(&passphrase(), &new);
    assert!(matches!(busy, Err(Error::NotebookBusy { .. })), "{busy:?}");
    assert!(other.person(&rosa).is_ok());
    drop(other);
    assert!(store.person(&rosa).is_ok());

    store.change_passphrase(&passphrase(), &new).unwrap();
    // The store goes on, writing under the new key.
    let ana = store
        .add_person(NewPerson::new().put(PersonField::Name, format!("Ana {CANARY}")))
        .unwrap();
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 2);
    // The raw key follows the change (a screen lock given the old one would open nothing).
    assert!(store.raw_key(&passphrase()).is_err());
    let raw = store.raw_key(&new).unwrap();
    // Changing it again needs the new one as the current one.
    let stale = store.change_passphrase(&passphrase(), &Passphrase::new("yet another phrase"));
    assert!(
        matches!(stale, Err(Error::WrongCurrentPassphrase)),
        "{stale:?}"
    );
    drop(store);

    assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new());
    // What the desktop app asks of a key it finds (one the key store kept from before).
    assert!(!at_rest::opens(&dir, &passphrase()).unwrap());
    assert!(at_rest::opens(&dir, &new).unwrap());
    assert!(at_rest::opens(&dir, &raw).unwrap());
    let old = Store::open_with(&dir, Some(&passphrase()));
    assert!(matches!(old, Err(Error::WrongPassphrase { .. })), "{old:?}");
    let store = Store::open_with(&dir, Some(&new)).unwrap();
    assert!(store.person(&rosa).is_ok() && store.person(&ana).is_ok());
    let check: String = store
        .connection()
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// `notebook change-passphrase` killed while it encrypts the pages again (a crash, a phone's
/// battery): the notebook opens with the old passphrase, whole, and not with the new one; run
/// again, it finishes. The notebook is given 40 MB of pages so that the kill lands halfway,
/// which the test checks (the database file has taken pages under the new key, and the
/// journal holding the old ones is there).
#[test]
fn a_passphrase_change_cut_short_leaves_the_notebook_whole_under_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, rosa) = encrypted_canary_notebook(&tmp);
    add_ballast(&dir);

    let none = with_passphrase(&dir, &["notebook", "change-passphrase"], Some(PASSPHRASE));
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("GROUNDWORK_NEW_PASSPHRASE"));

    let db = dir.join("groundwork.sqlite3");
    let journal = dir.join("groundwork.sqlite3-journal");
    let mut child = change_passphrase(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the rekey has written pages under the new key into the database file (the
    // store's cache of 8 MiB full, it spills them after journaling the old ones): the file as
    // the journal first appeared, and as it is when the kill lands, differ.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut at_start: Option<(Vec<u8>, std::time::SystemTime)> = None;
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the change finished before it could be cut short"
        );
        assert!(std::time::Instant::now() < deadline, "no rekey seen");
        let held = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
        let modified = std::fs::metadata(&db).and_then(|m| m.modified()).unwrap();
        match &at_start {
            None if held > 0 => at_start = Some((std::fs::read(&db).unwrap(), modified)),
            Some((_, then)) if held > 10_000_000 && modified != *then => break,
            _ => {}
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(journal.exists(), "killed halfway, with its journal left");
    let at_kill = std::fs::read(&db).unwrap();
    assert!(
        at_start.is_some_and(|(bytes, _)| bytes != at_kill),
        "the database file took pages under the new key before the kill"
    );

    // The new passphrase does not open it; the old one does, whole.
    let new = Passphrase::new(NEW_PASSPHRASE);
    let refused = Store::open_with(&dir, Some(&new));
    assert!(
        matches!(refused, Err(Error::WrongPassphrase { .. })),
        "{refused:?}"
    );
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    assert_whole(&store, &rosa);
    drop(store);

    let done = change_passphrase(&dir).output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let said: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(said["changed"], true);
    assert!(!journal.exists());
    assert!(matches!(
        Store::open_with(&dir, Some(&passphrase())),
        Err(Error::WrongPassphrase { .. })
    ));
    let store = Store::open_with(&dir, Some(&new)).unwrap();
    assert!(store.person(&rosa).is_ok());
}

/// The key sealing the phone page's copy of drafts: none for a notebook in the clear; for an
/// encrypted one made once, kept (the same after reopening), and in no file in the clear.
#[test]
fn the_page_copy_key_is_kept_in_the_encrypted_notebook_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("notebook");
    let mut store = Store::open(&dir).unwrap();
    canary_person(&mut store);
    assert_eq!(store.page_copy_key().unwrap(), None);
    drop(store);
    Store::open(&dir)
        .unwrap()
        .encrypt_at_rest(&passphrase())
        .unwrap();
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    let key = store
        .page_copy_key()
        .unwrap()
        .expect("a key for an encrypted notebook");
    assert_eq!(store.page_copy_key().unwrap(), Some(key));
    drop(store);
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    assert_eq!(store.page_copy_key().unwrap(), Some(key));
    drop(store);
    let hex = groundwork::store::intake::hex(&key);
    assert_eq!(files_holding(&dir, &hex), Vec::<String>::new());
    // A passphrase change brings a new key: copies sealed after it do not open with the old
    // passphrase and a copy of the notebook taken before.
    let mut store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    store
        .change_passphrase(&passphrase(), &Passphrase::new(NEW_PASSPHRASE))
        .unwrap();
    let after = store
        .page_copy_key()
        .unwrap()
        .expect("a key after the change");
    assert_ne!(after, key);
    // And the phone's way of encrypting (the store goes on in its encrypted file) gives one.
    let other = tmp.path().join("phone");
    let mut phone = Store::open(&other).unwrap();
    assert_eq!(phone.page_copy_key().unwrap(), None);
    phone.encrypt_in_place(&passphrase()).unwrap();
    assert!(phone.page_copy_key().unwrap().is_some());
}

/// A passphrase change whose rekey has committed, and whose deletion of the key sealing the
/// page's copy of drafts fails after it (a full phone; here a trigger refuses it): the change
/// is done and answered done (failing it told the user the passphrase the notebook now opens
/// with was refused, and kept the screen lock's copy of the old key), and the old key is not
/// given again (copies sealed under it open with the old passphrase and a copy of the notebook
/// taken before) until it can be deleted; then a new one is.
#[test]
fn a_passphrase_change_that_took_is_done_even_when_the_page_copy_key_cannot_go() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, rosa) = encrypted_canary_notebook(&tmp);
    let new = Passphrase::new(NEW_PASSPHRASE);
    let mut store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    let old_key = store.page_copy_key().unwrap().expect("a key");
    store
        .connection()
        .execute_batch(
            "CREATE TRIGGER full BEFORE DELETE ON meta WHEN old.key = 'page_copy_key'
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
    store.change_passphrase(&passphrase(), &new).unwrap();
    assert!(store.person(&rosa).is_ok());
    assert!(store.raw_key(&new).is_ok());
    let stale = store.page_copy_key();
    assert!(stale.is_err(), "the old key given again: {stale:?}");
    store
        .connection()
        .execute_batch("DROP TRIGGER full")
        .unwrap();
    let renewed = store.page_copy_key().unwrap().expect("a new key");
    assert_ne!(renewed, old_key);
    assert_eq!(store.page_copy_key().unwrap(), Some(renewed));
    drop(store);
    assert!(at_rest::opens(&dir, &new).unwrap());
    assert!(!at_rest::opens(&dir, &passphrase()).unwrap());
}

/// The phone's screen lock keeps the notebook's raw key, not its passphrase: the key the store
/// works out opens the notebook as SQLCipher's own derivation does (so no wrong derivation
/// could lock anyone out), a wrong passphrase's does not, and a store opened with it still
/// knows the passphrase when asked for it (to change it, or to set the screen lock up again).
#[test]
fn the_raw_key_opens_the_notebook_and_a_store_opened_with_it_knows_its_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, rosa) = encrypted_canary_notebook(&tmp);
    let store = Store::open_with(&dir, Some(&passphrase())).unwrap();
    let raw = store.raw_key(&passphrase()).unwrap();
    let text = raw.expose();
    assert!(
        text.len() == 67 && text.starts_with("x'") && text.ends_with('\''),
        "not a raw key's form"
    );
    assert!(!text.contains(PASSPHRASE));
    drop(store);
    // As the phone works out a typed passphrase's key before opening: on a connection keyed
    // with a dummy raw key (nothing read yet), the salt is the file's, so the key worked out
    // from the passphrase is the notebook's; from another passphrase (bypassing the store's
    // check), a key that does not open it.
    let conn = rusqlite::Connection::open(dir.join("groundwork.sqlite3")).unwrap();
    conn.pragma_update(None, "key", format!("x'{}'", "0".repeat(64)))
        .unwrap();
    let fresh = at_rest::raw_key(&conn, &passphrase()).unwrap();
    let other = at_rest::raw_key(&conn, &Passphrase::new("another passphrase")).unwrap();
    drop(conn);
    assert_eq!(fresh.expose(), raw.expose());
    assert!(!at_rest::opens(&dir, &other).unwrap());
    let refused = Store::open_with(&dir, Some(&other));
    assert!(
        matches!(refused, Err(Error::WrongPassphrase { .. })),
        "{refused:?}"
    );

    let mut store = Store::open_with(&dir, Some(&raw)).unwrap();
    assert!(store.person(&rosa).is_ok());
    // Asked again (the screen lock set up anew), with the passphrase: the same key.
    assert_eq!(store.raw_key(&passphrase()).unwrap().expose(), raw.expose());
    let wrong = store.raw_key(&Passphrase::new("not the passphrase"));
    assert!(
        matches!(wrong, Err(Error::WrongCurrentPassphrase)),
        "{wrong:?}"
    );
    // The raw key itself is its own raw key (SQLCipher takes it as the key).
    assert_eq!(store.raw_key(&raw).unwrap().expose(), raw.expose());
    store
        .change_passphrase(&passphrase(), &Passphrase::new(NEW_PASSPHRASE))
        .unwrap();
    drop(store);
    // The old raw key opens nothing now; the new passphrase opens the notebook.
    assert!(!at_rest::opens(&dir, &raw).unwrap());
    assert!(at_rest::opens(&dir, &Passphrase::new(NEW_PASSPHRASE)).unwrap());
}
