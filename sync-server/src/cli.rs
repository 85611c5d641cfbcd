//! The command line: `serve` and the operator commands. Every flag also reads an environment
//! variable (`GROUNDWORK_RELAY_*`), and `--data-dir` / `--config` work after any subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ByteSize, LogFormat, Overrides, parse_duration};

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

    /// TOML settings file (see config.example.toml)
    #[arg(
        long,
        env = "GROUNDWORK_RELAY_CONFIG",
        global = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay until interrupted (Ctrl-C or SIGTERM)
    Serve(ServeArgs),
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
}

/// `team …`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team; prints JSON {"team_id": …, "invite": …} with a single-use 7-day invite
    Create {
        /// The team's name (for operators; devices never see it)
        #[arg(long)]
        name: String,
    },
}

/// `invite …`
#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Create an invite to a team; prints the invite code
    Create {
        /// The team's id
        #[arg(long, value_name = "ID")]
        team: String,
        /// How many devices may enrol with it
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        uses: u32,
        /// How long it stays valid: s, m, h, d or w, e.g. 7d
        #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
        expires_in: u64,
    },
}

/// `device …`
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List a team's devices as JSON (id, name, last sync, revocation)
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
}

impl Cli {
    /// The settings given as flags or environment variables, for [`crate::config::Settings`].
    pub fn overrides(&self) -> Overrides {
        let mut over = Overrides {
            data_dir: self.data_dir.clone(),
            ..Overrides::default()
        };
        if let Command::Serve(serve) = &self.command {
            over.listen.clone_from(&serve.listen);
            over.max_body_bytes = serve.max_body_bytes;
            over.max_page_bytes = serve.max_page_bytes;
            over.log.clone_from(&serve.log);
            over.log_format = serve.log_format;
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
                        uses,
                        expires_in,
                    },
            } => {
                assert_eq!((team.as_str(), uses, expires_in), ("t1", 5, 7_200));
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
