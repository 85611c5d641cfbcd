//! Each device's share of its team's storage: a canvasser's device may fill at most half of the
//! team's quota, so that one buggy or stolen phone cannot fill the team's storage and leave
//! every other device's pushes refused. Counts follow what erasure and compaction delete.

use groundwork_protocol::{CompactResponse, PushItem, TeamDevice};

use crate::common::{Device, Param, Relay, db_row, int};
use crate::compaction::{compact, covering};
use crate::erasure::erase;

/// A quota of 8 KiB: a canvasser's share is 4,096 bytes. A blob counts its bytes, its
/// document id's and 128.
const QUOTA: &[&str] = &["--max-team-bytes", "8KiB"];

/// What the relay counts for `item`.
fn counted(item: &PushItem) -> u64 {
    (item.blob.len() + item.doc_id.len() + 128) as u64
}

fn blob(doc: &str, fill: u8, len: usize) -> PushItem {
    PushItem::new(doc, vec![fill; len])
}

/// `(name, stored_bytes)` of every device of the lead's team, as the lead sees them.
fn shares(lead: &Device) -> Vec<(String, u64)> {
    let answer = lead.get("/v1/devices");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer
        .json::<Vec<TeamDevice>>()
        .into_iter()
        .map(|d| (d.name, d.stored_bytes))
        .collect()
}

/// Each device's count, checked against its blobs in the relay's database.
fn assert_counts_match_blobs(relay: &Relay, lead: &Device) {
    let answer = lead.get("/v1/devices");
    for device in answer.json::<Vec<TeamDevice>>() {
        let row = db_row(
            &relay.data_dir,
            "SELECT CAST(COALESCE(SUM(length(blob) + length(doc_id) + 128), 0) AS TEXT)
             FROM blobs WHERE device_pk = (SELECT pk FROM devices WHERE id = $1)",
            Param::Text(&device.device_id),
        )
        .expect("a row");
        assert_eq!(
            int(&row[0]),
            i64::try_from(device.stored_bytes).expect("small"),
            "{}'s count against its blobs",
            device.name
        );
    }
}

#[test]
fn a_canvassers_device_cannot_fill_its_teams_storage() {
    let relay = Relay::start_with(QUOTA);
    let (mut lead, mut canvassers) = relay.team_with_lead("Shares", 2);
    let mut other = canvassers.pop().expect("other");
    let mut flooder = canvassers.pop().expect("flooder");

    let first = blob("a", 1, 3_000);
    flooder
        .sync(vec![first.clone()], None)
        .expect("fits its share");
    // 3,129 + 1,129 bytes: over the device's 4,096, with the team at half its quota.
    let (status, message) = flooder
        .sync(vec![blob("a", 2, 1_000)], None)
        .expect_err("over its share");
    assert_eq!(status, 507);
    assert!(message.contains("share"), "{message}");
    assert!(message.contains("lead"), "{message}");
    // The refused push stored nothing: a smaller one still fits.
    let second = blob("a", 3, 800);
    flooder
        .sync(vec![second.clone()], None)
        .expect("still within its share");
    // Pushing what is stored already costs nothing.
    flooder
        .sync(vec![first.clone()], None)
        .expect("idempotent push");

    // The others still push: the team has room that the flooder cannot take.
    let theirs = blob("b", 4, 3_000);
    other
        .sync(vec![theirs.clone()], None)
        .expect("another canvasser pushes");
    let leads = blob("l", 5, 500);
    lead.sync(vec![leads.clone()], None)
        .expect("the lead pushes");
    assert_eq!(
        shares(&lead),
        vec![
            ("Shares lead".to_owned(), counted(&leads)),
            (
                "Shares phone 0".to_owned(),
                counted(&first) + counted(&second)
            ),
            ("Shares phone 1".to_owned(), counted(&theirs)),
        ]
    );
    assert_counts_match_blobs(&relay, &lead);
    // What was refused is nowhere in the log (read again from the start: the others'
    // blobs).
    other.cursor = 0;
    let mut pulled: Vec<usize> = other
        .pull_all(None)
        .into_iter()
        .map(|(_, b)| b.len())
        .collect();
    pulled.sort_unstable();
    assert_eq!(pulled, vec![500, 800, 3_000]);
    // The team's own quota still holds for everyone.
    let (status, message) = lead
        .sync(vec![blob("l", 6, 1_000)], None)
        .expect_err("over the team's quota");
    assert_eq!(status, 507);
    assert!(message.contains("team's storage"), "{message}");
}

#[test]
fn a_leads_device_is_bounded_by_the_teams_quota_alone() {
    let relay = Relay::start_with(QUOTA);
    let (mut lead, _) = relay.team_with_lead("Lead alone", 0);
    for (i, fill) in [1u8, 2].into_iter().enumerate() {
        lead.sync(vec![blob(&format!("p{i}"), fill, 3_000)], None)
            .expect("a lead may hold more than half");
    }
    assert_eq!(shares(&lead), vec![("Lead alone lead".to_owned(), 6_260)]);
}

#[test]
fn erasure_and_compaction_give_a_device_its_share_back() {
    let relay = Relay::start_with(QUOTA);
    let (mut lead, mut canvassers) = relay.team_with_lead("Freed", 1);
    let mut phone = canvassers.pop().expect("phone");

    // Erasure: the person's blobs leave the phone's count.
    phone
        .sync(vec![blob("erased", 1, 3_500)], None)
        .expect("fits");
    phone
        .sync(vec![blob("kept", 2, 1_000)], None)
        .expect_err("full");
    let answer = erase(&lead, "erased");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        shares(&lead),
        vec![
            ("Freed lead".to_owned(), 0),
            ("Freed phone 0".to_owned(), 0)
        ]
    );
    assert_counts_match_blobs(&relay, &lead);

    // Compaction: the lead's snapshot stands for the phone's changes, which are dropped (no
    // device needs them), and it is counted to the lead.
    let changes: Vec<PushItem> = (0..3).map(|i| blob("kept", 10 + i, 1_000)).collect();
    phone.sync(changes.clone(), None).expect("fits");
    let (status, _) = phone
        .sync(vec![blob("more", 3, 1_000)], None)
        .expect_err("full again");
    assert_eq!(status, 507);
    let snapshot = blob("kept", 20, 600);
    lead.sync(vec![snapshot.clone()], None)
        .expect("pushes the snapshot");
    let covered: Vec<&PushItem> = changes.iter().collect();
    let answer = compact(&lead, vec![covering(&snapshot, &covered)]);
    assert_eq!(
        answer.json::<CompactResponse>(),
        CompactResponse {
            placed: 1,
            covered: 3,
            dropped: 3,
            unknown: 0
        }
    );
    assert_eq!(
        shares(&lead),
        vec![
            ("Freed lead".to_owned(), counted(&snapshot)),
            ("Freed phone 0".to_owned(), 0)
        ]
    );
    assert_counts_match_blobs(&relay, &lead);
    phone
        .sync(vec![blob("more", 3, 3_000)], None)
        .expect("the phone has its share back");
}
