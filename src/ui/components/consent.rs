//! The consent channels as chips: which ways a person agreed to be contacted.

use dioxus::prelude::*;
use groundwork::model::ConsentChannel;

use super::{Chip, Chips};

/// Every channel as a chip, `selected` lit; a tap reports the channel.
#[component]
pub fn ConsentChips(
    selected: Vec<ConsentChannel>,
    ontoggle: EventHandler<ConsentChannel>,
) -> Element {
    let chips: Vec<Chip> = ConsentChannel::ALL
        .iter()
        .map(|c| Chip::plain(c.as_str()))
        .collect();
    let selected: Vec<String> = selected.iter().map(|c| c.as_str().to_string()).collect();
    rsx! {
        Chips {
            label: "Agreed to be contacted by",
            chips,
            selected,
            ontoggle: move |v: String| {
                if let Ok(c) = v.parse::<ConsentChannel>() {
                    ontoggle.call(c);
                }
            },
        }
    }
}

/// Add `channel` to `list`, or take it out if it is there.
pub fn toggle(list: &mut Vec<ConsentChannel>, channel: ConsentChannel) {
    match list.iter().position(|c| *c == channel) {
        Some(i) => {
            list.remove(i);
        }
        None => list.push(channel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggling_twice_restores_the_list() {
        let mut list = vec![ConsentChannel::Phone];
        toggle(&mut list, ConsentChannel::Sms);
        assert_eq!(list, vec![ConsentChannel::Phone, ConsentChannel::Sms]);
        toggle(&mut list, ConsentChannel::Phone);
        assert_eq!(list, vec![ConsentChannel::Sms]);
    }
}
