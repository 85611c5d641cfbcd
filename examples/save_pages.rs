//! Which pages the app's save writes: records a conversation with two commitments the app's
//! way (file loaded, draft written, then the save that ends it) for N people of a notebook,
//! after an idle checkpoint each, and prints after each save the page numbers of the frames
//! the save added to the write-ahead log, one line a save. `benches/save_pages.py` names the
//! pages (SQLite's `dbstat`) and counts them (BENCHMARKS.md, "The save profiled again").
//!
//! ```sh
//! cp -r NOTEBOOK_DIR /tmp/nb    # it writes: give it a copy
//! cargo run --release --example save_pages -- /tmp/nb 40 > /tmp/frames.txt
//! python3 benches/save_pages.py /tmp/nb/groundwork.sqlite3 /tmp/frames.txt
//! ```

use std::path::{Path, PathBuf};

use groundwork::model::{ConversationKind, NewCommitment, NewConversation};
use groundwork::store::Store;

type Failure = Box<dyn std::error::Error>;

/// The page numbers of the log's frames that belong to its current run (the salts of its
/// header), in order.
fn frames(wal: &Path) -> Result<Vec<u32>, Failure> {
    let bytes = std::fs::read(wal)?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let (Some(page), Some(salt1), Some(salt2)) = (word(8), word(16), word(20)) else {
        return Ok(Vec::new());
    };
    let mut pages = Vec::new();
    let mut at = 32;
    while at + 24 + page as usize <= bytes.len() {
        if word(at + 8) != Some(salt1) || word(at + 12) != Some(salt2) {
            break;
        }
        pages.extend(word(at));
        at += 24 + page as usize;
    }
    Ok(pages)
}

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: save_pages NOTEBOOK_DIR [SAVES]")?,
    );
    let saves: usize = args.next().map_or(Ok(30), |s| s.parse())?;
    let mut store = Store::open(&dir)?;
    let people: Vec<String> = store.all_people()?.into_iter().map(|p| p.id).collect();
    if people.is_empty() {
        return Err("the notebook has nobody in it".into());
    }
    let wal = dir.join(groundwork::store::DB_FILE.to_string() + "-wal");
    for i in 0..saves {
        let person = people[(i * 7919) % people.len()].clone();
        store.keep_loaded(&person)?;
        let draft = format!("conversation:{person}");
        store.save_draft(&draft, r#"{"story":"typed at the door"}"#)?;
        store.checkpoint()?;
        let conversation = NewConversation {
            person_id: person,
            kind: ConversationKind::Doorstep,
            at: None,
            canvasser: Some("Bench".into()),
            shift_id: None,
            issues: vec!["heating".into(), "rent".into()],
            story: Some(format!("Story number {i}: the heating failed again.")),
            notes: Some("Call back after 6pm.".into()),
            engagement: 3.try_into().ok(),
            follow_up: None,
        };
        let commitments = ["sign the letter", "come to the residents' meeting"]
            .map(|what| NewCommitment {
                what: what.into(),
                due: None,
                campaign_id: None,
                target: None,
            })
            .to_vec();
        let key = groundwork::ids::new_save_key();
        store.record_conversation_once(conversation, commitments, &draft, Some(&key))?;
        let pages: Vec<String> = frames(&wal)?.iter().map(u32::to_string).collect();
        println!("{}", pages.join(" "));
    }
    store.checkpoint()?;
    Ok(())
}
