//! The campaign document.
//!
//! ```text
//! ROOT { type: "campaign", shape: 1, id, created_at, updated_at,
//!        name, issue?, targets: { label: number } }
//! ```

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};

use super::{DocKind, Fields, ensure_map, init_root, put_opt};
use crate::error::Result;
use crate::model::{Campaign, NewCampaign};

/// Write a new campaign.
pub fn create(doc: &mut AutoCommit, id: &str, now: &str, new: &NewCampaign) -> Result<()> {
    init_root(doc, DocKind::Campaign, id, now)?;
    doc.put(ROOT, "name", new.name.trim())?;
    put_opt(doc, &ROOT, "issue", new.issue.as_deref())?;
    let targets = ensure_map(doc, &ROOT, "targets")?;
    for (label, n) in &new.targets {
        doc.put(&targets, label.as_str(), *n)?;
    }
    Ok(())
}

/// Read a campaign.
pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<Campaign> {
    let f = Fields::new(doc, ROOT, doc_id)?;
    let c = Campaign {
        id: f.own_id()?,
        name: f.str("name")?,
        issue: f.opt_str("issue")?,
        targets: f.int_map("targets"),
        created_at: f.str("created_at")?,
        conflicts: Default::default(),
    };
    Ok(Campaign {
        conflicts: f.conflicts,
        ..c
    })
}
