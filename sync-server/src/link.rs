//! The join link: the relay's public address (`--public-url`), the link
//! `https://RELAY/#join=CODE` that opens the web app served by the relay and joins the team, and
//! that link drawn as a QR code in a terminal (`invite create --qr`).
//!
//! The invite code goes in the fragment (after `#`), which browsers never send, so the code does
//! not reach the relay's logs or those of a proxy in front of it.

use std::fmt;
use std::str::FromStr;

use qrcodegen::{QrCode, QrCodeEcc};
use serde::Deserialize;

/// Modules of light margin around the QR code (the quiet zone scanners need; the standard asks
/// for four).
pub const QUIET_ZONE: i32 = 4;

/// Why a public URL was refused. Every message shows a URL that would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    /// Not `http://` or `https://`.
    #[error(
        "public URL {0:?} must start with https:// (or http:// for a test relay), e.g. https://relay.example.org"
    )]
    Scheme(String),
    /// Nothing after the scheme, or characters a host name cannot hold.
    #[error(
        "public URL {0:?} has no valid host name; write the address phones open, e.g. https://relay.example.org or https://relay.example.org:8443"
    )]
    Host(String),
    /// User name or password in the URL.
    #[error(
        "public URL {0:?} contains a user name or password; leave them out, e.g. https://relay.example.org"
    )]
    Credentials(String),
    /// A port that is not a number from 1 to 65535.
    #[error(
        "public URL {0:?} has an invalid port; use a number from 1 to 65535, e.g. https://relay.example.org:8443"
    )]
    Port(String),
    /// A path other than `/`.
    #[error(
        "public URL {0:?} has a path; the relay and its web app must be at the root of the host, so give only scheme and host, e.g. https://relay.example.org"
    )]
    Path(String),
    /// A `?query`.
    #[error("public URL {0:?} has a query (?…); remove it, e.g. https://relay.example.org")]
    Query(String),
    /// A `#fragment`.
    #[error(
        "public URL {0:?} has a fragment (#…); remove it: the join link adds its own, e.g. https://relay.example.org"
    )]
    Fragment(String),
}

/// The relay's address as phones reach it: `http` or `https`, a host, maybe a port, nothing
/// else. Kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PublicUrl(String);

impl PublicUrl {
    /// The origin, e.g. `https://relay.example.org`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The link that opens the app from this relay and joins with `code`.
    pub fn join_link(&self, code: &str) -> String {
        format!("{}/#join={code}", self.0)
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PublicUrl {
    type Err = PublicUrlError;

    fn from_str(text: &str) -> Result<Self, PublicUrlError> {
        let owned = || text.to_owned();
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| PublicUrlError::Scheme(owned()))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(PublicUrlError::Scheme(owned()));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(PublicUrlError::Credentials(owned()));
        }
        let host_char = |c: char| c.is_ascii_alphanumeric() || "-._:[]".contains(c);
        if authority.is_empty() || !authority.chars().all(host_char) {
            return Err(PublicUrlError::Host(owned()));
        }
        // The port follows the last colon, unless that colon is inside an IPv6 literal.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
        if host.is_empty() || (!bracketed && host.contains(['[', ']', ':'])) {
            return Err(PublicUrlError::Host(owned()));
        }
        if let Some(port) = port
            && !matches!(port.parse::<u16>(), Ok(p) if p > 0)
        {
            return Err(PublicUrlError::Port(owned()));
        }
        if tail.contains('#') {
            return Err(PublicUrlError::Fragment(owned()));
        }
        if tail.contains('?') {
            return Err(PublicUrlError::Query(owned()));
        }
        if !tail.is_empty() && tail != "/" {
            return Err(PublicUrlError::Path(owned()));
        }
        Ok(Self(format!("{scheme}://{authority}")))
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = PublicUrlError;
    fn try_from(text: String) -> Result<Self, PublicUrlError> {
        text.parse()
    }
}

/// Why a link could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in the largest QR code.
    #[error(
        "the join link is too long for a QR code ({0}); use a shorter --public-url and print the link instead"
    )]
    TooLong(qrcodegen::DataTooLong),
}

/// Draws `text` as a QR code for a terminal: one character per module across and two modules
/// per line (Unicode half blocks), with a quiet zone of [`QUIET_ZONE`] modules.
///
/// Light modules are drawn (`█`, `▀`, `▄`) and dark ones left blank, which reads right on the
/// usual light-on-dark terminal; on a dark-on-light terminal the code comes out inverted, which
/// most phone cameras read too. Every line has the same width and ends with a newline.
pub fn qr_text(text: &str) -> Result<String, QrError> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).map_err(QrError::TooLong)?;
    let light = |x: i32, y: i32| !code.get_module(x, y);
    let side = code.size() + 2 * QUIET_ZONE;
    let rows = (side + 1) / 2;
    let mut out = String::with_capacity(((side as usize) * 3 + 1) * rows as usize);
    for row in 0..rows {
        let top_y = 2 * row - QUIET_ZONE;
        for col in 0..side {
            let x = col - QUIET_ZONE;
            let top = light(x, top_y);
            // An odd side leaves half of the last line below the quiet zone: blank.
            let bottom = 2 * row + 1 < side && light(x, top_y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        text.parse::<PublicUrl>()
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .to_string()
    }

    #[test]
    fn good_urls_are_kept_as_origins() {
        assert_eq!(ok("https://relay.example.org"), "https://relay.example.org");
        assert_eq!(
            ok("https://relay.example.org/"),
            "https://relay.example.org"
        );
        assert_eq!(ok("HTTP://10.0.0.5:8080/"), "http://10.0.0.5:8080");
        assert_eq!(ok("http://[::1]:8080"), "http://[::1]:8080");
        assert_eq!(ok("https://[2001:db8::1]"), "https://[2001:db8::1]");
        let url: PublicUrl = "https://r.example".parse().expect("valid");
        assert_eq!(
            url.join_link("ABCD-EFGH"),
            "https://r.example/#join=ABCD-EFGH"
        );
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        let err = |text: &str| text.parse::<PublicUrl>().expect_err(text);
        assert!(matches!(
            err("relay.example.org"),
            PublicUrlError::Scheme(_)
        ));
        assert!(matches!(
            err("ftp://relay.example.org"),
            PublicUrlError::Scheme(_)
        ));
        assert!(matches!(err("https://"), PublicUrlError::Host(_)));
        assert!(matches!(err("https:///x"), PublicUrlError::Host(_)));
        assert!(matches!(err("https://re lay"), PublicUrlError::Host(_)));
        assert!(matches!(err("https://a:b:c"), PublicUrlError::Host(_)));
        assert!(matches!(
            err("https://u:p@relay"),
            PublicUrlError::Credentials(_)
        ));
        assert!(matches!(err("https://relay:0"), PublicUrlError::Port(_)));
        assert!(matches!(
            err("https://relay:99999"),
            PublicUrlError::Port(_)
        ));
        assert!(matches!(err("https://relay:"), PublicUrlError::Port(_)));
        assert!(matches!(err("https://relay/app"), PublicUrlError::Path(_)));
        assert!(matches!(err("https://relay//"), PublicUrlError::Path(_)));
        assert!(matches!(
            err("https://relay/?a=1"),
            PublicUrlError::Query(_)
        ));
        assert!(matches!(
            err("https://relay#x"),
            PublicUrlError::Fragment(_)
        ));
        assert!(
            err("https://relay/app")
                .to_string()
                .contains("https://relay.example.org")
        );
    }

    #[test]
    fn qr_is_a_square_of_half_blocks_with_a_light_border() {
        let text = qr_text("https://relay.example.org/#join=ABCD-EFGH-IJKL").expect("fits");
        let lines: Vec<&str> = text.lines().collect();
        let width = lines[0].chars().count();
        assert_eq!(lines.len(), width.div_ceil(2));
        // Version v is 17 + 4v modules across.
        let modules = width - 2 * QUIET_ZONE as usize;
        assert!(
            modules >= 21 && (modules - 17).is_multiple_of(4),
            "{modules}"
        );
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert!(text.chars().all(|c| " ▀▄█\n".contains(c)));
        assert!(lines[0].chars().all(|c| c == '█'), "quiet zone on top");
        let (last, body) = lines.split_last().expect("lines");
        assert!(
            body.iter()
                .all(|l| l.starts_with("████") && l.ends_with("████"))
        );
        // An odd side: the last line holds the bottom row of the quiet zone in its top half.
        assert!(last.chars().all(|c| c == '▀'), "quiet zone below");
        assert!(qr_text(&"x".repeat(5_000)).is_err());
    }
}
