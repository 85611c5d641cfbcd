//! The shift document.
//!
//! ```text
//! ROOT { type: "shift", shape: 1, id, created_at, updated_at,
//!        place, canvasser, campaign_id?, walklist_id?, started_at, ended_at? }
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
    put_opt(doc, &ROOT, "walklist_id", s.walklist_id.as_deref())?;
    doc.put(ROOT, "started_at", s.started_at.as_str())?;
    Ok(())
}

/// End the shift at `now`.
pub fn end(doc: &mut AutoCommit, now: &str) -> Result<()> {
    doc.put(ROOT, "ended_at", now)?;
    touch(doc, now)
}

/// Read a shift (its declared fields, see [`Shift`]).
pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<Shift> {
    let root = Fields::new(doc, ROOT, doc_id)?;
    super::record::read(Some(&root), &root, doc_id)
}
