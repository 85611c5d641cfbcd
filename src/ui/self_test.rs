//! A self-test the app can run on itself (`GROUNDWORK_SELF_TEST=1` under the desktop
//! launcher): it drives the real UI through `document::eval` — add a person by typing key by
//! key, save, wait for their file, go back — checks the store, prints the outcome and exits 0 or 1.
//! It uses nothing platform-specific, so it is how the desktop window is smoke-tested under
//! Xvfb, where no WebDriver can reach the webview.

use std::time::Duration;

use dioxus::prelude::*;

use super::Services;

/// Present in the root context when the app should test itself.
#[cfg_attr(not(feature = "desktop"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfTestMode;

/// The name the self-test types.
const NAME: &str = "Self Test Person";

/// The script: waits for the app (skipping the first start's name question), opens "Add
/// person", types the name one key at a time (an input event per key, as a keyboard would),
/// saves, waits for the person's file, and goes back to the people list with Alt+Left.
fn script() -> String {
    format!(
        r#"
const wait = async (f, what) => {{
  const t0 = Date.now();
  while (Date.now() - t0 < 15000) {{
    const v = f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }}
  throw new Error('timed out waiting for ' + what);
}};
const button = (text) => [...document.querySelectorAll('button')].find((b) => b.textContent.includes(text));
try {{
const first = await wait(() => document.querySelector('.person-row, .empty, #skip-name'), 'the app');
if (first.id === 'skip-name') {{
  // A new notebook asks who is canvassing first; skipping leads to the people list.
  first.click();
  await wait(() => document.querySelector('.person-row, .empty'), 'the people list');
}}
button('Add person').click();
const input = await wait(() => document.getElementById('person-name'), 'the name field');
input.focus();
for (const ch of {name:?}) {{
  input.value += ch;
  input.dispatchEvent(new Event('input', {{ bubbles: true }}));
}}
button('Save person').click();
await wait(() => {{
  const h = document.getElementById('person-title');
  return h && h.textContent === {name:?};
}}, 'the person file');
// Back (Alt+Left, the desktop's shortcut) leaves the file for the people list: the form,
// done, gave its place in the history to the file.
document.body.dispatchEvent(new KeyboardEvent('keydown', {{ key: 'ArrowLeft', altKey: true, bubbles: true }}));
await wait(() => document.getElementById('people-title'), 'the people list after back');
await new Promise((r) => setTimeout(r, 300));
return document.documentElement.scrollWidth <= document.documentElement.clientWidth ? 'ok' : 'scrolls sideways';
}} catch (e) {{
  // Said as the outcome: a thrown error only reaches Rust as "communication failed".
  return String(e && e.message || e);
}}
"#,
        name = NAME
    )
}

/// Runs the self-test once mounted; renders nothing.
#[component]
pub fn SelfTest() -> Element {
    let services = use_context::<Services>();
    use_future(move || {
        let store = services.store.clone();
        async move {
            let outcome = match document::eval(&script()).await {
                Ok(v) if v == "ok" => match store.people(NAME, 5).await {
                    Ok(p) if p.iter().any(|p| p.name == NAME) => Ok(()),
                    Ok(_) => Err("the person is not in the store".to_string()),
                    Err(e) => Err(e.to_string()),
                },
                Ok(v) => Err(format!("the page says {v}")),
                Err(e) => Err(format!("the script failed: {e}")),
            };
            match outcome {
                Ok(()) => {
                    println!("self-test passed");
                    // Leave the window up a moment for a screenshot, without blocking it.
                    std::thread::spawn(|| {
                        std::thread::sleep(Duration::from_millis(500));
                        std::process::exit(0);
                    });
                }
                Err(e) => {
                    eprintln!("self-test failed: {e}");
                    std::process::exit(1);
                }
            }
        }
    });
    rsx! {}
}
