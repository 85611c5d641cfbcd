//! `sync-server`: the Groundwork relay's binary. See `README.md` for the commands.

use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use groundwork_protocol::Role;
use sync_server::api::Limits;
use sync_server::app::AppDir;
use sync_server::cli::{Cli, Command, DeviceCommand, InviteCommand, TeamCommand};
use sync_server::config::{FileConfig, LogFormat, Settings};
use sync_server::ops;
use sync_server::server::{RunningRelay, shutdown_signal};
use sync_server::store::{PostgresStore, SqliteStore, Store};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let file = FileConfig::load(cli.config.as_deref())?;
    let settings = Settings::resolve(cli.overrides(), file)?;
    match cli.command {
        Command::Serve(_) => {
            init_logging(&settings.log, settings.log_format)?;
            serve(settings)
        }
        command => {
            init_logging("warn", LogFormat::Text)?;
            let new = settings.database_url.is_none()
                && !settings
                    .data_dir
                    .join(sync_server::store::sqlite::DB_FILE)
                    .exists();
            let store = open_store(&settings)?;
            if new {
                // A mistyped --data-dir would otherwise make a team the running relay never
                // serves, silently.
                eprintln!(
                    "note: there was no relay database in {}: a new one was made there. If the \
                     relay runs on another data directory, give that one with --data-dir.",
                    settings.data_dir.display()
                );
            }
            operate(store.as_ref(), command, &settings)
        }
    }
}

fn init_logging(filter: &str, format: LogFormat) -> Result<()> {
    let targets = Targets::from_str(filter).with_context(|| {
        format!("log filter {filter:?} is invalid; try info or warn,sync_server=debug")
    })?;
    // Colours only for a person at a terminal: a log file or journal gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    let registry = tracing_subscriber::registry().with(targets);
    match format {
        LogFormat::Text => registry.with(fmt).try_init(),
        LogFormat::Json => registry.with(fmt.json()).try_init(),
    }
    .context("cannot start logging")
}

fn serve(settings: Settings) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(settings.blocking_threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let app = settings.app.as_deref().map(AppDir::open).transpose()?;
    if let Some(url) = &settings.public_url {
        tracing::info!(public_url = %url, "join links open {url}/#join=CODE");
    }
    if let Some(app) = &app {
        tracing::info!(app = %app.root().display(), "serving the web app at /");
    }
    // Opened before the runtime runs and dropped after it stopped: PostgreSQL's blocking client
    // drives a runtime of its own, which cannot start or stop on the runtime's threads.
    let store = open_store(&settings)?;
    let served = Arc::clone(&store);
    let result = runtime.block_on(async {
        let limits = Limits {
            max_body_bytes: settings.max_body_bytes,
            max_page_bytes: settings.max_page_bytes,
            max_changes_per_request: settings.max_changes_per_request,
            connections: settings.connections,
            rates: settings.rates,
        };
        let relay = RunningRelay::start_with_app(settings.listen, served, limits, app)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let addr = relay.addr();
        tracing::info!(%addr, "listening");
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}")?;
        stdout.flush()?;
        drop(stdout);
        shutdown_signal().await;
        tracing::info!("shutting down");
        relay.stop().await.context("server failed")?;
        Ok(())
    });
    drop(runtime);
    drop(store);
    result
}

/// The store the settings name: PostgreSQL when a database URL is given, else the SQLite file
/// in the data directory.
fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    if let Some(url) = &settings.database_url {
        let store = PostgresStore::open(url, settings.database_pool)
            .context("cannot open the relay's PostgreSQL database")?
            .with_max_team_bytes(settings.max_team_bytes);
        tracing::info!(database = %store.describe(), "store opened");
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(&settings.data_dir)
        .with_context(|| {
            format!(
                "cannot open the relay database in {}",
                settings.data_dir.display()
            )
        })?
        .with_max_team_bytes(settings.max_team_bytes);
    tracing::info!(database = %store.path().display(), "store opened");
    Ok(Arc::new(store))
}

fn operate(store: &dyn Store, command: Command, settings: &Settings) -> Result<()> {
    let public_url = settings.public_url.as_ref();
    let out = match command {
        Command::Serve(_) => anyhow::bail!("serve is not an operator command"),
        Command::Team {
            command: TeamCommand::Create { name },
        } => ops::team_create(store, &name, public_url)?.to_string(),
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
            ops::check_qr(public_url, qr)?;
            let role = if lead { Role::Lead } else { Role::Canvasser };
            let invite = ops::operator_invite(store, &team, uses, expires_in, role)?;
            if invite.team_sealed {
                eprintln!("{}", ops::SEALED_TEAM_WARNING);
            }
            if invite.no_lead_yet {
                eprintln!("{}", ops::NO_LEAD_YET_WARNING);
            }
            ops::invite_output(&invite.code, public_url, qr)?
        }
        Command::Invite {
            command: InviteCommand::List { team },
        } => serde_json::to_string_pretty(&ops::invite_list(store, &team)?)?,
        Command::Invite {
            command: InviteCommand::Cancel { team, invite },
        } => {
            let out = ops::invite_cancel(store, &team, &invite)?;
            if out["joining"].as_u64().unwrap_or(0) > 0 {
                eprintln!("{}", ops::joining_warning());
            }
            out.to_string()
        }
        Command::Device {
            command: DeviceCommand::List { team },
        } => serde_json::to_string_pretty(&ops::device_list(store, &team)?)?,
        Command::Device {
            command: DeviceCommand::Revoke { device_id },
        } => ops::device_revoke(store, &device_id)?.to_string(),
        Command::Device {
            command: DeviceCommand::Promote { device_id },
        } => ops::device_promote(store, &device_id)?.to_string(),
    };
    println!("{out}");
    Ok(())
}
