//! The shift document.
//!
//! ```text
//! ROOT { type: "shift", shape: 1, id, created_at, updated_at,
//!        place, canvasser, campaign_id?, started_at, ended_at? }
//! ```

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};

use super::{DocKind, Fields, init_root, put_opt, touch};
use crate::error::Result;
use crate::model::Shift;

/// Write a new shift (open: no end yet).
pub fn create(doc: &mut AutoCommit, s: &Shift) -> Result<()> {
    init_root(doc, DocKind::Shift, &s.id, &s.started_at)?;
    doc.put(ROOT, "place", s.place.trim())?;
    doc.put(ROOT, "canvasser", s.canvasser.as_str())?;
    put_opt(doc, &ROOT, "campaign_id", s.campaign_id.as_deref())?;
    doc.put(ROOT, "started_at", s.started_at.as_str())?;
    Ok(())
}

/// End the shift at `now`.
pub fn end(doc: &mut AutoCommit, now: &str) -> Result<()> {
    doc.put(ROOT, "ended_at", now)?;
    touch(doc, now)
}

/// Read a shift.
pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<Shift> {
    let f = Fields::new(doc, ROOT, doc_id)?;
    let s = Shift {
        id: f.own_id()?,
        campaign_id: f.opt_str("campaign_id")?,
        place: f.str("place")?,
        canvasser: f.str("canvasser")?,
        started_at: f.str("started_at")?,
        ended_at: f.opt_str("ended_at")?,
        conflicts: Default::default(),
    };
    Ok(Shift {
        conflicts: f.conflicts,
        ..s
    })
}
