//! Other workers that take part of a pulled page's pure work before the page is taken in
//! (opening its blobs, checking their signatures and reading its snapshots,
//! [`crate::store::elsewhere`]), or all of it for the next page while the calling worker takes
//! one in (see `engine`'s pages asked for ahead): the phone's
//! helper workers, which the store worker starts (`browser::helpers` in the app). Native builds
//! do that work on threads inside the store ([`crate::store::worked_ahead`]) and have none
//! ([`NoHelpers`]).

use zeroize::Zeroizing;

/// Workers that can each do a job of [`crate::store::elsewhere::work`].
#[allow(async_fn_in_trait)]
pub trait Helpers {
    /// Jobs posted to the helpers alone ([`Helpers::post`]), whose answers are still to come.
    type Posted;
    /// How many jobs a page is worth cutting into now: one for the calling worker and one for
    /// each helper ready to take one (1: no helper is, and nothing is cut). Asked only for a
    /// page large enough to cut, so helpers may be started at the first such call.
    fn parts(&self) -> usize;
    /// Do `jobs` at once, the first in the calling worker: their answers in the same order,
    /// `None` for a job not done (its blobs are then opened and checked as they are judged).
    async fn work(&self, jobs: Vec<Zeroizing<Vec<u8>>>) -> Vec<Option<Vec<u8>>>;
    /// How many helpers are ready now to take a whole page's jobs among them while the calling
    /// worker does something else (takes the page before in): 0 when none are, or started.
    fn ready(&self) -> usize;
    /// Post `jobs` (at most [`Helpers::ready`] of them) to the helpers, none done by the
    /// calling worker; their answers are waited for with [`Helpers::answers`].
    fn post(&self, jobs: Vec<Zeroizing<Vec<u8>>>) -> Self::Posted;
    /// The answers to jobs posted, in their order (`None` for a job not done).
    async fn answers(&self, posted: Self::Posted) -> Vec<Option<Vec<u8>>>;
}

/// No helpers: every page's work is done by the store as it takes the page in.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHelpers;

impl Helpers for NoHelpers {
    /// How many jobs were posted (none is done).
    type Posted = usize;

    fn parts(&self) -> usize {
        1
    }

    async fn work(&self, jobs: Vec<Zeroizing<Vec<u8>>>) -> Vec<Option<Vec<u8>>> {
        jobs.iter().map(|_| None).collect()
    }

    fn ready(&self) -> usize {
        0
    }

    fn post(&self, jobs: Vec<Zeroizing<Vec<u8>>>) -> usize {
        jobs.len()
    }

    async fn answers(&self, posted: usize) -> Vec<Option<Vec<u8>>> {
        vec![None; posted]
    }
}
