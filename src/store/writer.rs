//! Every write to the store: each method changes one document, stores the change, queues it
//! for the relay and rebuilds the document's projections, inside the caller's transaction.

use automerge::{ActorId, AutoCommit};
use chrono::{DateTime, Duration, Local, Utc};
use rusqlite::{Connection, OptionalExtension};

use super::documents::{self, MergeReport};
use super::elsewhere::DoneElsewhere;
use super::intake::{self, Incoming, IntakeReport};
use super::{CANVASSER_KEY, DEFAULT_CANVASSER, meta_delete, meta_get, meta_set, project};
use crate::docs::{self, DocKind};
use crate::error::{Error, Result};
use crate::fields::{Change, Value};
use crate::ids::{Source, parse_id};
use crate::model::{
    CampaignPatch, Commitment, CommitmentField, CommitmentPatch, CommitmentStatus, Conversation,
    ConversationPatch, NewCampaign, NewCommitment, NewConversation, NewPerson, PersonField,
    PersonPatch, Shift, ValidationError, format_time, normalise_tag, required,
};

/// Writes inside one open transaction. Get one from [`super::Store::batch`].
pub struct Writer<'t> {
    conn: &'t Connection,
    actor: &'t ActorId,
    source: &'t mut Source,
    kept: &'t mut documents::KeptDocs,
    keys: &'t super::keys_cache::KeysCache,
}

fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = tags.iter().filter_map(|t| normalise_tag(t)).collect();
    out.sort();
    out.dedup();
    out
}

fn clean_opt(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// What a restore puts back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RestoreTarget {
    /// The person's details, and every conversation and commitment the file had then.
    File,
    /// One conversation.
    Conversation(String),
    /// One commitment.
    Commitment(String),
}

/// Whether two readings of a person file hold the same records (ignoring `updated_at`).
fn same_content(a: &crate::model::PersonFile, b: &crate::model::PersonFile) -> bool {
    let strip = |f: &crate::model::PersonFile| {
        let mut f = f.clone();
        f.person.updated_at = String::new();
        f
    };
    strip(a) == strip(b)
}

/// The default follow-up: 48 hours after the conversation, as a local calendar date.
pub fn default_follow_up(at: DateTime<Utc>) -> chrono::NaiveDate {
    // Typed times end in 9998 (`rules::parse_time`); the day itself for a time at chrono's end.
    at.checked_add_signed(Duration::hours(48))
        .unwrap_or(at)
        .with_timezone(&Local)
        .date_naive()
}

impl<'t> Writer<'t> {
    pub(super) fn new(
        conn: &'t Connection,
        actor: &'t ActorId,
        source: &'t mut Source,
        kept: &'t mut documents::KeptDocs,
        keys: &'t super::keys_cache::KeysCache,
    ) -> Self {
        Writer {
            conn,
            actor,
            source,
            kept,
            keys,
        }
    }

    /// Load document `id` of `kind` as [`Writer::load`] does, taking it from those kept
    /// loaded when it is there and still what the store holds (see [`documents::Kept`]).
    pub(super) fn load_kept(
        &mut self,
        id: &str,
        kind: DocKind,
        what: &'static str,
    ) -> Result<AutoCommit> {
        let Some(kept) = self.kept.take(id) else {
            return self.load(id, kind, what);
        };
        match documents::raw_bytes(self.conn, id)? {
            Some(saved) if kept.is(kind, &saved) => Ok(kept.doc),
            _ => self.load(id, kind, what),
        }
    }

    /// Keep `doc` (a `kind`), just saved as `saved`, loaded for the next write to it.
    pub(super) fn keep(&mut self, doc_id: &str, kind: DocKind, doc: AutoCommit, saved: Vec<u8>) {
        self.kept.put(documents::Kept {
            doc_id: doc_id.to_string(),
            kind,
            doc,
            saved,
        });
    }

    pub(super) fn now(&mut self) -> DateTime<Utc> {
        self.source.now()
    }

    /// A new id for a record made at `at`.
    pub(super) fn new_id(&mut self, at: DateTime<Utc>) -> String {
        self.source.new_id(at)
    }

    /// The open transaction.
    pub(super) fn conn(&self) -> &Connection {
        self.conn
    }

    /// The author of this device's changes.
    pub(super) fn actor(&self) -> &ActorId {
        self.actor
    }

    /// Load an existing document of `kind`, or fail with "no such <what>".
    pub(super) fn load(&self, id: &str, kind: DocKind, what: &'static str) -> Result<AutoCommit> {
        match documents::load(self.conn, id, self.actor)? {
            Some(l) if l.kind == Some(kind) => Ok(l.doc),
            // A form left open on a person erased meanwhile says so, not "no such person".
            None if self
                .conn
                .prepare_cached("SELECT 1 FROM erased WHERE doc_id = ?1")?
                .exists([id])? =>
            {
                Err(Error::Erased { id: id.to_string() })
            }
            _ => Err(Error::NotFound {
                kind: what,
                id: id.to_string(),
            }),
        }
    }

    /// Store the edits made to `doc` and rebuild its projections; the document stays loaded
    /// for the next write to it.
    pub(super) fn finish(
        &mut self,
        id: &str,
        kind: DocKind,
        mut doc: AutoCommit,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(saved) = documents::save_local_change(self.conn, id, kind, &mut doc, now)? {
            project::project(self.conn, id, Some(kind), &doc)?;
            self.keep(id, kind, doc, saved);
        }
        Ok(())
    }

    /// Store the edits made to person file `id`, which only added or changed the records
    /// `written` and touched the file, and project them ([`project::person_written`]); the
    /// file stays loaded for the next write to it.
    fn finish_written(
        &mut self,
        id: &str,
        mut doc: AutoCommit,
        now: DateTime<Utc>,
        written: project::Written<'_>,
    ) -> Result<()> {
        if let Some(saved) =
            documents::save_local_change(self.conn, id, DocKind::Person, &mut doc, now)?
        {
            project::person_written(self.conn, id, &doc, written)?;
            self.keep(id, DocKind::Person, doc, saved);
        }
        Ok(())
    }

    /// Store the edits made to person file `id`, which only added the new records
    /// `conversations` and `commitments` and touched the file at `now`, and project them from
    /// the records themselves ([`project::person_made`]); the file stays loaded for the next
    /// write to it.
    fn finish_made(
        &mut self,
        id: &str,
        mut doc: AutoCommit,
        now: DateTime<Utc>,
        conversations: &[Conversation],
        commitments: &[Commitment],
    ) -> Result<()> {
        if let Some(saved) =
            documents::save_local_change(self.conn, id, DocKind::Person, &mut doc, now)?
        {
            let stamp = format_time(now);
            project::person_made(self.conn, id, &doc, &stamp, conversations, commitments)?;
            self.keep(id, DocKind::Person, doc, saved);
        }
        Ok(())
    }

    fn exists(&self, table: &str, id: &str) -> Result<bool> {
        let sql = format!("SELECT 1 FROM {table} WHERE id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn require(&self, table: &str, what: &'static str, id: &str) -> Result<String> {
        let id = parse_id(id)?;
        if self.exists(table, &id)? {
            Ok(id)
        } else {
            Err(Error::NotFound { kind: what, id })
        }
    }

    pub(super) fn canvasser(&self, given: Option<&str>) -> Result<String> {
        match given.map(str::trim).filter(|s| !s.is_empty()) {
            Some(c) => Ok(c.to_string()),
            None => Ok(meta_get(self.conn, CANVASSER_KEY)?
                .unwrap_or_else(|| DEFAULT_CANVASSER.to_string())),
        }
    }

    /// Add a person; returns their id.
    pub fn add_person(&mut self, new: NewPerson) -> Result<String> {
        let mut new = new.checked()?;
        if new.put_of(PersonField::Name).is_none() {
            return Err(ValidationError::Empty { field: "name" }.into());
        }
        // A new person's flag fields are false unless set; nothing else needs a value.
        new.changes
            .retain(|(_, c)| !matches!(c, Change::Put(Value::Empty)));
        let now = self.now();
        let id = self.source.new_id(now);
        let mut doc = docs::new_doc(self.actor);
        docs::person::create(&mut doc, &id, &format_time(now), &new)?;
        self.finish(&id, DocKind::Person, doc, now)?;
        Ok(id)
    }

    /// Edit a person's details.
    pub fn edit_person(&mut self, id: &str, patch: PersonPatch) -> Result<()> {
        let id = parse_id(id)?;
        let patch = patch.checked()?;
        let mut doc = self.load_kept(&id, DocKind::Person, "person")?;
        let now = self.now();
        docs::person::apply_patch(&mut doc, &id, &patch, &format_time(now))?;
        self.finish(&id, DocKind::Person, doc, now)
    }

    /// Record a conversation with the commitments made in it, as one change.
    pub fn record_conversation(
        &mut self,
        new: NewConversation,
        commitments: Vec<NewCommitment>,
    ) -> Result<(String, Vec<String>)> {
        let person_id = parse_id(&new.person_id)?;
        let shift_id = match new.shift_id.as_deref() {
            Some(s) => Some(self.require("shifts", "shift", s)?),
            None => meta_get(self.conn, "current_shift")?,
        };
        let campaigns = commitments
            .iter()
            .map(|c| {
                c.campaign_id
                    .as_deref()
                    .map(|id| self.require("campaigns", "campaign", id))
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        let whats = commitments
            .iter()
            .map(|c| required("commitment", &c.what))
            .collect::<Result<Vec<_>, ValidationError>>()?;
        let mut doc = self.load_kept(&person_id, DocKind::Person, "person")?;
        let now = self.now();
        let at = new.at.unwrap_or(now);
        let stamp = format_time(now);
        let conversation = Conversation {
            id: self.source.new_id(now),
            person_id: person_id.clone(),
            at: format_time(at),
            kind: new.kind,
            canvasser: self.canvasser(new.canvasser.as_deref())?,
            shift_id,
            issues: clean_tags(&new.issues),
            story: clean_opt(new.story),
            notes: clean_opt(new.notes),
            engagement: new.engagement,
            follow_up: new.follow_up.unwrap_or_else(|| Some(default_follow_up(at))),
            created_at: stamp.clone(),
            conflicts: Default::default(),
        };
        let mut made = Vec::new();
        for ((c, what), campaign_id) in commitments.into_iter().zip(whats).zip(campaigns) {
            let target = self.target_of(campaign_id.as_deref(), c.target.as_deref())?;
            let commitment = Commitment {
                id: self.source.new_id(now),
                person_id: person_id.clone(),
                conversation_id: Some(conversation.id.clone()),
                campaign_id,
                what,
                due: c.due,
                status: CommitmentStatus::Open,
                created_at: stamp.clone(),
                status_at: stamp.clone(),
                target,
                conflicts: Default::default(),
            };
            made.push(commitment);
        }
        docs::person::add_conversation(&mut doc, &conversation, &made)?;
        self.finish_made(
            &person_id,
            doc,
            now,
            std::slice::from_ref(&conversation),
            &made,
        )?;
        Ok((conversation.id, made.into_iter().map(|c| c.id).collect()))
    }

    /// Forget the draft under `key` (in the same transaction as what it was the draft of).
    pub fn delete_draft(&mut self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM drafts WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }

    /// The id of what a form's save made, if a save with the form's `save_key` was made
    /// already (see [`Writer::saved`]).
    pub fn saved_as(&mut self, save_key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT body FROM drafts WHERE key = ?1")?
            .query_row(
                [format!("{}{save_key}", super::drafts::SAVED_PREFIX)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Note that the form saved under `save_key` made `id`, in the save's transaction: the
    /// same form saved again (its draft brought back by the page after a reload in the moment
    /// after the save) makes nothing more. Notes older than 30 days are forgotten when the
    /// notebook is idle.
    pub fn saved(&mut self, save_key: &str, id: &str) -> Result<()> {
        let stamp = format_time(self.now());
        // Notes older than 30 days go when the notebook is idle (`Store::prune_saved_notes`),
        // not here: finding them reads every note, a cost that grew with each save.
        self.conn
            .prepare_cached(
                "INSERT INTO drafts (key, body, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )?
            .execute((
                format!("{}{save_key}", super::drafts::SAVED_PREFIX),
                id,
                stamp,
            ))?;
        Ok(())
    }

    /// Add a commitment to a person, optionally tied to one of their conversations.
    pub fn add_commitment(
        &mut self,
        person_id: &str,
        conversation_id: Option<&str>,
        new: NewCommitment,
    ) -> Result<String> {
        let person_id = parse_id(person_id)?;
        let what = required("commitment", &new.what)?;
        let campaign_id = new
            .campaign_id
            .as_deref()
            .map(|id| self.require("campaigns", "campaign", id))
            .transpose()?;
        let conversation_id = match conversation_id {
            None => None,
            Some(c) => {
                let c = parse_id(c)?;
                // This person's conversation, or else (a copy's id may be in several files)
                // any other person's.
                let owner: Option<String> = self
                    .conn
                    .prepare_cached(
                        "SELECT person_id FROM conversations WHERE id = ?1
                         ORDER BY person_id = ?2 DESC LIMIT 1",
                    )?
                    .query_row([&c, &person_id], |r| r.get(0))
                    .optional()?;
                match owner {
                    Some(p) if p == person_id => Some(c),
                    Some(_) => {
                        return Err(ValidationError::OtherPersonsConversation(c).into());
                    }
                    None => {
                        return Err(Error::NotFound {
                            kind: "conversation",
                            id: c,
                        });
                    }
                }
            }
        };
        let target = self.target_of(campaign_id.as_deref(), new.target.as_deref())?;
        let mut doc = self.load_kept(&person_id, DocKind::Person, "person")?;
        let now = self.now();
        let stamp = format_time(now);
        let commitment = Commitment {
            id: self.source.new_id(now),
            person_id: person_id.clone(),
            conversation_id,
            campaign_id,
            what,
            due: new.due,
            status: CommitmentStatus::Open,
            created_at: stamp.clone(),
            status_at: stamp,
            target,
            conflicts: Default::default(),
        };
        docs::person::add_commitment(&mut doc, &commitment)?;
        self.finish_made(&person_id, doc, now, &[], std::slice::from_ref(&commitment))?;
        Ok(commitment.id)
    }

    /// The person whose file holds record `id` of projection `table`: `person` when given
    /// (and it holds it), or else the only one. Several files hold an id where a member copied
    /// a record into another file under the same id (rows are keyed by person and id, schema
    /// 18): an edit by id alone is then refused as ambiguous, never sent to a file the person
    /// who typed it did not mean (cancelling a bogus copy must not cancel the original).
    fn owner_of(
        &self,
        table: &str,
        kind: &'static str,
        id: &str,
        person: Option<&str>,
    ) -> Result<String> {
        let sql = format!(
            "SELECT person_id FROM {table} WHERE id = ?1 AND (?2 IS NULL OR person_id = ?2)
             ORDER BY person_id"
        );
        let person = person.map(parse_id).transpose()?;
        let owners = self
            .conn
            .prepare_cached(&sql)?
            .query_map((id, &person), |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        super::queries::only(kind, id, owners, "person", String::clone)
    }

    /// The target label `given` as campaign `campaign_id` spells it (trimmed, as the person's
    /// file keeps it), or an error saying which targets there are. No label, no target.
    fn target_of(&self, campaign_id: Option<&str>, given: Option<&str>) -> Result<Option<String>> {
        let Some(label) = given.map(str::trim).filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        let Some(campaign_id) = campaign_id else {
            return Err(ValidationError::TargetWithoutCampaign(label.to_string()).into());
        };
        let targets = super::queries::campaign(self.conn, campaign_id)?.targets;
        targets
            .keys()
            .find(|t| t.trim().eq_ignore_ascii_case(label))
            // As the file keeps it: trimmed (a campaign's label may carry spaces).
            .map(|t| Some(t.trim().to_string()))
            .ok_or_else(|| {
                ValidationError::NoSuchTarget {
                    label: label.to_string(),
                    targets: targets.keys().cloned().collect::<Vec<_>>().join(", "),
                }
                .into()
            })
    }

    /// Change any editable field of a conversation: when it happened, kind, canvasser,
    /// issues, engagement, follow-up (an empty one clears it), story, notes. Also how a
    /// conflict on one of them is settled: write the chosen value.
    /// `person`: the file it is in, when known (see `Writer::owner_of`).
    pub fn edit_conversation(
        &mut self,
        person: Option<&str>,
        id: &str,
        patch: ConversationPatch,
    ) -> Result<()> {
        let id = parse_id(id)?;
        let patch = patch.checked()?;
        let person_id = self.owner_of("conversations", "conversation", &id, person)?;
        let mut doc = self.load_kept(&person_id, DocKind::Person, "person")?;
        let now = self.now();
        docs::person::edit_conversation(&mut doc, &id, &patch, &format_time(now))?;
        self.finish_written(&person_id, doc, now, project::Written::conversation(&id))
    }

    /// Change a commitment's words, due date (an empty one clears it), campaign or target
    /// (also how a conflict on one of them is settled: write the chosen value). A campaign
    /// must exist; a target must be one of the commitment's campaign's targets.
    /// `person`: the file it is in, when known (see `Writer::owner_of`).
    pub fn edit_commitment(
        &mut self,
        person: Option<&str>,
        id: &str,
        patch: CommitmentPatch,
    ) -> Result<()> {
        let id = parse_id(id)?;
        let mut patch = patch.checked()?;
        let person_id = self.owner_of("commitments", "commitment", &id, person)?;
        let current = super::queries::commitment(self.conn, &id, Some(&person_id))?;
        let campaign = match patch.put_of(CommitmentField::CampaignId).cloned() {
            Some(Value::Text(c)) => {
                let c = self.require("campaigns", "campaign", &c)?;
                patch = patch.put(CommitmentField::CampaignId, c.clone());
                Some(c)
            }
            Some(_) => None,
            None => current.campaign_id.clone(),
        };
        match patch.put_of(CommitmentField::Target).cloned() {
            Some(Value::Text(t)) => {
                let label = self.target_of(campaign.as_deref(), Some(&t))?;
                patch = patch.put_some(CommitmentField::Target, label);
            }
            // A commitment leaving its campaign leaves its target too.
            None if campaign.is_none() && current.target.is_some() => {
                patch = patch.put(CommitmentField::Target, Value::Empty);
            }
            _ => {}
        }
        let mut doc = self.load_kept(&person_id, DocKind::Person, "person")?;
        let now = self.now();
        docs::person::edit_commitment(&mut doc, &id, &patch, &format_time(now))?;
        self.finish_written(&person_id, doc, now, project::Written::commitment(&id))
    }

    /// Mark a commitment open, kept, broken or cancelled.
    /// `person`: the file it is in, when known (see `Writer::owner_of`).
    pub fn set_commitment_status(
        &mut self,
        person: Option<&str>,
        id: &str,
        status: CommitmentStatus,
    ) -> Result<()> {
        let id = parse_id(id)?;
        let not_found = || Error::NotFound {
            kind: "commitment",
            id: id.clone(),
        };
        let person_id = self.owner_of("commitments", "commitment", &id, person)?;
        let mut doc = self.load_kept(&person_id, DocKind::Person, "person")?;
        let now = self.now();
        if !docs::person::set_commitment_status(&mut doc, &id, status, &format_time(now))? {
            return Err(not_found());
        }
        self.finish_written(&person_id, doc, now, project::Written::commitment(&id))
    }

    /// Create a campaign; returns its id.
    pub fn add_campaign(&mut self, mut new: NewCampaign) -> Result<String> {
        new.name = required("campaign name", &new.name)?;
        check_targets(new.targets.iter().map(|(l, n)| (l.as_str(), Some(*n))))?;
        new.issue = clean_opt(new.issue).and_then(|i| normalise_tag(&i));
        let now = self.now();
        let id = self.source.new_id(now);
        let mut doc = docs::new_doc(self.actor);
        docs::campaign::create(&mut doc, &id, &format_time(now), &new)?;
        self.finish(&id, DocKind::Campaign, doc, now)?;
        Ok(id)
    }

    /// Change a campaign's name, issue or targets (several at once: set or renumbered, and
    /// dropped, by label).
    pub fn edit_campaign(&mut self, id: &str, mut patch: CampaignPatch) -> Result<()> {
        let id = parse_id(id)?;
        if let Some(name) = &patch.name {
            patch.name = Some(required("campaign name", name)?);
        }
        patch.issue = patch.issue.map(|i| normalise_tag(&i).unwrap_or_default());
        // The targets as they will be: those kept, and those set.
        // (A target set or dropped by its words with other capitals is that target.)
        let held = super::queries::campaign(self.conn, &id)?.targets;
        let named: Vec<String> = patch
            .set_targets
            .keys()
            .chain(&patch.drop_targets)
            .map(|l| l.trim().to_lowercase())
            .collect();
        let kept = held
            .keys()
            .filter(|l| !named.contains(&l.trim().to_lowercase()))
            .map(|l| (l.as_str(), None));
        check_targets(
            kept.chain(
                patch
                    .set_targets
                    .iter()
                    .map(|(l, n)| (l.as_str(), Some(*n))),
            ),
        )?;
        let mut doc = self.load_kept(&id, DocKind::Campaign, "campaign")?;
        let now = self.now();
        docs::campaign::edit(&mut doc, &patch, &format_time(now))?;
        self.finish(&id, DocKind::Campaign, doc, now)
    }

    /// Start a shift on this device; it becomes the shift new conversations are recorded in.
    pub fn start_shift(
        &mut self,
        place: &str,
        campaign_id: Option<&str>,
        canvasser: Option<&str>,
    ) -> Result<String> {
        self.start_shift_on(place, campaign_id, canvasser, None)
    }

    /// Start a shift working through walk list `walklist_id` (when given; the place, when
    /// empty, is the list's name).
    pub fn start_shift_on(
        &mut self,
        place: &str,
        campaign_id: Option<&str>,
        canvasser: Option<&str>,
        walklist_id: Option<&str>,
    ) -> Result<String> {
        if let Some(open) = meta_get(self.conn, "current_shift")? {
            return Err(ValidationError::ShiftStillOpen(open).into());
        }
        let walklist_id = walklist_id
            .map(|id| self.require("walklists", "walklist", id))
            .transpose()?;
        let place = match &walklist_id {
            Some(list) if place.trim().is_empty() => self
                .conn
                .prepare_cached("SELECT name FROM walklists WHERE id = ?1")?
                .query_row([list], |r| r.get(0))?,
            _ => place.to_string(),
        };
        let id = self.shift(&place, campaign_id, canvasser, walklist_id)?;
        meta_set(self.conn, "current_shift", &id)?;
        Ok(id)
    }

    /// Record a shift that starts now without making it this device's open shift (demo data,
    /// shifts entered for someone else). End it with [`Writer::end_shift`] and its id.
    pub fn add_shift(
        &mut self,
        place: &str,
        campaign_id: Option<&str>,
        canvasser: Option<&str>,
    ) -> Result<String> {
        self.shift(place, campaign_id, canvasser, None)
    }

    fn shift(
        &mut self,
        place: &str,
        campaign_id: Option<&str>,
        canvasser: Option<&str>,
        walklist_id: Option<String>,
    ) -> Result<String> {
        let place = required("place", place)?;
        let campaign_id = campaign_id
            .map(|id| self.require("campaigns", "campaign", id))
            .transpose()?;
        let now = self.now();
        let shift = Shift {
            id: self.source.new_id(now),
            campaign_id,
            place,
            canvasser: self.canvasser(canvasser)?,
            started_at: format_time(now),
            ended_at: None,
            walklist_id,
            conflicts: Default::default(),
        };
        let mut doc = docs::new_doc(self.actor);
        docs::shift::create(&mut doc, &shift)?;
        self.finish(&shift.id, DocKind::Shift, doc, now)?;
        Ok(shift.id)
    }

    /// End a shift (default: this device's open shift).
    pub fn end_shift(&mut self, id: Option<&str>) -> Result<String> {
        let current = meta_get(self.conn, "current_shift")?;
        let id = match (id, &current) {
            (Some(id), _) => parse_id(id)?,
            (None, Some(c)) => c.clone(),
            (None, None) => {
                return Err(ValidationError::NoOpenShift.into());
            }
        };
        let mut doc = self.load_kept(&id, DocKind::Shift, "shift")?;
        if docs::shift::read(&doc, &id)?.ended_at.is_some() {
            return Err(ValidationError::ShiftEnded(id).into());
        }
        let now = self.now();
        docs::shift::end(&mut doc, &format_time(now))?;
        self.finish(&id, DocKind::Shift, doc, now)?;
        if current.as_deref() == Some(id.as_str()) {
            meta_delete(self.conn, "current_shift")?;
        }
        Ok(id)
    }

    /// Whether the relay this device is joined to is still `link`, in this transaction: a join
    /// meanwhile (another window, or the browser's join beside a sync in flight) moved the
    /// notebook to another log, where nothing pulled from the old one belongs.
    pub fn still_linked_to(&self, link: &super::RelayLink) -> Result<bool> {
        Ok(super::sync_state::read_sync_state(self.conn)?.link.as_ref() == Some(link))
    }

    /// Move this device's position in the team's log forward to `cursor` (never back).
    pub fn advance_cursor(&mut self, cursor: u64) -> Result<()> {
        let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached("UPDATE sync_state SET cursor = max(cursor, ?1) WHERE id = 1")?
            .execute([cursor])?;
        Ok(())
    }

    /// Put a person file, or one conversation or commitment in it, back to how it was just
    /// before change `before` (a hash from its history), as a new change that every device
    /// receives. Records added since are kept; nothing is deleted. Returns whether anything
    /// had to change.
    pub fn restore(&mut self, person_id: &str, before: &str, what: &RestoreTarget) -> Result<bool> {
        let id = parse_id(person_id)?;
        let mut doc = self.load_kept(&id, DocKind::Person, "person")?;
        let unknown = || {
            Error::Invalid(ValidationError::Unusable {
                what: "change",
                value: before.to_string(),
                why: "not a change of this file: give a hash `groundwork person history ID` lists",
            })
        };
        let hash: automerge::ChangeHash = before.trim().parse().map_err(|_| unknown())?;
        let change = doc.get_change_by_hash(&hash).ok_or_else(unknown)?;
        let deps = change.deps().to_vec();
        let current = docs::person::read(&doc, &id)?;
        let old = if deps.is_empty() {
            None
        } else {
            let mut then = doc.fork_at(&deps)?;
            then.set_actor(self.actor.clone());
            Some(docs::person::read(&then, &id)?)
        };
        let now = self.now();
        let stamp = format_time(now);
        let not_then = |kind: &'static str, rid: &str| Error::NotFound {
            kind,
            id: format!("{rid} (it did not exist before change {before})"),
        };
        match what {
            RestoreTarget::File => {
                let old = old.ok_or_else(|| not_then("person", &id))?;
                docs::person::restore_person(&mut doc, &id, &current.person, &old.person, &stamp)?;
                for c in &old.conversations {
                    let cur = current.conversations.iter().find(|x| x.id == c.id);
                    docs::person::restore_conversation(&mut doc, cur, c, &stamp)?;
                }
                for c in &old.commitments {
                    let cur = current.commitments.iter().find(|x| x.id == c.id);
                    docs::person::restore_commitment(&mut doc, cur, c, &stamp)?;
                }
            }
            RestoreTarget::Conversation(cid) => {
                let c = old
                    .as_ref()
                    .and_then(|o| o.conversations.iter().find(|x| &x.id == cid))
                    .ok_or_else(|| not_then("conversation", cid))?;
                let cur = current.conversations.iter().find(|x| &x.id == cid);
                docs::person::restore_conversation(&mut doc, cur, c, &stamp)?;
            }
            RestoreTarget::Commitment(cid) => {
                let c = old
                    .as_ref()
                    .and_then(|o| o.commitments.iter().find(|x| &x.id == cid))
                    .ok_or_else(|| not_then("commitment", cid))?;
                let cur = current.commitments.iter().find(|x| &x.id == cid);
                docs::person::restore_commitment(&mut doc, cur, c, &stamp)?;
            }
        }
        // A restore that finds everything as it was changes nothing but the touch: skip it.
        let after = docs::person::read(&doc, &id)?;
        if same_content(&after, &current) {
            return Ok(false);
        }
        self.finish(&id, DocKind::Person, doc, now)?;
        Ok(true)
    }

    /// Take in changes pulled from the team, judging each on its own (see
    /// [`super::intake`]): applied, left waiting for its dependencies, or quarantined.
    pub fn take_in(&mut self, changes: &[Incoming<'_>]) -> Result<IntakeReport> {
        self.take_in_with(changes, None)
    }

    /// [`Writer::take_in`], with the blobs' opening, signature checks and snapshot reading
    /// done in other workers (the jobs of [`super::Store::jobs_elsewhere`], answered): taken
    /// where they were computed from what this page starts from, done here otherwise.
    pub fn take_in_with(
        &mut self,
        changes: &[Incoming<'_>],
        elsewhere: Option<DoneElsewhere>,
    ) -> Result<IntakeReport> {
        // Arrival times are real times (not the demo clock): repairs are timed by them.
        let now = format_time(Utc::now());
        let me = intake::hex(self.actor.to_bytes());
        let opened =
            super::opening::open_pulled(self.conn, self.keys, &me, changes, &now, elsewhere)?;
        match opened {
            None => {
                let mut report = intake::take_in(self.conn, self.actor, changes, &now)?;
                report.received = changes
                    .iter()
                    .filter(|c| !crate::crypto::is_key_record(c.doc_id))
                    .count();
                Ok(report)
            }
            Some(mut page) => {
                // Snapshots first: changes of the same page that build on what a snapshot
                // brings then find it here.
                let mut first = IntakeReport::default();
                intake::take_snapshots(
                    self.conn,
                    self.actor,
                    &mut page.snapshots,
                    &now,
                    &mut first,
                )?;
                let incoming: Vec<Incoming<'_>> =
                    page.changes.iter().map(|o| o.incoming()).collect();
                let mut report = intake::take_in(self.conn, self.actor, &incoming, &now)?;
                report.applied += first.applied;
                report.duplicates += first.duplicates;
                report.erased += first.erased;
                report.quarantined += page.quarantined + first.quarantined;
                for doc in first.changed_docs {
                    if !report.changed_docs.contains(&doc) {
                        report.changed_docs.push(doc);
                    }
                }
                report.waiting += first.waiting;
                report.received = incoming.len() + page.snapshots.len() + page.quarantined;
                Ok(report)
            }
        }
    }

    /// Try the waiting changes of `doc_id` again.
    pub fn retry_waiting(&mut self, doc_id: &str) -> Result<IntakeReport> {
        let now = format_time(Utc::now());
        intake::retry_waiting(self.conn, self.actor, doc_id, &now)
    }

    /// Merge changes of one document from elsewhere, all or nothing: the strict form of
    /// [`Writer::take_in`] for tools and tests. A change that would be quarantined fails the
    /// whole call (`Error::CorruptChange`) and nothing is written.
    pub fn apply_remote(&mut self, doc_id: &str, blobs: &[Vec<u8>]) -> Result<MergeReport> {
        self.conn.execute_batch("SAVEPOINT apply_remote")?;
        let result = self.apply_remote_inner(doc_id, blobs);
        let end = if result.is_ok() {
            "RELEASE apply_remote"
        } else {
            "ROLLBACK TO apply_remote; RELEASE apply_remote"
        };
        self.conn.execute_batch(end)?;
        result
    }

    fn apply_remote_inner(&mut self, doc_id: &str, blobs: &[Vec<u8>]) -> Result<MergeReport> {
        let doc_id = parse_id(doc_id)?;
        let incoming: Vec<Incoming<'_>> = blobs
            .iter()
            .map(|b| Incoming::unvouched(&doc_id, b, false))
            .collect();
        let report = self.take_in(&incoming)?;
        if report.quarantined > 0 {
            let reason = intake::quarantined(self.conn)?
                .into_iter()
                .find(|q| q.doc_id == doc_id)
                .map(|q| q.reason)
                .unwrap_or_else(|| "the change was refused".to_string());
            return Err(Error::CorruptChange { doc_id, reason });
        }
        let kind = self
            .conn
            .query_row(
                "SELECT kind FROM documents WHERE doc_id = ?1",
                [&doc_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten()
            .and_then(|k| DocKind::parse(&k))
            .map(DocKind::as_str);
        Ok(MergeReport {
            doc_id,
            kind,
            new_changes: blobs.len() - report.duplicates - report.quarantined,
            changed: report.applied > 0,
            waiting: report.waiting,
        })
    }
}

/// A campaign's targets (label, and its number when one is being set) refused when a number
/// is under 1 or two labels are the same but for capitals: an edit of one would be anyone's
/// guess, and commitments count towards a target by its words whatever their capitals.
fn check_targets<'a>(targets: impl Iterator<Item = (&'a str, Option<i64>)>) -> Result<()> {
    let mut seen: Vec<String> = Vec::new();
    for (label, number) in targets {
        if let Some(n) = number
            && n < 1
        {
            return Err(ValidationError::Target(format!("{label}={n}")).into());
        }
        let folded = label.trim().to_lowercase();
        if seen.contains(&folded) {
            return Err(ValidationError::Field {
                field: "target",
                reason: format!(
                    "“{label}” is there twice (capitals aside): give each target its own words"
                ),
            }
            .into());
        }
        seen.push(folded);
    }
    Ok(())
}
