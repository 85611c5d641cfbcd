//! A thin layer of SQLite's file system (a VFS over the platform's own) that gathers the
//! frames a commit appends to the write-ahead log into one write.
//!
//! SQLite writes each page of a commit to the log as two calls (the frame's 24-byte header,
//! then the page) and flushes the log once at the end. In the phone's store worker every call
//! is a call into the browser's OPFS file, and a save of a conversation made 29–41 of them:
//! 1–7 ms of a 10–21 ms save, where the same bytes written as one call take a tenth of a
//! millisecond (BENCHMARKS.md, "The phone's save: what its OPFS file costs"). Here the log's
//! writes that follow on from each other are kept in memory and written as one call as soon
//! as a commit's last frame is complete (its header says it ends a commit), or when anything
//! else is asked of the log or its database file (a flush, a read, its size, a truncation, a
//! lock or shared-memory call, closing it), or once a megabyte is waiting.
//!
//! Nothing is acknowledged earlier than before: a commit's frames are written by the write of
//! its last page, and what SQLite writes to the log after that page and before it calls the
//! database file again (padding to a sector boundary, the tail of which comes after the
//! flush; frame headers whose checksums it rewrites) goes straight through, as without this
//! layer. So a failed write fails the commit inside SQLite's own writing of it, before SQLite
//! publishes it in the log's index for other connections (the command line beside the app)
//! and before it reports it done; a crash before then loses only a commit never reported
//! done, as it would without this layer (SQLite ignores a log's frames after the last whole
//! commit). What failed to be written is dropped, never written later. Only the log is
//! gathered; the database file and any rollback journal pass straight through.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name this layer is registered under with SQLite.
pub(super) const VFS_NAME: &CStr = c"groundwork-gather";

/// Bytes of log that wait before they are written even though nothing asked for them.
const MAX_WAITING: usize = 1 << 20;

/// The most bytes given to the inner VFS in one write. SQLite's own Unix VFS takes at most
/// 128 KiB less a byte in a write (SQLite never writes more than a page, 64 KiB at most);
/// the browser's OPFS pool takes any size, and a call costs more there than the bytes do.
#[cfg(not(target_arch = "wasm32"))]
const MAX_WRITE: usize = 1 << 16;
#[cfg(target_arch = "wasm32")]
const MAX_WRITE: usize = MAX_WAITING;

/// Whether the layer is registered (or SQLite's error code when it could not be).
static REGISTERED: OnceLock<Result<(), c_int>> = OnceLock::new();

/// Register the layer over SQLite's default VFS (the first call decides which that is: in the
/// phone's worker, call it after the OPFS pool is installed), once per process. Returns the
/// name to open connections with, or SQLite's error code.
pub(super) fn register() -> Result<&'static CStr, c_int> {
    let registered = REGISTERED.get_or_init(|| {
        // SAFETY: SQLite's own functions, called as documented: `sqlite3_vfs_find(NULL)`
        // gives the default VFS (or null), and the VFS registered is leaked, so it lives as
        // long as SQLite may call it.
        unsafe {
            let rc = ffi::sqlite3_initialize();
            if rc != ffi::SQLITE_OK {
                return Err(rc);
            }
            let inner = ffi::sqlite3_vfs_find(std::ptr::null());
            if inner.is_null() {
                return Err(ffi::SQLITE_ERROR);
            }
            let vfs = Box::leak(Box::new(layer_over(inner)));
            let rc = ffi::sqlite3_vfs_register(vfs, 0);
            if rc != ffi::SQLITE_OK {
                return Err(rc);
            }
            Ok(())
        }
    });
    registered.map(|()| VFS_NAME)
}

/// Where the inner VFS's file starts inside ours (aligned for any of its fields).
const INNER_OFFSET: usize = std::mem::size_of::<GatherFile>().next_multiple_of(16);

/// A VFS that is `inner` but for opening files.
///
/// # Safety
/// `inner` must be a registered VFS that lives as long as the process.
unsafe fn layer_over(inner: *mut ffi::sqlite3_vfs) -> ffi::sqlite3_vfs {
    // SAFETY: the caller gives a live VFS.
    let base = unsafe { &*inner };
    ffi::sqlite3_vfs {
        iVersion: base.iVersion.min(3),
        szOsFile: (INNER_OFFSET + base.szOsFile.max(0) as usize) as c_int,
        mxPathname: base.mxPathname,
        pNext: std::ptr::null_mut(),
        zName: VFS_NAME.as_ptr(),
        pAppData: inner.cast(),
        xOpen: Some(x_open),
        xDelete: base.xDelete.map(|_| x_delete as _),
        xAccess: base.xAccess.map(|_| x_access as _),
        xFullPathname: base.xFullPathname.map(|_| x_full_pathname as _),
        xDlOpen: base.xDlOpen.map(|_| x_dl_open as _),
        xDlError: base.xDlError.map(|_| x_dl_error as _),
        xDlSym: base.xDlSym.map(|_| x_dl_sym as _),
        xDlClose: base.xDlClose.map(|_| x_dl_close as _),
        xRandomness: base.xRandomness.map(|_| x_randomness as _),
        xSleep: base.xSleep.map(|_| x_sleep as _),
        xCurrentTime: base.xCurrentTime.map(|_| x_current_time as _),
        xGetLastError: base.xGetLastError.map(|_| x_get_last_error as _),
        xCurrentTimeInt64: if base.iVersion >= 2 {
            base.xCurrentTimeInt64.map(|_| x_current_time_int64 as _)
        } else {
            None
        },
        // System calls are the inner VFS's business (tests of SQLite itself override them).
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    }
}

/// The inner VFS of ours.
///
/// # Safety
/// `vfs` must be the VFS made by [`layer_over`].
unsafe fn inner_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: ours, whose app data is the inner VFS.
    unsafe { (*vfs).pAppData.cast() }
}

/// Call the inner VFS's method `$m` with the inner VFS and the other arguments.
macro_rules! pass_vfs {
    ($vfs:expr, $m:ident, $fallback:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite calls our methods with our VFS; the inner one has the method
        // (ours exists only where it does).
        let inner = unsafe { inner_vfs($vfs) };
        match unsafe { (*inner).$m } {
            Some(f) => unsafe { f(inner $(, $arg)*) },
            None => $fallback,
        }
    }};
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync: c_int,
) -> c_int {
    pass_vfs!(vfs, xDelete, ffi::SQLITE_IOERR_DELETE, name, sync)
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    pass_vfs!(vfs, xAccess, ffi::SQLITE_IOERR_ACCESS, name, flags, out)
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    pass_vfs!(vfs, xFullPathname, ffi::SQLITE_CANTOPEN, name, n, out)
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    pass_vfs!(vfs, xDlOpen, std::ptr::null_mut(), name)
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    pass_vfs!(vfs, xDlError, (), n, out)
}

type DlSym = Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>;

unsafe extern "C" fn x_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> DlSym {
    pass_vfs!(vfs, xDlSym, None, handle, symbol)
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    pass_vfs!(vfs, xDlClose, (), handle)
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    pass_vfs!(vfs, xRandomness, 0, n, out)
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    pass_vfs!(vfs, xSleep, 0, micros)
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    pass_vfs!(vfs, xCurrentTime, ffi::SQLITE_ERROR, out)
}

unsafe extern "C" fn x_get_last_error(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    pass_vfs!(vfs, xGetLastError, 0, n, out)
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    pass_vfs!(vfs, xCurrentTimeInt64, ffi::SQLITE_ERROR, out)
}

/// A file opened through this layer: SQLite's part first, then ours, then (at
/// [`INNER_OFFSET`]) the inner VFS's file.
#[repr(C)]
struct GatherFile {
    base: ffi::sqlite3_file,
    /// The inner VFS's file.
    inner: *mut ffi::sqlite3_file,
    /// Whether writes are gathered (the write-ahead log only).
    gather: bool,
    /// Where the waiting bytes go in the file.
    start: i64,
    /// Bytes written by SQLite and not yet to the inner file.
    waiting: Vec<u8>,
    /// The error of a write of waiting bytes that could not be reported when it failed (in
    /// a shared-memory barrier): every later call answers it, but those that let go (unlocking,
    /// unmapping, closing) still reach the inner file.
    broken: c_int,
    /// For a database file, its write-ahead log while open: shared memory belongs to the
    /// database file, so its calls write what the log has waiting first.
    log: *mut GatherFile,
    /// For a write-ahead log, its database file (to unlink itself when closed).
    db: *mut GatherFile,
    /// The last write was the header of a commit's last frame: its page's write ends the
    /// commit, and is written at once.
    commit_header: bool,
    /// A commit's last frame is written: what SQLite writes to the log after it, before it
    /// calls the database file again (padding to a sector after the commit's flush, headers
    /// whose checksums it rewrites), goes straight to the inner file, as it would without
    /// this layer, so that a failed write fails the commit before SQLite publishes it.
    through: bool,
}

/// The method tables, one per version of the inner file's (a method SQLite sees must be one
/// the inner file has: SQLite decides on shared memory by the version and the method).
static METHODS: [ffi::sqlite3_io_methods; 3] = [methods(1), methods(2), methods(3)];

const fn methods(version: c_int) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: version,
        xClose: Some(x_close),
        xRead: Some(x_read),
        xWrite: Some(x_write),
        xTruncate: Some(x_truncate),
        xSync: Some(x_sync),
        xFileSize: Some(x_file_size),
        xLock: Some(x_lock),
        xUnlock: Some(x_unlock),
        xCheckReservedLock: Some(x_check_reserved_lock),
        xFileControl: Some(x_file_control),
        xSectorSize: Some(x_sector_size),
        xDeviceCharacteristics: Some(x_device_characteristics),
        xShmMap: if version >= 2 { Some(x_shm_map) } else { None },
        xShmLock: if version >= 2 { Some(x_shm_lock) } else { None },
        xShmBarrier: if version >= 2 {
            Some(x_shm_barrier)
        } else {
            None
        },
        xShmUnmap: if version >= 2 {
            Some(x_shm_unmap)
        } else {
            None
        },
        xFetch: if version >= 3 { Some(x_fetch) } else { None },
        xUnfetch: if version >= 3 { Some(x_unfetch) } else { None },
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite gives `szOsFile` bytes at `file`, aligned for any type; the inner file
    // is the part from INNER_OFFSET on, sized for the inner VFS.
    unsafe {
        let inner_vfs = inner_vfs(vfs);
        let inner = file
            .cast::<u8>()
            .add(INNER_OFFSET)
            .cast::<ffi::sqlite3_file>();
        (*file).pMethods = std::ptr::null();
        (*inner).pMethods = std::ptr::null();
        let Some(open) = (*inner_vfs).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(inner_vfs, name, inner, flags, out_flags);
        // An inner file with methods must be closed, even when opening failed.
        let inner_methods = (*inner).pMethods;
        if inner_methods.is_null() {
            return rc;
        }
        // A table may claim a version without having its methods (shared memory offered
        // that the inner file lacks would change whether SQLite may use a log at all).
        let mut version = (*inner_methods).iVersion.clamp(1, 3) as usize;
        if version >= 3
            && ((*inner_methods).xFetch.is_none() || (*inner_methods).xUnfetch.is_none())
        {
            version = 2;
        }
        if version >= 2 && (*inner_methods).xShmMap.is_none() {
            version = 1;
        }
        std::ptr::write(
            file.cast::<GatherFile>(),
            GatherFile {
                base: ffi::sqlite3_file {
                    pMethods: &METHODS[version - 1],
                },
                inner,
                gather: flags & ffi::SQLITE_OPEN_WAL != 0,
                start: 0,
                waiting: Vec::new(),
                broken: ffi::SQLITE_OK,
                log: std::ptr::null_mut(),
                db: std::ptr::null_mut(),
                commit_header: false,
                through: false,
            },
        );
        if flags & ffi::SQLITE_OPEN_WAL != 0 && !name.is_null() {
            // A log's name leads to its database's file, opened before it by the same
            // connection; linked only if that file is one of ours.
            let db = ffi::sqlite3_database_file_object(name);
            if !db.is_null() && is_ours((*db).pMethods) {
                let db = db.cast::<GatherFile>();
                let log = file.cast::<GatherFile>();
                (*db).log = log;
                (*log).db = db;
            }
        }
        rc
    }
}

/// Whether a file's methods are this layer's.
fn is_ours(methods: *const ffi::sqlite3_io_methods) -> bool {
    METHODS.iter().any(|m| std::ptr::eq(m, methods))
}

/// Our file behind SQLite's pointer.
///
/// # Safety
/// `file` must be a file opened by [`x_open`] and not yet closed.
unsafe fn ours<'a>(file: *mut ffi::sqlite3_file) -> &'a mut GatherFile {
    // SAFETY: per the caller; SQLite uses a file from one thread at a time.
    unsafe { &mut *file.cast::<GatherFile>() }
}

/// The inner file's methods.
fn inner_methods(f: &GatherFile) -> &ffi::sqlite3_io_methods {
    // SAFETY: the inner file is open (it has methods) for as long as ours is.
    unsafe { &*(*f.inner).pMethods }
}

impl GatherFile {
    /// Ready the file for another call: its failure if it is broken (see
    /// [`GatherFile::broken`]), else what comes of writing what waits.
    fn settle(&mut self) -> c_int {
        if self.broken != ffi::SQLITE_OK {
            self.broken
        } else {
            self.write_waiting()
        }
    }

    /// Write what waits to the inner file, the log's first when this is its database file.
    /// What waits is dropped either way: a failed write fails the SQLite call it came in,
    /// and SQLite rolls back; frames of a commit that failed are never written later (with a
    /// commit marker, they could make it look committed after a crash).
    fn write_waiting(&mut self) -> c_int {
        if !self.log.is_null() {
            // SAFETY: the log unlinks itself when it closes, so a linked log is open; SQLite
            // uses a connection's files from one thread at a time.
            let log = unsafe { &mut *self.log };
            // SQLite calls the database file again only once it is done writing a commit to
            // the log (and publishing it): the log's next frames are the next commit's.
            log.through = false;
            if log.broken != ffi::SQLITE_OK {
                return log.broken;
            }
            let rc = log.write_own();
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        self.write_own()
    }

    /// Write what this file has waiting.
    fn write_own(&mut self) -> c_int {
        if self.waiting.is_empty() {
            return ffi::SQLITE_OK;
        }
        let bytes = std::mem::take(&mut self.waiting);
        let mut rc = ffi::SQLITE_OK;
        let mut at = self.start;
        for chunk in bytes.chunks(MAX_WRITE) {
            #[cfg(test)]
            if tests::count_log_write() {
                rc = ffi::SQLITE_IOERR_WRITE;
                break;
            }
            // At most MAX_WRITE bytes, which fits a c_int.
            let len = chunk.len() as c_int;
            rc = match inner_methods(self).xWrite {
                // SAFETY: the inner file's own method, on its open file, with a live buffer.
                Some(write) => unsafe { write(self.inner, chunk.as_ptr().cast(), len, at) },
                None => ffi::SQLITE_IOERR_WRITE,
            };
            if rc != ffi::SQLITE_OK {
                break;
            }
            at += i64::from(len);
        }
        // Not kept for the next commit: it would hold a megabyte per connection, and the
        // plain text of pages written long ago.
        drop(bytes);
        rc
    }
}

/// Write what waits, then call the inner file's method `$m` with the other arguments; a
/// failed write is the call's answer.
macro_rules! pass_file {
    ($file:expr, $m:ident, $missing:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite calls our methods with a file x_open opened.
        let f = unsafe { ours($file) };
        let rc = f.settle();
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        match inner_methods(f).$m {
            // SAFETY: the inner file's own method, on its open file.
            Some(m) => unsafe { m(f.inner $(, $arg)*) },
            None => $missing,
        }
    }};
}

/// Write what waits, then call the inner file's method `$m` whatever came of that (a call that
/// lets go of a lock or of shared memory must reach the inner file, or the lock would be held
/// until the process ends); a failed write is the call's answer.
macro_rules! pass_file_always {
    ($file:expr, $m:ident, $missing:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite calls our methods with a file x_open opened.
        let f = unsafe { ours($file) };
        let written = f.settle();
        let rc = match inner_methods(f).$m {
            // SAFETY: the inner file's own method, on its open file.
            Some(m) => unsafe { m(f.inner $(, $arg)*) },
            None => $missing,
        };
        if written != ffi::SQLITE_OK { written } else { rc }
    }};
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file x_open opened, once.
    let f = unsafe { ours(file) };
    let written = f.write_waiting();
    let closed = match inner_methods(f).xClose {
        // SAFETY: the inner file's own method.
        Some(close) => unsafe { close(f.inner) },
        None => ffi::SQLITE_OK,
    };
    // SAFETY: a linked file is open (each unlinks the other as it closes), and ours was
    // written by x_open and is not used after this.
    unsafe {
        if !f.db.is_null() {
            (*f.db).log = std::ptr::null_mut();
        }
        if !f.log.is_null() {
            (*f.log).db = std::ptr::null_mut();
        }
        std::ptr::drop_in_place(file.cast::<GatherFile>());
        (*file).pMethods = std::ptr::null();
    }
    if written != ffi::SQLITE_OK {
        written
    } else {
        closed
    }
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    n: c_int,
    at: i64,
) -> c_int {
    pass_file!(file, xRead, ffi::SQLITE_IOERR_READ, buf, n, at)
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    at: i64,
) -> c_int {
    // SAFETY: SQLite calls our methods with a file x_open opened.
    let f = unsafe { ours(file) };
    if f.broken != ffi::SQLITE_OK {
        return f.broken;
    }
    let Ok(len) = usize::try_from(n) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if !f.gather || buf.is_null() || f.through {
        let rc = f.write_waiting();
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        #[cfg(test)]
        if f.gather && tests::count_log_write() {
            return ffi::SQLITE_IOERR_WRITE;
        }
        return match inner_methods(f).xWrite {
            // SAFETY: the inner file's own method, on its open file, with SQLite's buffer.
            Some(write) => unsafe { write(f.inner, buf, n, at) },
            None => ffi::SQLITE_IOERR_WRITE,
        };
    }
    let follows_on = !f.waiting.is_empty() && f.start + f.waiting.len() as i64 == at;
    if !follows_on {
        let rc = f.write_waiting();
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        f.start = at;
    }
    // SAFETY: SQLite passes `n` readable bytes at `buf`.
    let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
    f.waiting.extend_from_slice(bytes);
    // A frame's header is 24 bytes (the log's own is 32, a page at least 512); its bytes 4..8
    // are the database's size after a commit, zero in any other frame. The commit's last
    // page is written at once, so that a failed write fails the commit before SQLite
    // publishes it in the log's index (with `synchronous` below FULL nothing else would
    // come first: found by a review that made writes fail).
    let ends_commit = std::mem::replace(&mut f.commit_header, false);
    if len == FRAME_HEADER {
        f.commit_header = bytes[4..8] != [0; 4];
    }
    if ends_commit {
        f.through = true;
        return f.write_own();
    }
    if f.waiting.len() >= MAX_WAITING {
        return f.write_own();
    }
    ffi::SQLITE_OK
}

/// The size of a write-ahead log frame's header.
const FRAME_HEADER: usize = 24;

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    pass_file!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size)
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    pass_file!(file, xSync, ffi::SQLITE_IOERR_FSYNC, flags)
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, out: *mut i64) -> c_int {
    pass_file!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT, out)
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass_file!(file, xLock, ffi::SQLITE_IOERR_LOCK, level)
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass_file_always!(file, xUnlock, ffi::SQLITE_IOERR_UNLOCK, level)
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    pass_file!(
        file,
        xCheckReservedLock,
        ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
        out
    )
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    pass_file!(file, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

/// Questions about the file's kind, answered without writing what waits (SQLite asks them
/// between a commit's frames).
unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite calls our methods with a file x_open opened.
    let f = unsafe { ours(file) };
    match inner_methods(f).xSectorSize {
        // SAFETY: the inner file's own method.
        Some(m) => unsafe { m(f.inner) },
        None => 4096,
    }
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite calls our methods with a file x_open opened.
    let f = unsafe { ours(file) };
    match inner_methods(f).xDeviceCharacteristics {
        // SAFETY: the inner file's own method.
        Some(m) => unsafe { m(f.inner) },
        None => 0,
    }
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    pass_file!(
        file,
        xShmMap,
        ffi::SQLITE_IOERR_SHMMAP,
        page,
        size,
        extend,
        out
    )
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    if flags & ffi::SQLITE_SHM_UNLOCK != 0 {
        pass_file_always!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
    } else {
        pass_file!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
    }
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: SQLite calls our methods with a file x_open opened.
    let f = unsafe { ours(file) };
    // A barrier cannot report a failed write, and SQLite publishes new frames in the log's
    // index right after it: from then on the database file and its log answer every call but
    // those that let go (unlocking, unmapping, closing) with the failure, so that the commit
    // fails and nothing more is written. (Nothing waits here in practice: a commit's last
    // frame is written with its page, before SQLite reaches the barrier.)
    let rc = f.write_waiting();
    if rc != ffi::SQLITE_OK {
        f.broken = rc;
        if !f.log.is_null() {
            // SAFETY: a linked log is open (it unlinks itself when it closes).
            unsafe { (*f.log).broken = rc };
        }
    }
    if let Some(m) = inner_methods(f).xShmBarrier {
        // SAFETY: the inner file's own method.
        unsafe { m(f.inner) }
    }
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    pass_file_always!(file, xShmUnmap, ffi::SQLITE_OK, delete)
}

unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    at: i64,
    n: c_int,
    out: *mut *mut c_void,
) -> c_int {
    pass_file!(file, xFetch, ffi::SQLITE_OK, at, n, out)
}

unsafe extern "C" fn x_unfetch(file: *mut ffi::sqlite3_file, at: i64, p: *mut c_void) -> c_int {
    pass_file!(file, xUnfetch, ffi::SQLITE_OK, at, p)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use rusqlite::{Connection, OpenFlags};

    use super::*;

    thread_local! {
        /// Writes of gathered log bytes made by this thread (SQLite calls its VFS on the
        /// caller's thread, so tests running beside each other do not mix their counts).
        static LOG_WRITES: Cell<usize> = const { Cell::new(0) };
        /// Which of this thread's writes to the log fail (as a full or failing disk would),
        /// counted from when they were armed, first to last; none when the first is 0.
        static FAIL: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
        /// Writes to the log since the failures were armed.
        static SINCE_ARMED: Cell<usize> = const { Cell::new(0) };
    }

    /// Count a write to the log; true when it is to fail.
    pub(super) fn count_log_write() -> bool {
        LOG_WRITES.with(|c| c.set(c.get() + 1));
        let (first, last) = FAIL.with(Cell::get);
        if first == 0 {
            return false;
        }
        let n = SINCE_ARMED.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        (first..=last).contains(&n)
    }

    /// Make this thread's writes to the log numbered `first..=last` from now fail.
    fn arm(first: usize, last: usize) {
        SINCE_ARMED.with(|c| c.set(0));
        FAIL.with(|f| f.set((first, last)));
    }

    /// Stop failing; how many writes to the log were made while armed.
    fn disarm() -> usize {
        FAIL.with(|f| f.set((0, 0)));
        SINCE_ARMED.with(Cell::get)
    }

    fn log_writes() -> usize {
        LOG_WRITES.with(Cell::get)
    }

    fn open_gathered(path: &std::path::Path, synchronous: &str) -> Connection {
        open_through_layer(path, synchronous, false, 1)
    }

    /// A connection through the layer in WAL mode, with `synchronous`, exclusive locking or
    /// not, and SQLite's `psow` (0: the file does not promise powersafe overwrite, as the
    /// phone's does not, and SQLite pads each commit to a sector).
    fn open_through_layer(
        path: &std::path::Path,
        synchronous: &str,
        exclusive: bool,
        psow: u8,
    ) -> Connection {
        let conn = Connection::open_with_flags_and_vfs(
            format!("file:{}?psow={psow}", path.display()),
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI,
            register().expect("registers"),
        )
        .expect("opens");
        if exclusive {
            conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))
                .expect("exclusive");
        }
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
             CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, body BLOB NOT NULL);"
        ))
        .expect("set up");
        conn
    }

    /// A row's bytes as [`insert`] writes them: its number, so that a row read back wrong is
    /// seen.
    fn body(n: i64, size: usize) -> Vec<u8> {
        vec![(n % 251) as u8; size]
    }

    /// Write rows `from..from + rows` with `body_of` each, in one transaction.
    fn write_rows(
        conn: &mut Connection,
        from: i64,
        rows: i64,
        body_of: impl Fn(i64) -> Vec<u8>,
    ) -> rusqlite::Result<()> {
        let tx = conn.transaction()?;
        for n in from..from + rows {
            tx.execute(
                "INSERT OR REPLACE INTO t (n, body) VALUES (?1, ?2)",
                (n, body_of(n)),
            )?;
        }
        tx.commit()
    }

    /// Insert `rows` rows of `size` bytes ([`body`]) in one transaction.
    fn insert(conn: &mut Connection, from: i64, rows: i64, size: usize) {
        write_rows(conn, from, rows, |n| body(n, size)).expect("commits");
    }

    /// Copy the log into the database (so that the next commit starts the log again over
    /// the frames already there); the frames the log held.
    fn checkpoint(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .expect("checkpoints")
    }

    /// SQLite's own check of the file, by a connection on its own VFS.
    fn integrity(path: &std::path::Path) -> String {
        Connection::open(path)
            .expect("opens")
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("checks")
    }

    /// The table's rows, in order.
    fn read_rows(conn: &Connection) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
        conn.prepare("SELECT n, body FROM t ORDER BY n")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// Every row is there, whole, read by a connection on SQLite's own VFS.
    fn check_rows(path: &std::path::Path, rows: i64, size: usize) {
        let plain = Connection::open(path).expect("opens");
        let got = read_rows(&plain).expect("reads");
        assert_eq!(got.len() as i64, rows);
        for (n, got) in got {
            assert_eq!(got, body(n, size), "row {n}");
        }
    }

    #[test]
    fn a_commit_writes_its_log_frames_as_one_write_and_reads_back_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.sqlite3");
        let mut conn = open_gathered(&path, "FULL");
        let before = log_writes();
        insert(&mut conn, 0, 40, 3000);
        let writes = log_writes() - before;
        let frames = checkpoint(&conn);
        assert!(frames >= 30, "the commit wrote {frames} frames");
        // SQLite's own way is two writes a frame; gathered, the commit's bytes go in writes
        // of MAX_WRITE.
        let page: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        let bytes = 32 + frames * (24 + page);
        let fewest = (bytes as usize).div_ceil(MAX_WRITE);
        assert!(
            (fewest..=fewest + 1).contains(&writes),
            "{writes} writes for {frames} frames ({bytes} bytes)"
        );
        insert(&mut conn, 40, 10, 3000);
        drop(conn);
        check_rows(&path, 50, 3000);
    }

    #[test]
    fn a_large_commit_is_written_a_megabyte_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.sqlite3");
        let mut conn = open_gathered(&path, "FULL");
        conn.execute_batch("PRAGMA cache_size = -65536")
            .expect("cache");
        let before = log_writes();
        insert(&mut conn, 0, 100, 40_000);
        let writes = log_writes() - before;
        // About 4 MB of log, written as it passes a megabyte, each time in writes of
        // MAX_WRITE.
        let frames = checkpoint(&conn);
        assert!(frames > 400, "{frames} frames");
        let most = (4usize << 20).div_ceil(MAX_WRITE) + 8;
        assert!(
            writes * 8 < frames as usize && writes <= most,
            "{writes} writes for {frames} frames"
        );
        drop(conn);
        check_rows(&path, 100, 40_000);
    }

    /// Without a flush at each commit (`synchronous = NORMAL`), another connection learns of
    /// new frames through the log's index in shared memory only: they must be in the file by
    /// then.
    #[test]
    fn another_connection_reads_a_commit_not_flushed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.sqlite3");
        let mut conn = open_gathered(&path, "NORMAL");
        insert(&mut conn, 0, 5, 3000);
        let other = Connection::open(&path).expect("opens");
        let count = |c: &Connection| -> i64 {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .expect("counts")
        };
        assert_eq!(count(&other), 5);
        for round in 1..=5 {
            insert(&mut conn, round * 100, 20, 3000);
            assert_eq!(count(&other), 5 + 20 * round);
            let sum: i64 = other
                .query_row("SELECT sum(length(body)) FROM t", [], |r| r.get(0))
                .expect("sums");
            assert_eq!(sum, (5 + 20 * round) * 3000);
        }
        drop(conn);
        drop(other);
        let plain = Connection::open(&path).expect("opens");
        assert_eq!(count(&plain), 105);
    }

    /// A commit whose log frames cannot be written fails, and leaves nothing of it for any
    /// connection to read, whatever `synchronous` is; the connection then writes again. With
    /// `NORMAL` no flush comes before SQLite publishes a commit's frames in the log's index:
    /// a review found such a commit published though its frames were never written (other
    /// connections then failed to read, or read a malformed database after the log restarted
    /// over older frames).
    #[test]
    fn a_commit_whose_frames_cannot_be_written_fails_and_hides_nothing() {
        for (synchronous, restart) in [
            ("FULL", false),
            ("FULL", true),
            ("NORMAL", false),
            ("NORMAL", true),
        ] {
            let case = format!("synchronous = {synchronous}, log started again: {restart}");
            let synchronous = synchronous.to_string();
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("t.sqlite3");
            let mut conn = open_gathered(&path, &synchronous);
            insert(&mut conn, 0, 5, 3000);
            if restart {
                // The next commit also flushes the log's new header first.
                checkpoint(&conn);
            }
            let other = Connection::open(&path).expect("opens");
            let rows = |c: &Connection| -> rusqlite::Result<(i64, i64)> {
                c.query_row("SELECT count(*), sum(length(body)) FROM t", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
            };
            assert_eq!(rows(&other).expect("reads"), (5, 15_000));
            arm(1, usize::MAX);
            let failed = write_rows(&mut conn, 100, 20, |_| vec![1u8; 3000]);
            disarm();
            assert!(
                failed.is_err(),
                "{case}: a commit whose frames were lost succeeded"
            );
            assert_eq!(
                rows(&other).expect("another connection reads"),
                (5, 15_000),
                "{case}"
            );
            assert_eq!(rows(&conn).expect("reads"), (5, 15_000), "{case}");
            insert(&mut conn, 200, 10, 3000);
            assert_eq!(rows(&other).expect("reads"), (15, 45_000), "{case}");
            drop(conn);
            drop(other);
            assert_eq!(integrity(&path), "ok", "{case}");
            let plain = Connection::open(&path).expect("opens");
            assert_eq!(rows(&plain).expect("reads"), (15, 45_000), "{case}");
        }
    }

    /// Each write a commit makes to the log, failing alone in turn (a transient fault),
    /// leaves the commit whole or absent: absent when the commit reports failure, whole when
    /// it reports success, for this connection, for another, and after reopening. With the
    /// phone's file (no powersafe overwrite, so SQLite pads each commit to a sector and
    /// writes the padding's tail after its flush) a review found that tail, written late,
    /// left a commit published with part of a page never written when its write failed.
    #[test]
    fn each_write_of_a_commit_failing_in_turn_leaves_it_whole_or_absent() {
        let new = |n: i64| vec![250 - (n % 251) as u8; 3000];
        for (synchronous, exclusive, psow) in [
            ("FULL", true, 0),
            ("FULL", false, 0),
            ("FULL", false, 1),
            ("NORMAL", true, 0),
            ("NORMAL", false, 1),
        ] {
            for k in 1.. {
                let case = format!(
                    "synchronous = {synchronous}, exclusive: {exclusive}, psow={psow}, write {k} fails"
                );
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("t.sqlite3");
                let mut conn = open_through_layer(&path, synchronous, exclusive, psow);
                insert(&mut conn, 0, 30, 3000);
                // The next commit starts the log again over older frames.
                checkpoint(&conn);
                let other = (!exclusive).then(|| Connection::open(&path).expect("opens"));
                arm(k, k);
                let committed = write_rows(&mut conn, 0, 40, new).is_ok();
                let writes = disarm();
                let expect = |c: &Connection, whom: &str| {
                    let rows = read_rows(c).unwrap_or_else(|e| panic!("{case}: {whom} reads: {e}"));
                    let want: Vec<(i64, Vec<u8>)> = if committed {
                        (0..40).map(|n| (n, new(n))).collect()
                    } else {
                        (0..30).map(|n| (n, body(n, 3000))).collect()
                    };
                    assert!(
                        rows == want,
                        "{case}: {whom} reads {} rows, not the commit {} (reported {})",
                        rows.len(),
                        if committed { "whole" } else { "absent" },
                        if committed { "done" } else { "failed" },
                    );
                };
                expect(&conn, "the writer");
                if let Some(other) = &other {
                    expect(other, "another connection");
                }
                // The writer goes on writing.
                write_rows(&mut conn, 1000, 1, |_| vec![0])
                    .unwrap_or_else(|e| panic!("{case}: the writer writes again: {e}"));
                conn.execute("DELETE FROM t WHERE n = 1000", [])
                    .expect("deletes");
                drop(other);
                drop(conn);
                assert_eq!(integrity(&path), "ok", "{case}");
                expect(
                    &Connection::open(&path).expect("opens"),
                    "the database reopened",
                );
                if writes < k {
                    assert!(committed, "{case}: nothing failed, yet the commit did");
                    break;
                }
                assert!(
                    k < 50,
                    "{case}: a commit of 40 rows made more than 50 writes"
                );
            }
        }
    }
}
