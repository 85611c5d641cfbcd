// Starts Groundwork: loads the wasm-bindgen glue and the wasm, which runs `main()`.
//
// The page and its dedicated store worker both load this module: the wasm finds its own URL in
// the page's `script[type=module][src]` and starts a worker on it (and the store worker starts
// its helper workers on it too). In a worker this file only starts the wasm; the page also
// registers the service worker that keeps the app offline.
// .ci/build-web rewrites the two relative file names below to their content-hashed names.
import init from './groundwork.js';

const wasmUrl = new URL('./groundwork_bg.wasm', import.meta.url);

// A new version, installed in the background, waits until the next start. Meanwhile a small
// bar offers "Update": never on its own, so nobody loses their place in the middle of typing.
// Drafts are in the notebook already (the store worker writes them a quarter of a second after
// typing pauses); the tap waits a moment more before the page reloads on the new version.
function offerUpdate(registration) {
  const waiting = registration.waiting;
  if (!waiting || !navigator.serviceWorker.controller || document.getElementById('update-bar')) return;
  const bar = document.createElement('div');
  bar.id = 'update-bar';
  bar.setAttribute('role', 'status');
  bar.style.cssText = 'position:fixed;left:0;right:0;bottom:0;z-index:10;display:flex;gap:.75rem;' +
    'align-items:center;justify-content:space-between;padding:.6rem 1rem;background:#1d3b2a;color:#fff;' +
    'font:1rem/1.3 system-ui,sans-serif';
  const text = document.createElement('span');
  text.textContent = 'A new version of Groundwork is ready.';
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'update-now';
  button.textContent = 'Update';
  button.style.cssText = 'min-height:44px;padding:0 1rem;font:inherit;font-weight:600;border:0;' +
    'border-radius:6px;background:#fff;color:#1d3b2a';
  button.addEventListener('click', () => {
    button.disabled = true;
    navigator.serviceWorker.addEventListener('controllerchange', () => window.location.reload());
    setTimeout(() => waiting.postMessage({ type: 'skip-waiting' }), 400);
  });
  bar.append(text, button);
  document.body.append(bar);
}

async function registerServiceWorker() {
  if (typeof window === 'undefined' || !('serviceWorker' in navigator)) return;
  try {
    const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    offerUpdate(registration);
    registration.addEventListener('updatefound', () => {
      const installing = registration.installing;
      if (!installing) return;
      installing.addEventListener('statechange', () => {
        if (installing.state === 'installed') offerUpdate(registration);
      });
    });
  } catch (err) {
    console.warn('Groundwork: service worker registration failed; the app will not work offline', err);
  }
}

try {
  await init({ module_or_path: wasmUrl });
} finally {
  // Also after a failed start, so that a fixed version can still be installed.
  await registerServiceWorker();
}
