//! Launching the app: the desktop window on the embedded store (feature `desktop`), and the
//! web mode (`groundwork web`, feature `web`). The UI itself is in `crate::ui` and knows
//! nothing of either launcher.

use std::path::Path;

use groundwork::error::{Error, Result};

#[cfg(any(feature = "desktop", feature = "web"))]
fn ui_error(e: crate::ui::worker::UiError) -> Error {
    Error::Io(std::io::Error::other(e.0))
}

/// Open the app window on the store in `dir`.
#[cfg(feature = "desktop")]
pub fn run(dir: &Path) -> Result<()> {
    use dioxus::desktop::tao::dpi::LogicalSize;
    use dioxus::desktop::{Config, WindowBuilder};

    let store = crate::ui::worker::StoreHandle::start(dir).map_err(ui_error)?;
    let services = crate::ui::Services::connected(store, dir);
    let mut launch = dioxus::LaunchBuilder::desktop();
    if std::env::var_os("GROUNDWORK_SELF_TEST").is_some_and(|v| v == "1") {
        launch = launch.with_context(crate::ui::self_test::SelfTestMode);
        // A hung webview must not hang CI.
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(90));
            eprintln!("self-test failed: no result after 90 s");
            std::process::exit(1);
        });
    }
    launch
        .with_cfg(
            Config::new()
                .with_menu(None)
                .with_custom_head(crate::ui::head())
                .with_window(
                    WindowBuilder::new()
                        .with_title("Groundwork")
                        .with_inner_size(LogicalSize::new(420.0, 860.0)),
                ),
        )
        .with_context(services)
        .launch(crate::ui::App);
    Ok(())
}

/// Without the desktop feature there is no window: say how to get one.
#[cfg(not(feature = "desktop"))]
pub fn run(dir: &Path) -> Result<()> {
    let _ = groundwork::store::Store::open(dir)?;
    eprintln!(
        "this build has no app window (built without the `desktop` feature); \
         use `groundwork web --listen 127.0.0.1:8080` or the commands: groundwork --help"
    );
    Ok(())
}

/// Serve the app to browsers (`groundwork web`).
#[cfg(feature = "web")]
pub fn serve(dir: &Path, options: &crate::ui::web::WebOptions) -> Result<()> {
    crate::ui::web::serve(dir, options).map_err(ui_error)
}
