//! The team's keys as a store last read them, kept while nothing has changed them.
//!
//! Reading the keys means reading the whole tree of documents' keys, which grows with the
//! team's erasures (about 50 nodes each): 12 ms natively at 1,000 erasures, 291 ms at 20,000
//! (BENCHMARKS.md, "The team's keys read once"), and every status the app shows, every push and
//! every pulled page needs them. Every write to `team_keys` or `doc_keys` calls
//! [`keys_changed`] in its own transaction, after its writes, which gives the notebook's keys a new random
//! version (`meta.keys_version`); a [`KeysCache`] hands back what it holds only while the
//! version it read first is still the notebook's. Other connections to the same notebook (the
//! desktop app's sync thread beside its window) see a change with the version, since both are
//! committed together; a version read before a change and keys read after it are only read
//! again, never kept as newer than they are.

use std::cell::RefCell;
use std::sync::Arc;

use rusqlite::Connection;

use crate::crypto::keys::Keyring;
use crate::error::Result;

/// The `meta` key of the notebook's keys' version.
const KEYS_VERSION: &str = "keys_version";

/// Gives the notebook's keys a new version, in the caller's transaction: whatever writes to
/// `team_keys` or `doc_keys` calls it.
pub(crate) fn keys_changed(conn: &Connection) -> Result<()> {
    let version = uuid::Uuid::new_v4().simple().to_string();
    super::meta::meta_set(conn, KEYS_VERSION, &version)
}

/// The keys as last read, with the version they were read at.
#[derive(Default)]
pub(crate) struct KeysCache {
    held: RefCell<Option<(String, Arc<Keyring>)>>,
}

impl KeysCache {
    /// The notebook's keys: those held when their version is still the notebook's, else read
    /// again (and held).
    pub(crate) fn keyring(&self, conn: &Connection) -> Result<Arc<Keyring>> {
        // The version first: keys read after it are at least as new as it says.
        let version = super::meta::meta_get(conn, KEYS_VERSION)?.unwrap_or_default();
        if let Some((held, ring)) = &*self.held.borrow()
            && *held == version
        {
            return Ok(Arc::clone(ring));
        }
        let ring = Arc::new(super::keys::keyring(conn)?);
        *self.held.borrow_mut() = Some((version, Arc::clone(&ring)));
        Ok(ring)
    }

    /// Lets go of the keys held (their nodes are wiped as they are dropped): after an erasure,
    /// whose cut key the tree held until then could derive, and after a join.
    pub(crate) fn forget(&self) {
        self.held.borrow_mut().take();
    }
}

impl std::fmt::Debug for KeysCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysCache").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::crypto::doc_keys::DocKeys;
    use crate::store::Store;

    const DOC: &str = "0193b2c4-0001-7222-8333-944455566677";

    /// Writes through `store`'s own connection, in one transaction, as the store's writers do.
    fn write(store: &mut Store, f: impl FnOnce(&rusqlite::Connection)) {
        let tx = store.conn.transaction().expect("transaction");
        f(&tx);
        tx.commit().expect("commit");
    }

    /// A cut made in the stored tree (from the node above the leaf alone) leaves the same nodes
    /// as the same cuts made in the whole tree in memory.
    #[test]
    fn a_cut_in_the_notebook_is_the_cut_of_the_whole_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path()).expect("open");
        let mut tree = DocKeys::generate().expect("random bytes");
        write(&mut store, |c| {
            super::super::keys::store_doc_keys(c, Some(&tree)).expect("stored")
        });
        let docs: Vec<String> = (0..60)
            .map(|i| format!("0193b2c4-{i:04x}-7222-8333-944455566677"))
            .collect();
        for doc in docs.iter().chain(&docs[..5]) {
            let expected = tree.puncture(doc).is_some();
            write(&mut store, |c| {
                let cut = super::super::keys::puncture_doc_key(c, doc).expect("cut");
                assert_eq!(cut, expected, "{doc}");
            });
        }
        let stored = super::super::keys::doc_keys(&store.conn)
            .expect("read")
            .expect("a tree");
        assert_eq!(stored, tree);
        assert_eq!(stored.len(), tree.len());
        assert!(docs.iter().all(|d| stored.key_for(d).is_none()));
        assert!(
            stored
                .key_for("0193b2c4-ffff-7222-8333-944455566677")
                .is_some()
        );
    }

    #[test]
    fn keys_are_held_until_any_connection_changes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut window = Store::open(dir.path()).expect("open");
        let mut sync_thread = Store::open(dir.path()).expect("open again");
        assert!(window.keyring().expect("keys").doc_keys().is_none());
        let tree = DocKeys::generate().expect("random bytes");
        write(&mut sync_thread, |c| {
            super::super::keys::store_doc_keys(c, Some(&tree)).expect("stored")
        });
        // The other connection's join is seen, then held.
        let ring = window.keyring().expect("keys");
        assert!(ring.doc_keys().and_then(|t| t.key_for(DOC)).is_some());
        assert!(Arc::ptr_eq(&ring, &window.keyring().expect("keys")));
        // An erasure by the other connection cuts the key here too.
        write(&mut sync_thread, |c| {
            assert!(super::super::keys::puncture_doc_key(c, DOC).expect("cut"));
        });
        let ring = window.keyring().expect("keys");
        assert!(ring.doc_keys().is_some());
        assert!(
            ring.doc_keys().and_then(|t| t.key_for(DOC)).is_none(),
            "the erased document's key is not held on"
        );
        // And one by this connection.
        let other = "0193b2c4-0002-7222-8333-944455566677";
        assert!(ring.doc_keys().and_then(|t| t.key_for(other)).is_some());
        write(&mut window, |c| {
            assert!(super::super::keys::puncture_doc_key(c, other).expect("cut"));
        });
        assert!(
            window
                .keyring()
                .expect("keys")
                .doc_keys()
                .and_then(|t| t.key_for(other))
                .is_none()
        );
    }
}
