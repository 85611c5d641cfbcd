//! Stateless building blocks: they draw what they are given and report what the user did.
//! Screens (in `views/`) own the state. Each component's style sits beside it.

mod chips;
mod confirm;
mod consent;
mod field;
mod progress;
mod qr;
mod sync_badge;
mod trend;

pub use chips::{Chip, Chips};
pub use confirm::Confirm;
pub use consent::{ConsentChips, toggle as toggle_consent};
pub use field::TextField;
pub use progress::ProgressBar;
pub use qr::QrImage;
pub use sync_badge::SyncBadge;
pub use trend::{TrendChart, TrendPoint};

/// The components' styles, in one sheet.
pub const STYLE: &str = concat!(
    include_str!("chips.css"),
    include_str!("confirm.css"),
    include_str!("field.css"),
    include_str!("progress.css"),
    include_str!("sync_badge.css"),
    include_str!("trend.css"),
);
