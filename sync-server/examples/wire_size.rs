//! Measures what a shift's sync costs on the wire, against the same records as gzipped JSON.
//!
//! Each record is a person file: one Automerge document with 12 fields and a 500-character
//! note, written by one device (one change per document). For a shift of N records it prints:
//!
//! - the records as a gzipped JSON array (the floor the goal is measured against);
//! - the push round trip in the binary format (gzipped request and answer);
//! - the pull of the same records by another device (gzipped request and answer);
//! - for comparison, the push as JSON with base64 blobs, and acknowledgements by full id.
//!
//! Run: `cargo run --release -p sync-server --example wire_size`

use std::io::Write;

use automerge::{ActorId, AutoCommit, ROOT, transaction::Transactable};
use flate2::Compression;
use flate2::write::GzEncoder;
use groundwork_protocol::id::hex;
use groundwork_protocol::{
    PulledChange, PushItem, SyncRequest, SyncResponse, encode_sync_request, encode_sync_response,
};
use serde_json::json;

const WORDS: &[&str] = &[
    "rent",
    "repairs",
    "landlord",
    "damp",
    "heating",
    "meeting",
    "union",
    "bins",
    "council",
    "school",
    "bus",
    "wages",
    "shift",
    "nurse",
    "petition",
    "neighbours",
    "children",
    "kitchen",
    "mould",
    "window",
    "promised",
    "call",
    "back",
    "Thursday",
    "angry",
    "worried",
    "agreed",
    "leaflet",
    "hall",
    "tenants",
    "association",
    "would",
    "like",
    "to",
    "help",
    "with",
    "the",
    "and",
    "about",
    "her",
    "his",
    "their",
    "flat",
    "estate",
    "street",
    "door",
    "said",
];
const FIRST: &[&str] = &[
    "Sam", "Alex", "Priya", "Tomasz", "Amina", "Joe", "Grace", "Li", "Omar",
];
const LAST: &[&str] = &[
    "Okafor", "Smith", "Nowak", "Patel", "Jones", "Begum", "Walsh", "Chen",
];
const STREETS: &[&str] = &["Canal Street", "Mill Road", "Station Lane", "Park View"];

/// A small deterministic generator, so that runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
    fn uuid(&mut self) -> String {
        let a = self.next() << 32 | self.next();
        let b = self.next() << 32 | self.next();
        let h = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

fn record(rng: &mut Rng) -> serde_json::Value {
    let mut note = String::new();
    while note.len() < 500 {
        note.push_str(rng.pick(WORDS));
        note.push(' ');
    }
    note.truncate(500);
    json!({
        "id": rng.uuid(),
        "first_name": rng.pick(FIRST),
        "last_name": rng.pick(LAST),
        "phone": format!("07{:09}", rng.next() % 1_000_000_000),
        "email": format!("person{}@example.org", rng.next() % 100_000),
        "address": format!("{} {}", rng.next() % 200 + 1, rng.pick(STREETS)),
        "postcode": format!("M{} {}AB", rng.next() % 40, rng.next() % 10),
        "ward": rng.pick(&["Ancoats", "Hulme", "Moss Side", "Levenshulme"]),
        "support": rng.next() % 5 + 1,
        "union_member": rng.next().is_multiple_of(2),
        "created_at": format!("2025-03-{:02}T1{}:{:02}:00Z", rng.next() % 28 + 1, rng.next() % 10, rng.next() % 60),
        "canvasser": "device-7",
        "note": note,
    })
}

fn change_for(record: &serde_json::Value, actor: &ActorId) -> Vec<u8> {
    let mut doc = AutoCommit::new().with_actor(actor.clone());
    if let Some(fields) = record.as_object() {
        for (key, value) in fields {
            let result = match value {
                serde_json::Value::String(s) => doc.put(ROOT, key, s.as_str()),
                serde_json::Value::Bool(b) => doc.put(ROOT, key, *b),
                serde_json::Value::Number(n) => doc.put(ROOT, key, n.as_u64().unwrap_or(0)),
                _ => Ok(()),
            };
            result.expect("put");
        }
    }
    doc.commit();
    doc.get_last_local_change()
        .expect("a change")
        .raw_bytes()
        .to_vec()
}

fn gz(bytes: &[u8]) -> usize {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip").len()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn measure(n: usize) {
    let mut rng = Rng(42 + n as u64);
    let actor = ActorId::from(vec![7u8; 16]);
    let records: Vec<_> = (0..n).map(|_| record(&mut rng)).collect();
    let json_gz = gz(&serde_json::to_vec(&records).expect("json"));

    let push: Vec<PushItem> = records
        .iter()
        .map(|r| PushItem::new(r["id"].as_str().unwrap_or_default(), change_for(r, &actor)))
        .collect();
    let raw_changes: usize = push.iter().map(|p| p.blob.len()).sum();
    let changes_gz = gz(&push
        .iter()
        .flat_map(|p| p.blob.clone())
        .collect::<Vec<u8>>());

    let push_req = SyncRequest {
        since: 1_234,
        push: push.clone(),
        max_bytes: None,
        actor: vec![7; 16],
    };
    let push_resp = SyncResponse {
        accepted: push.iter().map(|p| p.id).collect(),
        pushers: Vec::new(),
        changes: Vec::new(),
        cursor: 1_234 + n as u64,
        more: false,
    };
    let req_gz = gz(&encode_sync_request(&push_req).expect("encodes"));
    let resp_gz = gz(&encode_sync_response(&push_resp, &push_req).expect("encodes"));

    let pull_req = SyncRequest {
        since: 1_000,
        push: Vec::new(),
        max_bytes: None,
        actor: vec![8; 16],
    };
    let pull_resp = SyncResponse {
        accepted: Vec::new(),
        pushers: vec![groundwork_protocol::Pusher {
            actor: vec![7; 16],
            name: "Sam's phone".into(),
        }],
        changes: push
            .iter()
            .zip(1_001..)
            .map(|(p, seq)| PulledChange {
                seq,
                id: p.id,
                doc_id: p.doc_id.clone(),
                pusher: 0,
                snapshot: false,
                blob: p.blob.clone(),
            })
            .collect(),
        cursor: 1_000 + n as u64,
        more: false,
    };
    let pull_req_gz = gz(&encode_sync_request(&pull_req).expect("encodes"));
    let pull_resp_gz = gz(&encode_sync_response(&pull_resp, &pull_req).expect("encodes"));

    let json_push = json!({
        "since": 1_234,
        "push": push.iter().map(|p| json!({"id": hex(&p.id), "doc_id": p.doc_id, "blob": base64(&p.blob)})).collect::<Vec<_>>(),
    });
    let json_push_gz = gz(&serde_json::to_vec(&json_push).expect("json"));
    let json_ack = json!({ "accepted": push_resp.accepted.iter().map(|id| hex(id)).collect::<Vec<_>>(), "changes": [], "cursor": 0, "more": false });
    let json_ack_gz = gz(&serde_json::to_vec(&json_ack).expect("json"));
    let raw_ids: Vec<u8> = push.iter().flat_map(|p| p.id).collect();
    let id_acks_gz = gz(&raw_ids);

    let ratio = |x: usize| x as f64 / json_gz as f64;
    let push_total = req_gz + resp_gz;
    let pull_total = pull_req_gz + pull_resp_gz;
    println!("## {n} records");
    println!("| what | bytes | vs gzipped JSON |");
    println!("| --- | ---: | ---: |");
    println!("| records as JSON, gzipped (the floor) | {json_gz} | 1.00x |");
    println!(
        "| raw Automerge changes, uncompressed | {raw_changes} | {:.2}x |",
        ratio(raw_changes)
    );
    println!(
        "| raw Automerge changes, gzipped | {changes_gz} | {:.2}x |",
        ratio(changes_gz)
    );
    println!(
        "| **push round trip**, binary + gzip (request {req_gz} + answer {resp_gz}) | {push_total} | **{:.2}x** |",
        ratio(push_total)
    );
    println!(
        "| **pull by another device**, binary + gzip (request {pull_req_gz} + answer {pull_resp_gz}) | {pull_total} | **{:.2}x** |",
        ratio(pull_total)
    );
    println!(
        "| push round trip as JSON + base64, gzip (request {json_push_gz} + answer {json_ack_gz}) | {} | {:.2}x |",
        json_push_gz + json_ack_gz,
        ratio(json_push_gz + json_ack_gz)
    );
    println!(
        "| push round trip, binary, if answers named ids (+{id_acks_gz}) | {} | {:.2}x |",
        push_total + id_acks_gz,
        ratio(push_total + id_acks_gz)
    );
    println!();
}

fn main() {
    for n in [40, 200, 800] {
        measure(n);
    }
}
