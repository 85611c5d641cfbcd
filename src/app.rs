//! Launching the app: the desktop window on the embedded store (feature `desktop`). The UI
//! itself is in `crate::ui` and knows nothing of the launcher; the phone web app's launcher is
//! `crate::browser`.

use std::path::Path;

#[cfg(feature = "desktop")]
use groundwork::error::Error;
use groundwork::error::Result;

#[cfg(feature = "desktop")]
fn ui_error(e: crate::ui::worker::UiError) -> Error {
    Error::Io(std::io::Error::other(e.0))
}

/// Open the app window on the store in `dir`.
#[cfg(feature = "desktop")]
pub fn run(dir: &Path) -> Result<()> {
    use dioxus::desktop::tao::dpi::LogicalSize;
    use dioxus::desktop::{Config, WindowBuilder};

    use groundwork::store::at_rest;

    let mut launch = dioxus::LaunchBuilder::desktop();
    // An encrypted notebook: its key is looked for once (the environment, the key store) and
    // kept for the process, so that the store thread and every sync open the notebook without
    // asking the key store again. With none found, the lock screen asks for the passphrase.
    // A key that does not open the notebook (one the key store kept from before its passphrase
    // was changed) is no key: the lock screen asks.
    let found = match at_rest::is_encrypted(dir)? {
        true => Some(
            at_rest::Passphrase::find(dir)
                .map(|key| at_rest::opens(dir, &key).map(|yes| yes.then_some(key)))
                .transpose()?
                .flatten(),
        ),
        false => None,
    };
    let locked = matches!(found, Some(None));
    if let Some(Some(key)) = found {
        at_rest::remember(Some(key));
    }
    let root: fn() -> dioxus::prelude::Element = if locked {
        launch = launch.with_context(crate::ui::unlock::Locked {
            dir: dir.to_path_buf(),
            connect: |store, dir| {
                crate::ui::worker::flush_on_exit(&store);
                crate::ui::Services::connected(store, dir)
            },
        });
        crate::ui::unlock::LockScreen
    } else {
        let store = crate::ui::worker::StoreHandle::start(dir).map_err(ui_error)?;
        crate::ui::worker::flush_on_exit(&store);
        launch = launch.with_context(crate::ui::Services::connected(store, dir));
        crate::ui::App
    };
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
                        .with_inner_size(LogicalSize::new(WINDOW.0, WINDOW.1))
                        .with_min_inner_size(LogicalSize::new(320.0, 400.0)),
                )
                // Closing the window ends the process: drafts still waiting for typing to
                // pause are written first (the event loop's end, whatever closed it).
                .with_custom_event_handler(|event, _| {
                    use dioxus::desktop::tao::event::{Event, WindowEvent};
                    if matches!(
                        event,
                        Event::LoopDestroyed
                            | Event::WindowEvent {
                                event: WindowEvent::CloseRequested,
                                ..
                            }
                    ) {
                        crate::ui::worker::flush_drafts_before_exit(
                            std::time::Duration::from_secs(2),
                        );
                    }
                })
                // Once the window exists its screen is known: shrink it to fit and centre it.
                .with_on_window(|window, _| {
                    if let Some(monitor) = window.current_monitor() {
                        let scale = monitor.scale_factor();
                        let screen = monitor.size().to_logical::<f64>(scale);
                        let (w, h) = fit_window(WINDOW, (screen.width, screen.height));
                        window.set_inner_size(LogicalSize::new(w, h));
                        let origin = monitor.position().to_logical::<f64>(scale);
                        window.set_outer_position(dioxus::desktop::tao::dpi::LogicalPosition::new(
                            origin.x + ((screen.width - w) / 2.0).max(0.0),
                            origin.y + ((screen.height - h) / 2.0).max(0.0),
                        ));
                    }
                }),
        )
        .launch(root);
    Ok(())
}

/// The window's size on a screen with room for it (logical pixels): a phone's width, a tall
/// page.
#[cfg(any(feature = "desktop", test))]
const WINDOW: (f64, f64) = (420.0, 860.0);

/// The window's size on a screen of `screen` logical pixels: `wanted`, shrunk to leave room
/// for the desktop's panels and the window's title bar (90% of the height, 95% of the width),
/// never below 320 × 400.
#[cfg(any(feature = "desktop", test))]
fn fit_window(wanted: (f64, f64), screen: (f64, f64)) -> (f64, f64) {
    let fit =
        |want: f64, room: f64, share: f64, least: f64| want.min(room * share).max(least).round();
    (
        fit(wanted.0, screen.0, 0.95, 320.0),
        fit(wanted.1, screen.1, 0.9, 400.0),
    )
}

/// Without the desktop feature there is no window: say how to get one.
#[cfg(not(feature = "desktop"))]
pub fn run(dir: &Path) -> Result<()> {
    let _ = groundwork::store::Store::open(dir)?;
    eprintln!(
        "this build has no app window (built without the `desktop` feature); \
         use the commands (groundwork --help), or the web app served by a relay (README)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_fits_the_screen() {
        // A laptop with 768 px of height: the old 860 px window ran off the bottom.
        assert_eq!(fit_window(WINDOW, (1366.0, 768.0)), (420.0, 691.0));
        assert!(fit_window(WINDOW, (1366.0, 768.0)).1 < 768.0);
        // Room enough: the size asked for.
        assert_eq!(fit_window(WINDOW, (1920.0, 1080.0)), WINDOW);
        // A tiny screen: never smaller than a usable minimum.
        assert_eq!(fit_window(WINDOW, (300.0, 300.0)), (320.0, 400.0));
    }
}
