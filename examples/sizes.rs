use groundwork::model::*;
use groundwork::store::Store;
use std::io::Write;
const DICT: &[u8] = include_bytes!("../src/crypto/dictionary-v1.bin");
fn deflate_with(dict: &[u8], bytes: &[u8]) -> usize {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(dict).unwrap();
    e.flush().unwrap();
    let skip = e.get_ref().len();
    e.write_all(bytes).unwrap();
    e.finish().unwrap().len() - skip
}
fn uleb(b: &[u8], i: &mut usize) -> u64 { let mut v=0u64; let mut s=0; loop { let x=b[*i]; *i+=1; v|=((x&0x7f) as u64)<<s; s+=7; if x&0x80==0 {return v;} } }
/// (header_len_before_body, body_start, deps_range, actor_range)
fn strip(chunk: &[u8], known: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    // returns (stripped, hash)
    let mut i = 9; let len = uleb(chunk, &mut i) as usize; let body = i; assert_eq!(body+len, chunk.len());
    let mut j = body; let nd = uleb(chunk, &mut j) as usize;
    let deps_start = j; let deps_end = j + 32*nd;
    let mut out = Vec::new();
    out.push(chunk[8]);
    out.extend_from_slice(&chunk[body..deps_start]);
    for k in 0..nd { let d=&chunk[deps_start+32*k..deps_start+32*k+32]; if let Some(p)=known.iter().position(|h| h.as_slice()==d) { out.push(p as u8);} else { out.push(255); out.extend_from_slice(d);} }
    // actor
    let mut a = deps_end; let al = uleb(chunk, &mut a) as usize; let actor_start=a;
    let _ = al; let _ = actor_start;
    out.extend_from_slice(&chunk[deps_end..]);
    use sha2::Digest;
    let h = sha2::Sha256::digest(&chunk[8..]).to_vec();
    (out, h)
}
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let steps = std::env::args().nth(1).is_some();
    let mut ids = Vec::new();
    for i in 0..40 {
        let person = store.add_person(NewPerson::new().put(PersonField::Name, format!("Person 3-{i}")).put(PersonField::Phone, format!("07700 9{:05}", i*7919 % 100000)).put(PersonField::Area, "Elm Road").put(PersonField::Workplace, "University cleaning services")).unwrap();
        let asks: Vec<NewCommitment> = (0..1 + i % 2).map(|k| NewCommitment { what: ["sign the letter", "come to the delivery"][k as usize].into(), due: None, campaign_id: None, target: None }).collect();
        let (now, later) = if steps { (Vec::new(), asks) } else { (asks, Vec::new()) };
        let (conv, _) = store.record_conversation(NewConversation { person_id: person.clone(), kind: ConversationKind::Doorstep, at: None, canvasser: None, shift_id: None, issues: vec!["living wage".into()], story: Some("Works two jobs and is still short by the end of the month.".into()), notes: Some("Call back after 6pm.".into()), engagement: 3.try_into().ok(), follow_up: None }, now).unwrap();
        for a in later { store.add_commitment(&person, Some(&conv), a).unwrap(); }
        if steps { store.edit_person(&person, PersonPatch::new().put(PersonField::Notes, "Rang back: on nights from next week.")).unwrap(); }
        ids.push(person);
    }
    let items = store.outbox(100000).unwrap();
    let mut by_doc: std::collections::BTreeMap<String, Vec<Vec<u8>>> = Default::default();
    for it in items { by_doc.entry(it.doc_id.clone()).or_default().push(it.bytes); }
    let (mut raw, mut cur, mut stripped, mut n, mut nch) = (0,0,0,0,0);
    let mut actor_dict = DICT.to_vec();
    for (_, changes) in &by_doc {
        let cat = changes.concat();
        raw += cat.len(); cur += deflate_with(DICT, &cat);
        let mut known = Vec::new(); let mut s = Vec::new();
        for c in changes { let (st, h) = strip(c, &known); s.extend(st); known.push(h); }
        stripped += deflate_with(DICT, &s);
        n += 1; nch += changes.len();
        let _ = &mut actor_dict;
    }
    let n = n as f64;
    println!("docs {n} changes/doc {:.2} raw {:.0} current {:.0} stripped(deps->index, no magic/checksum/len) {:.0}", nch as f64/n, raw as f64/n, cur as f64/n, stripped as f64/n);
}
