//! The command-line grammar (clap). Values are taken as text and checked by the core, so that
//! a bad date or kind gets the core's message and exit status 1; exit status 2 is kept for
//! grammar errors (unknown commands or flags, missing required flags).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use groundwork::model::{CommitmentField, ConversationField, PersonField};

use super::fields::RecordFlags;

/// Groundwork: the organiser's notebook. Works offline; JSON on stdout, errors on stderr.
#[derive(Debug, Parser)]
#[command(name = "groundwork", version, about, long_about = None)]
pub struct Cli {
    /// Where the notebook is kept (default: the platform's data directory).
    #[arg(long, env = "GROUNDWORK_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// What to do; with none, the app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, edit, show and list people.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Find people by name, contact details, place, workplace, issues, notes or stories.
    Search {
        /// Words to look for; each matches the start of a word.
        query: String,
        /// At most this many results.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Record conversations.
    #[command(subcommand)]
    Conversation(ConversationCommand),
    /// Record commitments and mark them kept, broken or cancelled.
    #[command(subcommand)]
    Commitment(CommitmentCommand),
    /// Create and list campaigns.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Start and end shifts.
    #[command(subcommand)]
    Shift(ShiftCommand),
    /// Walk lists: import a street list, list them, show one in walking order, delete one.
    #[command(subcommand)]
    Walklist(WalklistCommand),
    /// Mark doors of a walk list with what happened at them.
    #[command(subcommand)]
    Door(DoorCommand),
    /// Export records as JSON or CSV, sorted by id.
    Export {
        /// people, conversations, commitments, campaigns, shifts or doors.
        #[arg(long)]
        what: String,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
        /// Also export people who asked not to be contacted, and doors marked do-not-knock
        /// (left out of people and door exports by default).
        #[arg(long)]
        include_do_not_contact: bool,
    },
    /// The team lead's reports: a shift, a campaign's progress, follow-ups due.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Add realistic, deterministic sample data.
    DemoData {
        /// How many people.
        #[arg(long)]
        people: usize,
        /// Seed: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Join a team on a relay with an invite from the team lead: its join link
    /// (https://RELAY/#join=CODE), or its code with --relay.
    Join {
        /// The relay's address, e.g. https://relay.example.org (not needed with a join link).
        #[arg(long)]
        relay: Option<String>,
        /// The invite: the join link, or the code.
        #[arg(long)]
        invite: String,
        /// A name for this device, e.g. "Sam's phone" (the canvasser's name is `settings --name`).
        #[arg(long)]
        name: String,
    },
    /// Send this device's changes to the relay and fetch the team's; prints {"pushed", "pulled",
    /// "rejected", "waiting", "repaired", "erased", "withheld", "compacted"}.
    Sync {
        /// First ask the relay again for the changes of every document whose changes wait for
        /// changes this device never received (or of the documents given with --doc).
        #[arg(long)]
        repair: bool,
        /// With --repair: this document only (repeatable).
        #[arg(long = "doc", requires = "repair")]
        docs: Vec<String>,
        /// With --repair: pull the team's whole log again from the start.
        #[arg(long, requires = "repair", conflicts_with = "docs")]
        all: bool,
    },
    /// The team (a lead): invite devices, list them, revoke or promote one. A canvasser's
    /// attempt is refused by the relay.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Where this device syncs, its role, and what is waiting (JSON).
    Status,
    /// The notebook on this device: encrypt it at rest.
    #[command(subcommand)]
    Notebook(NotebookCommand),
    /// Show this device's settings, or change its canvasser name.
    Settings {
        /// The name recorded as canvasser on this device.
        #[arg(long)]
        name: Option<String>,
        /// With --name: someone else now uses this device, so the names given before are
        /// forgotten (Due's "Mine" is the new canvasser's alone). Without it, a new name is
        /// taken as the same canvasser's corrected name and the earlier ones stay theirs.
        #[arg(long, requires = "name")]
        someone_else: bool,
    },
    /// Test helper: add people one per transaction, printing each id once it is durable.
    #[command(hide = true)]
    DebugWriteLoop {
        /// How many.
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
    },
}

/// `person …`
#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person; prints the new id. The flags are those of the person's declared
    /// fields (see ARCHITECTURE.md, "Fields declared once").
    Add {
        #[command(flatten)]
        fields: RecordFlags<PersonField, false>,
    },
    /// Change a person's details (an empty value clears a field; `--untag`, `--unlanguage`
    /// and `--withdraw-consent` remove, `--allow-contact` clears do-not-contact).
    Edit {
        /// The person's id.
        id: String,
        #[command(flatten)]
        fields: RecordFlags<PersonField, true>,
    },
    /// Show a person with conversations, commitments and conflicting values (JSON).
    Show {
        /// The person's id.
        id: String,
    },
    /// Every change of a person's file: when, which device, what it did (JSON, oldest first).
    History {
        /// The person's id.
        id: String,
    },
    /// Put a person's file, or one conversation or commitment, back to how it was just before
    /// a change of its history; the restore is a new change that reaches every device.
    Restore {
        /// The person's id.
        id: String,
        /// The change (its hash, from `person history`) whose effect to undo.
        #[arg(long)]
        before: String,
        /// Only this conversation.
        #[arg(long, conflicts_with = "commitment")]
        conversation: Option<String>,
        /// Only this commitment.
        #[arg(long)]
        commitment: Option<String>,
    },
    /// List people, most recently changed first (JSON).
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Erase a person from every device of the team and from the relay, history included (a
    /// team lead; in a notebook that syncs with no team, from this notebook). Cannot be undone.
    Erase {
        /// The person's id.
        id: String,
    },
    /// Everything this notebook holds about one person, as JSON (a subject access request);
    /// not walk lists' registers, which no person is linked to.
    Export {
        /// The person's id.
        id: String,
    },
}

/// `team …`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create an invite to this device's team; prints JSON {"code", "join_link", "id", "role",
    /// "uses", "expires_at"}, and with --qr the join link as a QR code after it.
    Invite {
        /// How many devices may join with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it stays valid: a number and s, m, h, d or w (e.g. 30m, 24h, 7d).
        #[arg(long, default_value = "24h")]
        expires_in: String,
        /// Devices that join with it are team leads (default: canvassers).
        #[arg(long)]
        lead: bool,
        /// Also draw the join link as a QR code after the JSON, for a phone's camera.
        #[arg(long)]
        qr: bool,
    },
    /// The team's devices with their role and last sync (JSON).
    Devices,
    /// The team's open invites: id, role, uses left, when made and by which device, expiry
    /// (JSON).
    Invites,
    /// Cancel an invite (a link sent to the wrong people, or never used): nobody joins with it
    /// any more, and the relay forgets the team's keys it carried.
    CancelInvite {
        /// The invite's id (from `team invites` or `team invite`), its code or its join link.
        invite: String,
    },
    /// Revoke a device (a lost phone): the relay refuses it at once.
    Revoke {
        /// The device's id, from `team devices`.
        device_id: String,
    },
    /// Make a device a team lead too.
    Promote {
        /// The device's id, from `team devices`.
        device_id: String,
    },
}

/// `conversation …`
#[derive(Debug, Subcommand)]
// Parsed once per run: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ConversationCommand {
    /// Record a conversation; prints its id.
    Add {
        /// Who it was with.
        #[arg(long)]
        person: String,
        /// doorstep, breakfast-meeting, one-to-one, phone, workplace-visit or event.
        #[arg(long)]
        kind: String,
        /// When (RFC 3339; default: now).
        #[arg(long)]
        at: Option<String>,
        /// Free notes.
        #[arg(long)]
        notes: Option<String>,
        /// Their story and self-interest, in their words.
        #[arg(long)]
        story: Option<String>,
        /// An issue they raised (repeatable).
        #[arg(long = "issue", value_name = "TAG")]
        issues: Vec<String>,
        /// 1 (not interested) to 5 (leading others).
        #[arg(long)]
        engagement: Option<String>,
        /// Follow-up date, YYYY-MM-DD (default: 48 hours after the conversation).
        #[arg(long)]
        follow_up: Option<String>,
        /// The shift (default: this device's open shift).
        #[arg(long)]
        shift: Option<String>,
        /// Who held it (default: this device's canvasser name).
        #[arg(long)]
        canvasser: Option<String>,
        /// A commitment made in it (repeatable), saved with the conversation: due on the
        /// follow-up date, counting towards the shift's campaign (and towards its target of
        /// the same label, if there is one).
        #[arg(long = "commitment", value_name = "WHAT")]
        commitments: Vec<String>,
    },
    /// Correct a conversation after it was saved: any of the flags of `add` that describe it
    /// (`--at`, `--kind`, `--canvasser`, `--issue`/`--unissue`, `--engagement`,
    /// `--follow-up`, `--story`, `--notes`); an empty value clears a date or a note. Prints
    /// the conversation.
    Edit {
        /// The conversation's id.
        id: String,
        /// The person whose file it is in: needed only where a device of the team copied it
        /// into another person's file under the same id (the command says so).
        #[arg(long)]
        person: Option<String>,
        #[command(flatten)]
        fields: RecordFlags<ConversationField, true>,
    },
}

/// `commitment …`
#[derive(Debug, Subcommand)]
pub enum CommitmentCommand {
    /// Record a commitment; prints its id.
    Add {
        /// Who made it.
        #[arg(long)]
        person: String,
        /// What they committed to.
        #[arg(long)]
        what: String,
        /// By when, YYYY-MM-DD.
        #[arg(long)]
        due: Option<String>,
        /// The conversation it was made in.
        #[arg(long)]
        conversation: Option<String>,
        /// The campaign it counts towards.
        #[arg(long)]
        campaign: Option<String>,
        /// The campaign target it counts towards (one of the campaign's target labels).
        #[arg(long, value_name = "LABEL", requires = "campaign")]
        target: Option<String>,
    },
    /// Correct a commitment: `--what`, `--due` (an empty value clears it), `--campaign`,
    /// `--target LABEL` (one of the campaign's targets; empty: none). Prints the commitment.
    Edit {
        /// The commitment's id.
        id: String,
        /// The person whose file it is in: needed only where a device of the team copied it
        /// into another person's file under the same id (the command says so).
        #[arg(long)]
        person: Option<String>,
        #[command(flatten)]
        fields: RecordFlags<CommitmentField, true>,
    },
    /// Mark a commitment open, kept, broken or cancelled (`--status open` undoes a
    /// mis-tapped kept or broken).
    Set {
        /// The commitment's id.
        id: String,
        /// The person whose file it is in: needed only where a device of the team copied it
        /// into another person's file under the same id (the command says so).
        #[arg(long)]
        person: Option<String>,
        /// open, kept, broken or cancelled.
        #[arg(long)]
        status: String,
    },
    /// List commitments, soonest due first (JSON).
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// Only those due before this date (YYYY-MM-DD).
        #[arg(long)]
        due_before: Option<String>,
        /// Only this person's.
        #[arg(long)]
        person: Option<String>,
    },
}

/// `campaign …`
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign; prints its id.
    Add {
        /// Name.
        #[arg(long)]
        name: String,
        /// The issue it is about.
        #[arg(long)]
        issue: Option<String>,
        /// A target, LABEL=NUMBER (repeatable), e.g. "letters signed=50".
        #[arg(long = "target", value_name = "LABEL=NUMBER")]
        targets: Vec<String>,
    },
    /// Change a campaign's name, issue or targets; prints the campaign (JSON).
    Edit {
        /// The campaign's id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New issue (an empty value clears it).
        #[arg(long, value_name = "TAG")]
        issue: Option<String>,
        /// Add a target or change its number, LABEL=NUMBER (repeatable).
        #[arg(long = "target", value_name = "LABEL=NUMBER")]
        targets: Vec<String>,
        /// Drop a target (repeatable).
        #[arg(long = "drop-target", value_name = "LABEL")]
        drop_targets: Vec<String>,
    },
    /// List campaigns (JSON).
    List,
    /// Delete a campaign from every device of the team and the relay (a team lead; without a
    /// team, from this notebook); commitments made towards it stay with their people.
    Delete {
        /// The campaign's id.
        id: String,
    },
}

/// `shift …`
#[derive(Debug, Subcommand)]
pub enum ShiftCommand {
    /// Start a shift on this device; prints its id.
    Start {
        /// Place or area, e.g. "Elm Road odd numbers" (with --walklist: the list's name when
        /// left out).
        #[arg(long, default_value = "")]
        place: String,
        /// The walk list the shift works through.
        #[arg(long, value_name = "ID")]
        walklist: Option<String>,
        /// The campaign it serves.
        #[arg(long)]
        campaign: Option<String>,
        /// Who is canvassing (default: this device's canvasser name).
        #[arg(long)]
        canvasser: Option<String>,
    },
    /// End a shift (default: this device's open shift); prints its id.
    End {
        /// The shift's id.
        id: Option<String>,
    },
    /// List shifts (JSON).
    List,
}

/// `notebook …`
#[derive(Debug, Subcommand)]
pub enum NotebookCommand {
    /// Encrypt this notebook on disk (SQLCipher) with the passphrase in GROUNDWORK_PASSPHRASE
    /// (at least 10 characters), or with a random key kept in the desktop's key store
    /// (--key-store). From then on the notebook opens only with it: keep the passphrase
    /// safe; it cannot be recovered. Prints {"encrypted": true, "key_store": …}.
    Encrypt {
        /// Make a random key and keep it in the desktop's key store (GNOME Keyring, KWallet,
        /// through secret-tool) instead of a passphrase.
        #[arg(long)]
        key_store: bool,
    },
    /// Change the passphrase of this encrypted notebook: the current one from
    /// GROUNDWORK_PASSPHRASE (or the key store), the new one from GROUNDWORK_NEW_PASSPHRASE
    /// (at least 10 characters). Every page is encrypted again in place; stopped halfway, the
    /// notebook opens with the current passphrase, whole. A key the key store held for it is
    /// removed. Prints {"changed": true, "key_store_cleared": …}.
    ChangePassphrase,
    /// Decrypt this encrypted notebook back into a plain file on disk, opened with the
    /// passphrase in GROUNDWORK_PASSPHRASE (or the key store): from then on it opens with
    /// nothing typed, and anyone who copies the disk can read it. Stopped halfway, the
    /// notebook is still encrypted, whole. A key the key store held for it is removed. Prints
    /// {"encrypted": false, "key_store_cleared": …}.
    Decrypt,
}

/// `walklist …`
#[derive(Debug, Subcommand)]
pub enum WalklistCommand {
    /// Import a street list (CSV with a header row: address lines, house number, street,
    /// postcode, resident names, elector numbers, in any column order) into the walk list
    /// NAME, made when there is none; prints its id and counts (JSON). Importing the same
    /// file again adds nothing; a file with bad rows imports nothing and names their lines.
    Import {
        /// The list's name.
        #[arg(long)]
        name: String,
        /// The CSV file.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Take the column HEADER as FIELD (repeatable): address, number, street, postcode,
        /// flat, town, name, first-name, surname, elector-number or ignore.
        #[arg(long = "map", value_name = "HEADER=FIELD")]
        map: Vec<String>,
        /// Show how the columns would be read and what would be imported, and import nothing.
        #[arg(long)]
        preview: bool,
    },
    /// List walk lists with their progress (JSON).
    List,
    /// A walk list's doors in walking order, each with its status (JSON).
    Show {
        /// The list's id.
        id: String,
    },
    /// Delete a walk list from every device of the team and the relay (a team lead; without a
    /// team, from this notebook). Conversations recorded at its doors stay with their people.
    Delete {
        /// The list's id.
        id: String,
    },
}

/// `door …`
#[derive(Debug, Subcommand)]
pub enum DoorCommand {
    /// Mark one or more doors with an outcome; prints the visits recorded (JSON).
    Mark {
        /// The doors' ids (several: the same outcome for each, e.g. a row of "not home").
        #[arg(required = true, value_name = "DOOR_ID")]
        doors: Vec<String>,
        /// not-home, answered, refused, come-back, moved, do-not-knock or no-access.
        #[arg(long)]
        outcome: String,
        /// A note.
        #[arg(long)]
        note: Option<String>,
        /// When (RFC 3339; default: now).
        #[arg(long)]
        at: Option<String>,
        /// For come-back: when to come back (RFC 3339).
        #[arg(long, value_name = "TIME")]
        come_back_at: Option<String>,
        /// The walk list the doors are on: needed only where a device of the team copied a
        /// door into another list under the same id (the command says so).
        #[arg(long, value_name = "LIST_ID")]
        list: Option<String>,
    },
}

/// `report …`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// What a shift, or the shifts between two dates, produced: per canvasser and for the team.
    Shift {
        /// The shift (default: this device's most recent shift).
        #[arg(long, conflicts_with_all = ["from", "to"])]
        shift: Option<String>,
        /// First day, YYYY-MM-DD (with --to).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (with --from).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// json or text.
        #[arg(long, default_value = "text")]
        format: String,
        /// Count follow-ups due on or before this day (default: today).
        #[arg(long)]
        as_of: Option<String>,
    },
    /// A campaign's targets against commitments made and kept, and its last shifts.
    Campaign {
        /// The campaign's id.
        id: String,
        /// json or text.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Who needs a call back, by when, and who spoke to them last.
    FollowUps {
        /// Due on or before this day (default: today).
        #[arg(long)]
        by: Option<String>,
        /// json or text.
        #[arg(long, default_value = "text")]
        format: String,
    },
}
