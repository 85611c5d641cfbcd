//! The campaign document.
//!
//! ```text
//! ROOT { type: "campaign", shape: 1, id, created_at, updated_at,
//!        name, issue?, targets: { label: number } }
//! ```

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};

use super::{DocKind, Fields, ensure_map, init_root, put_opt, touch};
use crate::error::Result;
use crate::model::{Campaign, CampaignPatch, NewCampaign, ValidationError};

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

/// Apply an edit (checked by the store) to the campaign and touch the document. Dropping a
/// target the campaign does not have is refused with the labels it has.
pub fn edit(doc: &mut AutoCommit, patch: &CampaignPatch, now: &str) -> Result<()> {
    if let Some(name) = &patch.name {
        doc.put(ROOT, "name", name.trim())?;
    }
    put_opt(doc, &ROOT, "issue", patch.issue.as_deref())?;
    let targets = ensure_map(doc, &ROOT, "targets")?;
    let have: Vec<String> = doc.keys(&targets).collect();
    for label in &patch.drop_targets {
        let Some(key) = have
            .iter()
            .find(|k| k.trim().eq_ignore_ascii_case(label.trim()))
        else {
            return Err(ValidationError::NoSuchTarget {
                label: label.clone(),
                targets: have.join(", "),
            }
            .into());
        };
        doc.delete(&targets, key.as_str())?;
    }
    for (label, n) in &patch.set_targets {
        // Renumbering keeps the label as it was first written.
        let key = have
            .iter()
            .find(|k| k.trim().eq_ignore_ascii_case(label.trim()))
            .cloned()
            .unwrap_or_else(|| label.trim().to_string());
        doc.put(&targets, key.as_str(), *n)?;
    }
    touch(doc, now)
}

/// Read a campaign (its declared fields, see [`Campaign`]).
pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<Campaign> {
    let root = Fields::new(doc, ROOT, doc_id)?;
    super::record::read(Some(&root), &root, doc_id)
}
