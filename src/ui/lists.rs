//! What the lists keep while the app is open: the People list's search, filters and length,
//! and the Due list's "Mine" and lengths. A canvasser who narrowed a list, opened a person from
//! it and came back finds the list as it was left, not reset to everyone.
//! The People tab tapped from another screen starts a new search (the filters stay: they say
//! so, "Filters (1 on)"); adding a person shows everyone again (back from their file finds
//! them in the list); someone else taking the device starts every list afresh. Held by the
//! root component, so they last as long as the app is open; a reload starts them afresh.

use dioxus::prelude::*;
use groundwork::store::PeopleFilter;

/// How many rows a list shows at first, and how many more each "Show more" adds.
pub const PAGE: usize = 50;

/// The lists' state, shared through the context (see [`use_kept_lists`]).
#[derive(Clone, Copy)]
pub struct KeptLists {
    /// The People list's search box.
    pub query: Signal<String>,
    /// The People list's filters (its `query` and `follow_up_by` are set at each read).
    pub filter: Signal<PeopleFilter>,
    /// The People list's "Follow-up due" filter.
    pub follow_up_due: Signal<bool>,
    /// How many people the list shows.
    pub limit: Signal<usize>,
    /// The Due list shows what this device's canvasser holds, not everyone's.
    pub mine: Signal<bool>,
    /// How many commitments each of the Due list's three parts shows.
    pub due_limits: Signal<[usize; 3]>,
    /// How many follow-ups the Due list shows.
    pub follow_ups_limit: Signal<usize>,
}

impl KeptLists {
    /// A new search: the box empty, the list at its first page (the filters stay).
    pub fn new_search(mut self) {
        self.query.set(String::new());
        self.limit.set(PAGE);
    }

    /// The People list unnarrowed: no search, no filter (after adding a person, whom it then
    /// shows first).
    pub fn everyone(mut self) {
        self.new_search();
        self.filter.set(PeopleFilter::default());
        self.follow_up_due.set(false);
    }

    /// Every list as at the app's start (someone else now uses the device).
    pub fn start_afresh(mut self) {
        self.everyone();
        self.mine.set(false);
        self.due_limits.set([PAGE; 3]);
        self.follow_ups_limit.set(PAGE);
    }
}

/// Make the lists' state and offer it to every screen (the root component calls this once).
pub fn use_kept_lists() -> KeptLists {
    let query = use_signal(String::new);
    let filter = use_signal(PeopleFilter::default);
    let follow_up_due = use_signal(|| false);
    let limit = use_signal(|| PAGE);
    let mine = use_signal(|| false);
    let due_limits = use_signal(|| [PAGE; 3]);
    let follow_ups_limit = use_signal(|| PAGE);
    use_context_provider(|| KeptLists {
        query,
        filter,
        follow_up_due,
        limit,
        mine,
        due_limits,
        follow_ups_limit,
    })
}
