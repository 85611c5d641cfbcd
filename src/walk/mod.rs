//! Walk lists: the doors of a patch in the order a canvasser walks them (issue 12).
//!
//! - [`import`]: reading a street list (a register extract) from CSV into doors and residents.
//! - [`order`]: walking order (street, side, natural house numbers, flats by entrance and floor).
//!
//! Storing lists, marking doors, syncing and the Walk screen build on these.

pub mod import;
pub mod order;
