//! Exports for the wider party or union systems, from the app: people, conversations or
//! commitments as CSV, written as `groundwork export --format csv` writes them (people who
//! asked not to be contacted left out of the people export), with a byte-order mark so that spreadsheets read them
//! as UTF-8. The desktop saves the file in the Downloads folder (else the home folder) and
//! says where; the phone web app hands it to the browser as a download.

use dioxus::prelude::*;

use crate::ui::worker::CsvExport;
use crate::ui::{Nav, Services};

/// What can be exported here, with the words on its button.
const EXPORTS: [(&str, &str); 3] = [
    ("people", "People"),
    ("conversations", "Conversations"),
    ("commitments", "Commitments"),
];

/// The export card: one button a kind of record.
#[component]
pub fn ExportCard() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut busy = use_signal(|| false);
    let export = use_callback(move |what: &'static str| {
        if *busy.peek() {
            return;
        }
        busy.set(true);
        let store = services.store.clone();
        let folder = services.host.exports.clone();
        spawn(async move {
            let done = match store.export_csv(what).await {
                Ok(csv) => deliver(csv, folder).await,
                Err(e) => Err(e.to_string()),
            };
            match done {
                Ok(said) => nav.say(said),
                Err(e) => nav.error(format!("The export could not be made: {e}")),
            }
            busy.set(false);
        });
    });
    rsx! {
        section { class: "card export", "aria-labelledby": "export-title",
            h3 { id: "export-title", "Export (CSV)" }
            p { class: "muted",
                "Everything in this notebook, for a spreadsheet or the wider party or union systems. People who asked not to be contacted are left out of the People export."
            }
            div { class: "outcomes", role: "group", "aria-label": "Export",
                for (what, text) in EXPORTS {
                    button {
                        key: "{what}",
                        r#type: "button",
                        class: "secondary",
                        id: "export-{what}",
                        disabled: busy(),
                        onclick: move |_| export.call(what),
                        "{text}"
                    }
                }
            }
        }
    }
}

/// Saves `csv` in `folder` (the Downloads folder, else the home folder, when `None`) under a
/// name not taken yet; says where.
#[cfg(not(target_arch = "wasm32"))]
async fn deliver(csv: CsvExport, folder: Option<std::path::PathBuf>) -> Result<String, String> {
    let folder = folder
        .or_else(|| {
            directories::UserDirs::new().map(|u| {
                u.download_dir()
                    .unwrap_or_else(|| u.home_dir())
                    .to_path_buf()
            })
        })
        .ok_or("this computer has no home folder to save it in")?;
    let (stem, ext) = csv.name.rsplit_once('.').unwrap_or((&csv.name, "csv"));
    let path = (1..1000)
        .map(|n| match n {
            1 => folder.join(&csv.name),
            n => folder.join(format!("{stem}-{n}.{ext}")),
        })
        .find(|p| !p.exists())
        .ok_or("too many exports of the same day in the folder: move some away")?;
    // A new file only: an export never replaces one. With a byte-order mark, so that
    // spreadsheets read it as UTF-8.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, "\u{feff}".as_bytes())?;
            std::io::Write::write_all(&mut f, csv.text.as_bytes())
        });
    written.map_err(|e| format!("{} could not be written ({e})", path.display()))?;
    Ok(format!("Saved {}.", path.display()))
}

/// Hands `csv` to the browser as a download.
#[cfg(target_arch = "wasm32")]
async fn deliver(csv: CsvExport, _folder: Option<std::path::PathBuf>) -> Result<String, String> {
    let mut script = document::eval(DOWNLOAD);
    script
        .send(serde_json::json!({ "name": csv.name, "text": csv.text }))
        .map_err(|e| e.to_string())?;
    script.recv::<bool>().await.map_err(|e| e.to_string())?;
    Ok(format!("{} downloaded.", csv.name))
}

/// The page's part of a download: a Blob of the text (with a byte-order mark, so that
/// spreadsheets read it as UTF-8), a link to it clicked, the link's address freed.
#[cfg(target_arch = "wasm32")]
const DOWNLOAD: &str = r#"
const { name, text } = await dioxus.recv();
const blob = new Blob(['\ufeff', text], { type: 'text/csv;charset=utf-8' });
const url = URL.createObjectURL(blob);
const a = document.createElement('a');
a.href = url;
a.download = name;
document.body.appendChild(a);
a.click();
a.remove();
setTimeout(() => URL.revokeObjectURL(url), 60000);
dioxus.send(true);
"#;
