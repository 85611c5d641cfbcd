//! The command line: `serve` and the operator commands. Every flag also reads an environment
//! variable (`GROUNDWORK_RELAY_*`), and `--data-dir` / `--config` work after any subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ByteSize, LogFormat, Overrides, Seconds, parse_duration};
use crate::link::PublicUrl;

/// The Groundwork relay: stores each team's opaque change log and serves it to the team's devices.
#[derive(Debug, Parser)]
#[command(name = "sync-server", version, about)]
pub struct Cli {
    /// Directory holding the relay's database [default: relay-data]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_DATA_DIR",
        global = true,
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,

    /// Keep the relay's data in PostgreSQL instead of the data directory's SQLite file:
    /// postgres://USER@HOST/DBNAME or host=/var/run/postgresql dbname=DBNAME (no TLS: use a
    /// Unix socket or a private network) [default: none, SQLite]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Most connections to PostgreSQL this process keeps open [default: 8]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_DATABASE_POOL",
        global = true,
        value_name = "N"
    )]
    pub database_pool: Option<usize>,

    /// TOML settings file (see config.example.toml)
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_CONFIG",
        global = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// The relay's address as phones reach it, e.g. https://relay.example.org: join links
    /// https://RELAY/#join=CODE are printed with invites when it is known [default: none]
    #[allow(rustdoc::bare_urls)] // the text is the option's --help, shown as written
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_PUBLIC_URL",
        global = true,
        value_name = "URL"
    )]
    pub public_url: Option<PublicUrl>,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay until interrupted (Ctrl-C or SIGTERM)
    Serve(Box<ServeArgs>),
    /// Manage teams
    Team {
        /// What to do with teams
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// Manage invites
    Invite {
        /// What to do with invites
        #[command(subcommand)]
        command: InviteCommand,
    },
    /// Manage devices
    Device {
        /// What to do with devices
        #[command(subcommand)]
        command: DeviceCommand,
    },
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8080]
    #[arg(long, env = "GROUNDWORK_RELAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Largest request body, e.g. 8MiB [default: 8MiB]
    #[arg(long, env = "GROUNDWORK_RELAY_MAX_BODY_BYTES", value_name = "SIZE")]
    pub max_body_bytes: Option<ByteSize>,

    /// Largest page of pulled changes, e.g. 1MiB [default: 1MiB]
    #[arg(long, env = "GROUNDWORK_RELAY_MAX_PAGE_BYTES", value_name = "SIZE")]
    pub max_page_bytes: Option<ByteSize>,

    /// Log filter, e.g. info or warn,sync_server=debug [default: info]
    #[arg(long, env = "GROUNDWORK_RELAY_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// Log format [default: text]
    #[arg(long, env = "GROUNDWORK_RELAY_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Most connections held open at once, kept under the file descriptor limit [default: 512]
    #[arg(long, env = "GROUNDWORK_RELAY_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Time allowed to receive a request's head, e.g. 10s [default: 10s]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_HEADER_READ_TIMEOUT",
        value_name = "DURATION"
    )]
    pub header_read_timeout: Option<Seconds>,

    /// Time allowed to receive a request's body, e.g. 60s [default: 60s]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_BODY_READ_TIMEOUT",
        value_name = "DURATION"
    )]
    pub body_read_timeout: Option<Seconds>,

    /// Time an idle kept-alive connection stays open, e.g. 5s [default: 5s]
    #[arg(long, env = "GROUNDWORK_RELAY_IDLE_TIMEOUT", value_name = "DURATION")]
    pub idle_timeout: Option<Seconds>,

    /// Most threads for blocking work (SQLite, compression) [default: 16]
    #[arg(long, env = "GROUNDWORK_RELAY_BLOCKING_THREADS", value_name = "N")]
    pub blocking_threads: Option<usize>,

    /// Enrolment attempts per minute per client address [default: 10]
    #[arg(long, env = "GROUNDWORK_RELAY_ENROL_PER_MINUTE", value_name = "N")]
    pub enrol_per_minute: Option<u32>,

    /// Enrolment attempts at once per client address [default: 30]
    #[arg(long, env = "GROUNDWORK_RELAY_ENROL_BURST", value_name = "N")]
    pub enrol_burst: Option<u32>,

    /// Failed authentications per minute per client address [default: 30]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_FAILED_AUTH_PER_MINUTE",
        value_name = "N"
    )]
    pub failed_auth_per_minute: Option<u32>,

    /// Failed authentications at once per client address [default: 60]
    #[arg(long, env = "GROUNDWORK_RELAY_FAILED_AUTH_BURST", value_name = "N")]
    pub failed_auth_burst: Option<u32>,

    /// Most bytes one team stores, e.g. 1GiB [default: 1GiB]
    #[arg(long, env = "GROUNDWORK_RELAY_MAX_TEAM_BYTES", value_name = "SIZE")]
    pub max_team_bytes: Option<ByteSize>,

    /// Most changes in one push [default: 5000]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_MAX_CHANGES_PER_REQUEST",
        value_name = "N"
    )]
    pub max_changes_per_request: Option<usize>,

    /// Behind a reverse proxy on this machine: count requests from loopback under the last
    /// X-Forwarded-For address for the rate limits [default: false]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_TRUST_PROXY_HEADERS",
        value_name = "true|false"
    )]
    pub trust_proxy_headers: Option<bool>,

    /// Most request body bytes held at once over all connections, e.g. 256MiB [default: 256MiB]
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_MAX_INFLIGHT_BODY_BYTES",
        value_name = "SIZE"
    )]
    pub max_inflight_body_bytes: Option<ByteSize>,

    /// Built web app to serve at `/` next to the API (a directory holding index.html, as
    /// .ci/build-web writes it) [default: none]
    #[arg(long, env = "GROUNDWORK_RELAY_APP", value_name = "DIR")]
    pub app: Option<PathBuf>,
}

/// `team …`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team; prints JSON {"team_id": …, "invite": …, "join_link": …} with a single-use
    /// 7-day lead invite: the device that joins with it runs the team (join_link is null without
    /// a public URL)
    Create {
        /// The team's name (for operators; devices never see it)
        #[arg(long)]
        name: String,
    },
}

/// `invite …`
#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Create an invite to a team (for canvassers unless --lead); prints the invite code, then
    /// the join link when the public URL is known. For a sealed (end-to-end encrypted) team it
    /// warns on standard error: devices join a sealed team only with an invite from a lead's app
    Create {
        /// The team's id
        #[arg(long, value_name = "ID")]
        team: String,
        /// Devices that join with it are team leads (they invite, remove, promote and erase)
        #[arg(long)]
        lead: bool,
        /// How many devices may enrol with it
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        uses: u32,
        /// How long it stays valid: s, m, h, d or w, e.g. 7d
        #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
        expires_in: u64,
        /// Also draw the join link as a QR code (needs --public-url)
        #[arg(long)]
        qr: bool,
    },
    /// List a team's open invites as JSON (id, role, uses left, when made and by which lead's
    /// device, expiry, whether it carries the team's keys)
    List {
        /// The team's id
        #[arg(long, value_name = "ID")]
        team: String,
    },
    /// Cancel an invite (a code sent to the wrong person): nobody joins with it any more, and
    /// the keys it carries are forgotten; prints JSON {"id", "cancelled", "joining"}
    Cancel {
        /// The team's id
        #[arg(long, value_name = "ID")]
        team: String,
        /// The invite's id (from `invite list`) or its code
        invite: String,
    },
}

/// `device …`
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List a team's devices as JSON (id, name, last sync, revocation, role)
    List {
        /// The team's id
        #[arg(long, value_name = "ID")]
        team: String,
    },
    /// Revoke a device: its token stops working at once (403)
    Revoke {
        /// The device's id, from `device list`
        device_id: String,
    },
    /// Make a device a team lead (it can then invite, remove, promote and erase)
    Promote {
        /// The device's id, from `device list`
        device_id: String,
    },
}

impl Cli {
    /// The settings given as flags or environment variables, for [`crate::config::Settings`].
    pub fn overrides(&self) -> Overrides {
        let mut over = Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            database_pool: self.database_pool,
            public_url: self.public_url.clone(),
            ..Overrides::default()
        };
        if let Command::Serve(serve) = &self.command {
            over.listen.clone_from(&serve.listen);
            over.max_body_bytes = serve.max_body_bytes;
            over.max_page_bytes = serve.max_page_bytes;
            over.log.clone_from(&serve.log);
            over.log_format = serve.log_format;
            over.max_connections = serve.max_connections;
            over.header_read_timeout = serve.header_read_timeout;
            over.body_read_timeout = serve.body_read_timeout;
            over.idle_timeout = serve.idle_timeout;
            over.blocking_threads = serve.blocking_threads;
            over.enrol_per_minute = serve.enrol_per_minute;
            over.enrol_burst = serve.enrol_burst;
            over.failed_auth_per_minute = serve.failed_auth_per_minute;
            over.failed_auth_burst = serve.failed_auth_burst;
            over.max_team_bytes = serve.max_team_bytes;
            over.max_changes_per_request = serve.max_changes_per_request;
            over.trust_proxy_headers = serve.trust_proxy_headers;
            over.max_inflight_body_bytes = serve.max_inflight_body_bytes;
            over.app.clone_from(&serve.app);
        }
        over
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn operator_commands_parse() {
        let cli = Cli::try_parse_from([
            "sync-server",
            "invite",
            "create",
            "--team",
            "t1",
            "--uses",
            "5",
            "--expires-in",
            "2h",
            "--data-dir",
            "/tmp/x",
        ])
        .expect("parses");
        assert_eq!(cli.data_dir, Some(PathBuf::from("/tmp/x")));
        match cli.command {
            Command::Invite {
                command:
                    InviteCommand::Create {
                        team,
                        lead,
                        uses,
                        expires_in,
                        qr,
                    },
            } => {
                assert_eq!(
                    (team.as_str(), lead, uses, expires_in, qr),
                    ("t1", false, 5, 7_200, false)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            Cli::try_parse_from([
                "sync-server",
                "invite",
                "create",
                "--team",
                "t",
                "--uses",
                "0"
            ])
            .is_err()
        );
        let cli = Cli::try_parse_from(["sync-server", "invite", "create", "--team", "t", "--lead"])
            .expect("parses");
        assert!(matches!(
            cli.command,
            Command::Invite {
                command: InviteCommand::Create { lead: true, .. }
            }
        ));
        let cli = Cli::try_parse_from(["sync-server", "device", "promote", "d1"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Device {
                command: DeviceCommand::Promote { device_id }
            } if device_id == "d1"
        ));
        assert!(
            Cli::try_parse_from([
                "sync-server",
                "invite",
                "create",
                "--team",
                "t",
                "--expires-in",
                "soon"
            ])
            .is_err()
        );
    }
}
