//! Settings: command-line flags, then environment variables (both through clap), then the TOML
//! file given by `--config`, then built-in defaults. See `config.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default listen address: loopback, for a TLS-terminating reverse proxy in front.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "relay-data";
/// Default request body limit: 8 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;
/// Default page size for pulls: 1 MiB.
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 1024 * 1024;
/// Default log filter.
pub const DEFAULT_LOG: &str = "info";

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
    /// Request body limit.
    pub max_body_bytes: Option<ByteSize>,
    /// Pull page size limit.
    pub max_page_bytes: Option<ByteSize>,
    /// Log filter, e.g. `info` or `warn,sync_server=debug`.
    pub log: Option<String>,
    /// Log format.
    pub log_format: Option<LogFormat>,
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
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Pull page size limit in bytes.
    pub max_page_bytes: u64,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
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
        Ok(Self {
            listen,
            data_dir: over
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            max_body_bytes: usize::try_from(max_body).unwrap_or(usize::MAX),
            max_page_bytes: max_page,
            log: over
                .log
                .or(file.log)
                .unwrap_or_else(|| DEFAULT_LOG.to_owned()),
            log_format: over.log_format.or(file.log_format).unwrap_or_default(),
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
    }

    #[test]
    fn example_config_file_is_valid() {
        let text = include_str!("../config.example.toml");
        let file: FileConfig = toml::from_str(text).expect("example parses");
        Settings::resolve(Overrides::default(), file).expect("example resolves");
    }
}
