//! Other workers that take part of a pulled page's pure work before the page is taken in
//! (opening its blobs, checking their signatures, reading its snapshots:
//! [`crate::store::elsewhere`]): the phone's
//! helper workers, which the store worker starts (`browser::helpers` in the app). Native builds
//! do that work on threads inside the store ([`crate::store::worked_ahead`]) and have none
//! ([`NoHelpers`]).

use zeroize::Zeroizing;

/// Workers that can each do a job of [`crate::store::elsewhere::work`].
#[allow(async_fn_in_trait)]
pub trait Helpers {
    /// How many jobs a page is worth cutting into now: one for the calling worker and one for
    /// each helper ready to take one (1: no helper is, and nothing is cut). Asked only for a
    /// page large enough to cut, so helpers may be started at the first such call.
    fn parts(&self) -> usize;
    /// Do `jobs` at once, the first in the calling worker: their answers in the same order,
    /// `None` for a job not done (its blobs are then opened and checked as they are judged).
    async fn work(&self, jobs: Vec<Zeroizing<Vec<u8>>>) -> Vec<Option<Vec<u8>>>;
}

/// No helpers: every page's work is done by the store as it takes the page in.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHelpers;

impl Helpers for NoHelpers {
    fn parts(&self) -> usize {
        1
    }

    async fn work(&self, jobs: Vec<Zeroizing<Vec<u8>>>) -> Vec<Option<Vec<u8>>> {
        jobs.iter().map(|_| None).collect()
    }
}
