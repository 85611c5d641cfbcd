//! Settings: command-line flags, then environment variables (both through clap), then the TOML
//! file given by `--config`, then built-in defaults. See `config.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;

use crate::link::PublicUrl;
use crate::listener::ConnectionLimits;
use crate::ratelimit::{Rate, RateSettings};

pub use crate::listener::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_INFLIGHT_BODY_BYTES,
};
pub use crate::ratelimit::{
    DEFAULT_ENROL_BURST, DEFAULT_ENROL_PER_MINUTE, DEFAULT_FAILED_AUTH_BURST,
    DEFAULT_FAILED_AUTH_PER_MINUTE,
};

/// Default listen address: loopback, for a TLS-terminating reverse proxy in front.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "relay-data";
/// Default page size for pulls: 1 MiB.
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 1024 * 1024;
/// Default log filter.
pub const DEFAULT_LOG: &str = "info";
/// Default cap on tokio's blocking threads (SQLite work, compression).
pub const DEFAULT_BLOCKING_THREADS: usize = 16;
/// Default cap on the bytes a team stores (blobs, document ids and their rows): 1 GiB.
pub const DEFAULT_MAX_TEAM_BYTES: u64 = 1 << 30;
/// Default cap on the changes of one push. The app pushes at most about 4,100 per request.
pub const DEFAULT_MAX_CHANGES_PER_REQUEST: usize = 5_000;

/// Why settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, from the TOML parser.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("{0}")]
    Invalid(String),
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A byte size: an integer, or a string such as `"8MiB"`, `"512 KiB"`, `"1MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SizeValue")]
pub struct ByteSize(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Number(u64),
    Text(String),
}

impl TryFrom<SizeValue> for ByteSize {
    type Error = String;
    fn try_from(v: SizeValue) -> Result<Self, String> {
        match v {
            SizeValue::Number(n) => Ok(ByteSize(n)),
            SizeValue::Text(s) => parse_byte_size(&s),
        }
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_byte_size(s)
    }
}

/// Parses a byte size such as `8MiB`, `512 KiB`, `1MB` or `1000000`.
pub fn parse_byte_size(s: &str) -> Result<ByteSize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size; write e.g. 8MiB, 512KiB or 1000000"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {s:?}; use B, KiB, MiB or GiB"
            ));
        }
    };
    n.checked_mul(factor)
        .map(ByteSize)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// A duration in whole seconds: an integer, or a string such as `"10s"`, `"5m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "DurationValue")]
pub struct Seconds(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Number(u64),
    Text(String),
}

impl TryFrom<DurationValue> for Seconds {
    type Error = String;
    fn try_from(v: DurationValue) -> Result<Self, String> {
        match v {
            DurationValue::Number(0) => Err("a duration must be longer than zero".into()),
            DurationValue::Number(n) => Ok(Seconds(n)),
            DurationValue::Text(s) => parse_duration(&s).map(Seconds),
        }
    }
}

impl std::str::FromStr for Seconds {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s).map(Seconds)
    }
}

/// Parses a duration such as `7d`, `12h`, `30m`, `90s` or `2w` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; write e.g. 7d, 12h, 30m or 90s"))?;
    let factor: u64 = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{s:?} needs a unit: s, m, h, d or w (e.g. 7d)")),
    };
    match n.checked_mul(factor) {
        Some(0) => Err("a duration must be longer than zero".into()),
        Some(secs) => Ok(secs),
        None => Err(format!("{s:?} is too long")),
    }
}

/// Optional settings, from the TOML file or from flags and environment variables; every key may
/// be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL connection settings (none: SQLite in the data directory).
    pub database_url: Option<String>,
    /// Most PostgreSQL connections.
    pub database_pool: Option<usize>,
    /// Request body limit.
    pub max_body_bytes: Option<ByteSize>,
    /// Pull page size limit.
    pub max_page_bytes: Option<ByteSize>,
    /// Log filter, e.g. `info` or `warn,sync_server=debug`.
    pub log: Option<String>,
    /// Log format.
    pub log_format: Option<LogFormat>,
    /// Most connections held open at once.
    pub max_connections: Option<usize>,
    /// Time allowed to receive a request head.
    pub header_read_timeout: Option<Seconds>,
    /// Time allowed to receive a request body.
    pub body_read_timeout: Option<Seconds>,
    /// Time an idle kept-alive connection stays open.
    pub idle_timeout: Option<Seconds>,
    /// Most threads for blocking work (SQLite, compression).
    pub blocking_threads: Option<usize>,
    /// Enrolment attempts per minute per client address.
    pub enrol_per_minute: Option<u32>,
    /// Enrolment attempts at once per client address.
    pub enrol_burst: Option<u32>,
    /// Failed authentications per minute per client address.
    pub failed_auth_per_minute: Option<u32>,
    /// Failed authentications at once per client address.
    pub failed_auth_burst: Option<u32>,
    /// Most bytes one team stores.
    pub max_team_bytes: Option<ByteSize>,
    /// Most changes in one push.
    pub max_changes_per_request: Option<usize>,
    /// Count requests from loopback under their `X-Forwarded-For` address.
    pub trust_proxy_headers: Option<bool>,
    /// Most request body bytes held at once.
    pub max_inflight_body_bytes: Option<ByteSize>,
    /// Built web app served at `/`.
    pub app: Option<PathBuf>,
    /// The relay's address as phones reach it, for join links.
    pub public_url: Option<PublicUrl>,
}

impl FileConfig {
    /// Reads `path`, or gives empty settings when there is no file to read.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// Settings given on the command line or in the environment (`None` = not given): the same
/// optional settings as the file, so that both merge field by field.
pub type Overrides = FileConfig;

/// The resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Directory of the database.
    pub data_dir: PathBuf,
    /// PostgreSQL connection settings: when given, the relay's data is there and not in
    /// `data_dir`.
    pub database_url: Option<String>,
    /// Most PostgreSQL connections kept open.
    pub database_pool: usize,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Pull page size limit in bytes.
    pub max_page_bytes: u64,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Connection cap and timeouts (the cap is not yet fitted to the descriptor limit: see
    /// [`crate::listener::fit_under_fd_limit`]).
    pub connections: ConnectionLimits,
    /// Most threads for blocking work.
    pub blocking_threads: usize,
    /// Rate limits per client address.
    pub rates: RateSettings,
    /// Most bytes one team stores.
    pub max_team_bytes: u64,
    /// Most changes in one push.
    pub max_changes_per_request: usize,
    /// Directory of a built web app served at `/` (none: the relay serves only its API).
    pub app: Option<PathBuf>,
    /// The relay's address as phones reach it (none: no join links are printed).
    pub public_url: Option<PublicUrl>,
}

impl Settings {
    /// Merges flags/environment over the file over the defaults.
    pub fn resolve(over: Overrides, file: FileConfig) -> Result<Self, ConfigError> {
        let listen_text = over
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen address {listen_text:?} is not IP:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080"
            ))
        })?;
        let max_body = over
            .max_body_bytes
            .or(file.max_body_bytes)
            .map_or(DEFAULT_MAX_BODY_BYTES, |b| b.0);
        let max_page = over
            .max_page_bytes
            .or(file.max_page_bytes)
            .map_or(DEFAULT_MAX_PAGE_BYTES, |b| b.0);
        if max_body < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1KiB".into(),
            ));
        }
        if max_page == 0 {
            return Err(ConfigError::Invalid(
                "max_page_bytes must be above zero".into(),
            ));
        }
        let secs = |over: Option<Seconds>, file: Option<Seconds>, default: u64| {
            Duration::from_secs(over.or(file).map_or(default, |s| s.0))
        };
        let connections = ConnectionLimits {
            max_connections: over
                .max_connections
                .or(file.max_connections)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            header_read_timeout: secs(
                over.header_read_timeout,
                file.header_read_timeout,
                DEFAULT_HEADER_READ_TIMEOUT,
            ),
            body_read_timeout: secs(
                over.body_read_timeout,
                file.body_read_timeout,
                DEFAULT_BODY_READ_TIMEOUT,
            ),
            idle_timeout: secs(over.idle_timeout, file.idle_timeout, DEFAULT_IDLE_TIMEOUT),
            max_inflight_body_bytes: over
                .max_inflight_body_bytes
                .or(file.max_inflight_body_bytes)
                .map_or(DEFAULT_MAX_INFLIGHT_BODY_BYTES, |b| b.0),
            max_body_bytes: max_body,
        };
        if connections.max_inflight_body_bytes < max_body {
            return Err(ConfigError::Invalid(
                "max_inflight_body_bytes must be at least max_body_bytes".into(),
            ));
        }
        if connections.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_connections must be at least 1".into(),
            ));
        }
        if connections.idle_timeout > connections.header_read_timeout {
            return Err(ConfigError::Invalid(
                "idle_timeout must not be longer than header_read_timeout: the header timer also \
                 runs while a connection waits for its next request"
                    .into(),
            ));
        }
        let blocking_threads = over
            .blocking_threads
            .or(file.blocking_threads)
            .unwrap_or(DEFAULT_BLOCKING_THREADS);
        if blocking_threads == 0 {
            return Err(ConfigError::Invalid(
                "blocking_threads must be at least 1".into(),
            ));
        }
        let rate =
            |per_minute: Option<u32>, burst: Option<u32>, name: &str, defaults: (u32, u32)| {
                let rate = Rate {
                    per_minute: per_minute.unwrap_or(defaults.0),
                    burst: burst.unwrap_or(defaults.1),
                };
                if rate.per_minute == 0 || rate.burst == 0 {
                    return Err(ConfigError::Invalid(format!(
                        "{name}_per_minute and {name}_burst must be at least 1"
                    )));
                }
                Ok(rate)
            };
        let rates = RateSettings {
            enrol: rate(
                over.enrol_per_minute.or(file.enrol_per_minute),
                over.enrol_burst.or(file.enrol_burst),
                "enrol",
                (DEFAULT_ENROL_PER_MINUTE, DEFAULT_ENROL_BURST),
            )?,
            failed_auth: rate(
                over.failed_auth_per_minute.or(file.failed_auth_per_minute),
                over.failed_auth_burst.or(file.failed_auth_burst),
                "failed_auth",
                (DEFAULT_FAILED_AUTH_PER_MINUTE, DEFAULT_FAILED_AUTH_BURST),
            )?,
            trust_proxy_headers: over
                .trust_proxy_headers
                .or(file.trust_proxy_headers)
                .unwrap_or(false),
        };
        let max_team_bytes = over
            .max_team_bytes
            .or(file.max_team_bytes)
            .map_or(DEFAULT_MAX_TEAM_BYTES, |b| b.0);
        let max_changes_per_request = over
            .max_changes_per_request
            .or(file.max_changes_per_request)
            .unwrap_or(DEFAULT_MAX_CHANGES_PER_REQUEST);
        let database_pool = over
            .database_pool
            .or(file.database_pool)
            .unwrap_or(crate::store::postgres::DEFAULT_POOL_SIZE);
        if database_pool == 0 {
            return Err(ConfigError::Invalid(
                "database_pool must be at least 1".into(),
            ));
        }
        if max_changes_per_request == 0 {
            return Err(ConfigError::Invalid(
                "max_changes_per_request must be at least 1".into(),
            ));
        }
        Ok(Self {
            listen,
            data_dir: over
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: over.database_url.or(file.database_url),
            database_pool,
            max_body_bytes: usize::try_from(max_body).unwrap_or(usize::MAX),
            max_page_bytes: max_page,
            log: over
                .log
                .or(file.log)
                .unwrap_or_else(|| DEFAULT_LOG.to_owned()),
            log_format: over.log_format.or(file.log_format).unwrap_or_default(),
            connections,
            blocking_threads,
            rates,
            max_team_bytes,
            max_changes_per_request,
            app: over.app.or(file.app),
            public_url: over.public_url.or(file.public_url),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!("8MiB".parse(), Ok(ByteSize(8 << 20)));
        assert_eq!("512 KiB".parse(), Ok(ByteSize(512 << 10)));
        assert_eq!("1000".parse(), Ok(ByteSize(1000)));
        assert_eq!("2mb".parse(), Ok(ByteSize(2_000_000)));
        assert!("lots".parse::<ByteSize>().is_err());
        assert!("3 parsecs".parse::<ByteSize>().is_err());
        assert!("99999999999999999999GiB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("7d"), Ok(7 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(12 * 3_600));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999w").is_err());
    }

    #[test]
    fn flags_beat_file_beats_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"0.0.0.0:9000\"\nmax_body_bytes = \"1MiB\"\nmax_page_bytes = 4096\nlog_format = \"json\"\n",
        )
        .expect("valid toml");
        let over = Overrides {
            listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        let s = Settings::resolve(over, file).expect("valid");
        assert_eq!(s.listen, "127.0.0.1:0".parse().expect("addr"));
        assert_eq!(s.max_body_bytes, 1 << 20);
        assert_eq!(s.max_page_bytes, 4096);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(s.log, DEFAULT_LOG);
    }

    #[test]
    fn bad_values_are_explained() {
        let err = Settings::resolve(
            Overrides {
                listen: Some("localhost".into()),
                ..Overrides::default()
            },
            FileConfig::default(),
        )
        .expect_err("not an address");
        assert!(err.to_string().contains("IP:PORT"));
        assert!(toml::from_str::<FileConfig>("colour = \"red\"").is_err());
        let file: FileConfig =
            toml::from_str("idle_timeout = \"1m\"\nheader_read_timeout = \"10s\"").expect("toml");
        let err = Settings::resolve(Overrides::default(), file).expect_err("idle above header");
        assert!(err.to_string().contains("idle_timeout"));
        assert!(toml::from_str::<FileConfig>("body_read_timeout = 0").is_err());
    }

    #[test]
    fn hardening_settings_resolve() {
        let file: FileConfig = toml::from_str(
            "max_connections = 100\nheader_read_timeout = \"20s\"\nbody_read_timeout = 30\n\
             max_team_bytes = \"2GiB\"\nenrol_burst = 5\n",
        )
        .expect("toml");
        let over = Overrides {
            enrol_per_minute: Some(2),
            ..Overrides::default()
        };
        let s = Settings::resolve(over, file).expect("valid");
        assert_eq!(s.connections.max_connections, 100);
        assert_eq!(s.connections.header_read_timeout, Duration::from_secs(20));
        assert_eq!(s.connections.body_read_timeout, Duration::from_secs(30));
        assert_eq!(
            s.connections.idle_timeout,
            Duration::from_secs(DEFAULT_IDLE_TIMEOUT)
        );
        assert_eq!(s.max_team_bytes, 2 << 30);
        assert_eq!(
            s.rates.enrol,
            Rate {
                per_minute: 2,
                burst: 5
            }
        );
        assert_eq!(s.max_changes_per_request, DEFAULT_MAX_CHANGES_PER_REQUEST);
    }

    #[test]
    fn public_url_comes_from_flag_or_file_and_is_checked() {
        let file: FileConfig =
            toml::from_str("public_url = \"https://file.example/\"").expect("toml");
        let s = Settings::resolve(Overrides::default(), file.clone()).expect("valid");
        assert_eq!(
            s.public_url.map(|u| u.to_string()).as_deref(),
            Some("https://file.example")
        );
        let over = Overrides {
            public_url: Some("https://flag.example".parse().expect("valid")),
            ..Overrides::default()
        };
        let s = Settings::resolve(over, file).expect("valid");
        assert_eq!(
            s.public_url.map(|u| u.to_string()).as_deref(),
            Some("https://flag.example")
        );
        let err = toml::from_str::<FileConfig>("public_url = \"https://x.example/app\"")
            .expect_err("path refused");
        assert!(err.to_string().contains("has a path"), "{err}");
    }

    #[test]
    fn example_config_file_is_valid() {
        let text = include_str!("../config.example.toml");
        let file: FileConfig = toml::from_str(text).expect("example parses");
        Settings::resolve(Overrides::default(), file).expect("example resolves");
    }
}
