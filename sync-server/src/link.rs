//! The join link: the relay's public address (`--public-url`), the link
//! `https://RELAY/#join=CODE` that opens the web app served by the relay and joins the team, and
//! that link drawn as a QR code in a terminal (`invite create --qr`).
//!
//! The invite code goes in the fragment (after `#`), which browsers never send, so the code does
//! not reach the relay's logs or those of a proxy in front of it.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

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
        "the join link is too long for a QR code; use a shorter --public-url and print the link instead"
    )]
    TooLong,
}

/// `text` as a QR code for a terminal ([`groundwork_protocol::qr::text`]).
pub fn qr_text(text: &str) -> Result<String, QrError> {
    groundwork_protocol::qr::text(text).ok_or(QrError::TooLong)
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
}
