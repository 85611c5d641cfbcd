//! How the app may offer to contact a person: a tap-to-call (`tel:`) or text (`sms:`) link
//! only for a channel the person consented to, never for someone who asked not to be
//! contacted at all, and only when a phone number is recorded.

use crate::model::{ConsentChannel, Person};

/// The links the app may show for a person; `None` where consent or a number is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContactLinks {
    /// `tel:` link, when the person agreed to phone calls.
    pub call: Option<String>,
    /// `sms:` link, when the person agreed to text messages.
    pub text: Option<String>,
    /// The phone number as recorded, when either link is given.
    pub phone: Option<String>,
}

/// The number of `phone` as a link target: its digits, with a leading `+` kept; `None` when
/// it holds no digit.
fn dialable(phone: &str) -> Option<String> {
    let trimmed = phone.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    Some(if trimmed.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

/// What the app may offer to contact `person` by.
pub fn links(person: &Person) -> ContactLinks {
    if person.do_not_contact {
        return ContactLinks::default();
    }
    let Some((phone, number)) = person
        .phone
        .as_deref()
        .and_then(|p| dialable(p).map(|n| (p.trim().to_string(), n)))
    else {
        return ContactLinks::default();
    };
    let agreed = |c: ConsentChannel| person.consent.contains_key(c.as_str());
    let call = agreed(ConsentChannel::Phone).then(|| format!("tel:{number}"));
    let text = agreed(ConsentChannel::Sms).then(|| format!("sms:{number}"));
    let phone = (call.is_some() || text.is_some()).then_some(phone);
    ContactLinks { call, text, phone }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Record;

    fn person(phone: Option<&str>, consent: &[&str], do_not_contact: bool) -> Person {
        let mut p = Person::blank();
        p.name = "Grace".into();
        p.phone = phone.map(String::from);
        p.consent = consent
            .iter()
            .map(|c| (c.to_string(), "2026-09-07T06:00:00.000Z".to_string()))
            .collect();
        p.do_not_contact = do_not_contact;
        p
    }

    #[test]
    fn links_follow_consent() {
        let both = links(&person(Some("07700 900123"), &["phone", "sms"], false));
        assert_eq!(both.call.as_deref(), Some("tel:07700900123"));
        assert_eq!(both.text.as_deref(), Some("sms:07700900123"));
        assert_eq!(both.phone.as_deref(), Some("07700 900123"));

        let calls = links(&person(Some("+44 7700 900123"), &["phone"], false));
        assert_eq!(calls.call.as_deref(), Some("tel:+447700900123"));
        assert_eq!(calls.text, None);

        let texts = links(&person(Some("07700 900123"), &["sms", "email"], false));
        assert_eq!(texts.call, None);
        assert_eq!(texts.text.as_deref(), Some("sms:07700900123"));

        let email_only = links(&person(Some("07700 900123"), &["email"], false));
        assert_eq!(email_only, ContactLinks::default());
    }

    #[test]
    fn no_links_without_a_number_or_for_do_not_contact() {
        assert_eq!(
            links(&person(Some("07700 900123"), &["phone", "sms"], true)),
            ContactLinks::default()
        );
        assert_eq!(
            links(&person(None, &["phone", "sms"], false)),
            ContactLinks::default()
        );
        assert_eq!(
            links(&person(Some("ask at the desk"), &["phone"], false)),
            ContactLinks::default()
        );
    }
}
