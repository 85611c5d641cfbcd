// Starts Groundwork: loads the wasm-bindgen glue and the wasm, which runs `main()`.
//
// The page and its dedicated store worker both load this module: the wasm finds its own URL in
// the page's `script[type=module][src]` and starts a worker on it. In the worker this file only
// starts the wasm; the page also registers the service worker that keeps the app offline.
// .ci/build-web rewrites the two relative file names below to their content-hashed names.
import init from './groundwork.js';

const wasmUrl = new URL('./groundwork_bg.wasm', import.meta.url);

async function registerServiceWorker() {
  if (typeof window === 'undefined' || !('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
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
