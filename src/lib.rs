//! Groundwork's core: the organiser's notebook, without a window or a network.
//!
//! A canvasser's records live in Automerge documents ([`docs`]), one per person, campaign and
//! shift; a local SQLite file ([`store`]) holds those documents, the changes waiting to be sent
//! to a relay, and tables built from the documents for lists and full-text search. Everything
//! here works offline; sync and the app are layered on top.
//!
//! ```no_run
//! use groundwork::model::{NewPerson, NewConversation, ConversationKind};
//! use groundwork::store::Store;
//!
//! let mut store = Store::open(std::path::Path::new("/tmp/groundwork-example"))?;
//! let id = store.add_person(NewPerson::named("Amina Yusuf"))?;
//! store.record_conversation(
//!     NewConversation {
//!         person_id: id.clone(),
//!         kind: ConversationKind::BreakfastMeeting,
//!         at: None, canvasser: None, shift_id: None,
//!         issues: vec!["living wage".into()],
//!         story: Some("Two jobs, still short every month".into()),
//!         notes: None, engagement: None, follow_up: None,
//!     },
//!     vec![],
//! )?;
//! assert_eq!(store.search("wage", 10)?[0].id, id);
//! # Ok::<(), groundwork::error::Error>(())
//! ```

#![warn(missing_docs)]

pub mod contact;
pub mod crypto;
pub mod demo;
pub mod docs;
pub mod error;
pub mod export;
pub mod fields;
pub mod ids;
pub mod model;
pub mod report;
pub mod rules;
pub mod service;
pub mod store;
pub mod sync;
pub mod walk;
pub mod words;
