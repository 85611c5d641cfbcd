// Benchmarks of the phone web app (the wasm build, its store in a dedicated worker, served by
// the relay) with a team of 10,000 demo people: the first sync of a phone that joins from a
// join link, then the app opening again (online and offline), tap save to the conversation
// shown, search per keystroke, the store worker's memory and the first load's transfer.
// Each measurement runs without CPU throttling and with Chromium's 4× CPU throttling.
//
//   node tests/ui/phone-bench.mjs
//   CARGO_TARGET_DIR=dir              where the native binaries are (default: <repo>/target)
//   GROUNDWORK_WEB_DIR=dir            the built web app (default: <repo>/target/web, written by
//                                     `.ci/build-web [DIR]`)
//   GROUNDWORK_BIN=path               the command line (default: $CARGO_TARGET_DIR/release/groundwork
//                                     when built, else …/debug/groundwork)
//   GROUNDWORK_RELAY_BIN=path         the relay (default: …/release/sync-server, else …/debug/sync-server)
//   GROUNDWORK_UI_10K_DIR=dir         a notebook of `demo-data --people 10000` (a CLI device's data
//                                     directory), copied, never changed; without it one is generated
//                                     (minutes with a debug build)
//   GROUNDWORK_BENCH_PEOPLE=N         with no GROUNDWORK_UI_10K_DIR: generate N people (default 10000)
//   GROUNDWORK_BENCH_RUNS=N           runs of each measurement (default 5)
//   GROUNDWORK_BENCH_WORD=word        the word typed into the search, a key at a time (default maria)
//   GROUNDWORK_BENCH_PROFILE=file     profile the store worker (CDP Profiler) during the first sync
//                                     (into file.first-sync), from each save's click to the
//                                     conversation shown, without throttling, and during the
//                                     posted saves (into file.worker-saves): the profiles are
//                                     written to file (a JSON array of .cpuprofile) and the top
//                                     functions by own time printed; build the app with
//                                     GROUNDWORK_WASM_OPT=off to keep the wasm's function names
//   GROUNDWORK_BENCH_IO=1             count the store worker's calls on its OPFS files during each
//                                     save (FileSystemSyncAccessHandle write, flush, read, truncate,
//                                     getSize: calls, time, bytes) and print them after the save
//   GROUNDWORK_BENCH_WORKER_SAVES=N   saves posted straight to the store worker after the tapped
//                                     ones, 2.2 s apart, each timed inside the worker (default
//                                     50; 0 for none)
//   GROUNDWORK_BENCH_ENCRYPT=1        last, encrypt the phone's notebook at rest (Settings) and
//                                     open it again through the lock screen: the times, and the
//                                     origin's storage before and after; the worker's saves
//                                     again (GROUNDWORK_BENCH_WORKER_SAVES), now encrypted; the
//                                     passphrase changed, and the notebook opened with the new one
//   GROUNDWORK_BENCH_KEEP=1           keep the temporary directory (relay, CLI device, profile)
//   CHROMIUM=path                     the browser (default: /usr/bin/chromium)
//
// Prints `bench: …` lines as it goes and a markdown table at the end. Nothing is asserted
// beyond what the measurements need to wait for; exits 1 when a step cannot be measured.
//
// How each figure is taken (times inside the page are performance.now() of the page):
// - first sync: from the tap on "Join team" to the People screen saying the notebook holds
//   every person of the team (wall clock, seconds).
// - open: page.reload(); from the navigation's start to the People total and a first row in
//   the DOM (an observer installed by an init script on every document), and the wall clock
//   from the reload call. Offline: the relay stopped and the context offline (the service
//   worker answers).
// - save: from the click event on "Save conversation" to the story in `.conversation .story`;
//   and the store worker's own time for the save (`RecordConversation`), timed inside the
//   worker around its message handler (the page's timestamps of the request and its answer
//   also count the wait for the page's thread); then saves posted straight to the worker (the
//   record form's last request again, for other people), each timed inside it.
// - search: one key at a time into #search; from the keydown event to the list showing that
//   prefix's results. Which results a prefix shows is learnt first (typed slowly, waiting until
//   the count and rows settle). A key that does not change what is shown (e.g. "mari" →
//   "maria" with one Maria) has nothing visible to wait for: it is timed to the store
//   worker's answers (messages counted by a wrapper around `Worker`) and the frame after, and
//   reported separately.
// - memory: `groundworkMemoryBytes()` evaluated in the store worker (CDP Runtime.evaluate on
//   the worker's target), the worker's JS heap (Runtime.getHeapUsage) and the page's
//   (Performance.getMetrics JSHeapUsedSize).
// - encrypting (GROUNDWORK_BENCH_ENCRYPT=1): from the tap on "Encrypt this notebook" to its
//   message; the sizes of the profile's `File System` files before and 3 s after; a reload to
//   the lock screen; and from Enter in the passphrase to the People total and first rows.
// - transfer: the cold load (fresh profile) until the service worker is ready: the sum over
//   the page's, the store worker's and the service worker's requests of CDP
//   Network.loadingFinished encodedDataLength (headers included) and of the bodies alone, with
//   the content codings the relay answered (Chromium offers brotli to http://127.0.0.1 too, as
//   a potentially trustworthy origin; elsewhere over plain http it offers gzip only); and the
//   build's own summary (every file, gzip and brotli), as .ci/build-web prints it.

import { mkdtempSync, rmSync, existsSync, cpSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, relative } from 'node:path';
import { chromium } from 'playwright-core';
import { root, targetDir, WEB, CHROMIUM, CHROMIUM_ARGS, processes } from './common.mjs';

const built = (name) => {
  const release = join(targetDir, 'release', name);
  return existsSync(release) ? release : join(targetDir, 'debug', name);
};
const BIN = process.env.GROUNDWORK_BIN || built('groundwork');
const RELAY = process.env.GROUNDWORK_RELAY_BIN || built('sync-server');
const TEN_K = process.env.GROUNDWORK_UI_10K_DIR;
const PEOPLE = Number(process.env.GROUNDWORK_BENCH_PEOPLE || 10000);
const RUNS = Number(process.env.GROUNDWORK_BENCH_RUNS || 5);
const WORD = process.env.GROUNDWORK_BENCH_WORD || 'maria';
const PROFILE = process.env.GROUNDWORK_BENCH_PROFILE || '';
const KEEP = process.env.GROUNDWORK_BENCH_KEEP === '1';
const IO = process.env.GROUNDWORK_BENCH_IO === '1';
const WORKER_SAVES = Number(process.env.GROUNDWORK_BENCH_WORKER_SAVES ?? 50);
const ENCRYPT = process.env.GROUNDWORK_BENCH_ENCRYPT === '1';
const FIRST_SYNC_LIMIT_MS = 10 * 60 * 1000;

const PHONE = {
  viewport: { width: 412, height: 915 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};

// ---------------------------------------------------------------- helpers

const fmt = (n) => n.toLocaleString('en-GB');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = (n) => `${Math.round(n)}`;
const mib = (b) => `${(b / (1 << 20)).toFixed(1)} MiB`;
const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const max = (xs) => (xs.length ? Math.max(...xs) : NaN);
const min = (xs) => (xs.length ? Math.min(...xs) : NaN);
const stats = (xs) => `median ${ms(median(xs))} ms, min ${ms(min(xs))}, max ${ms(max(xs))} (${xs.map(ms).join(', ')})`;

function log(line) {
  console.log(line);
}

const children = new Set();
const { cli, relayCli, startRelay, stopRelay } = processes({ bin: BIN, relay: RELAY, children });
let tmp = null;
let context = null;

async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  for (const p of children) {
    try { p.kill('SIGTERM'); } catch { /* gone */ }
  }
  children.clear();
  if (tmp && !KEEP) rmSync(tmp, { recursive: true, force: true });
  else if (tmp) log(`bench: kept ${tmp}`);
  tmp = null;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { cleanup().finally(() => process.exit(130)); });
}

/** The build's files as .ci/build-web's summary counts them: raw, gzip and brotli totals. */
function buildTotals(dir) {
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!name.endsWith('.gz') && !name.endsWith('.br')) files.push(p);
    }
  };
  walk(dir);
  let raw = 0;
  let gz = 0;
  let br = 0;
  const rows = [];
  for (const f of files.sort()) {
    const r = statSync(f).size;
    const g = existsSync(`${f}.gz`) ? statSync(`${f}.gz`).size : r;
    const b = existsSync(`${f}.br`) ? statSync(`${f}.br`).size : r;
    raw += r;
    gz += g;
    br += b;
    rows.push({ file: relative(dir, f), raw: r, gz: g, br: b });
  }
  return { raw, gz, br, rows };
}

// ---------------------------------------------------------------- CDP: the page's workers

/**
 * The page's CDP session, auto-attached (non-flattened: playwright's CDPSession cannot address
 * child sessions) to the page's workers: the store worker (type "worker") and, when Chromium
 * attaches it to the page, the service worker. Each new worker is throttled at `rate` before
 * it runs, and its network events are collected while `network` is on.
 */
class Targets {
  constructor(session) {
    this.session = session;
    this.nextId = 1;
    this.pending = new Map();
    this.targets = new Map(); // sessionId → { type, url }
    this.rate = 1;
    this.throttleWorkers = true;
    this.throttleErrors = new Set();
    this.network = null; // { requests: Map } while recording
    this.seenTypes = new Set();
    session.on('Target.attachedToTarget', (ev) => { this.attached(ev).catch(() => {}); });
    session.on('Target.detachedFromTarget', (ev) => this.targets.delete(ev.sessionId));
    session.on('Target.receivedMessageFromTarget', (ev) => this.message(ev));
    session.on('Network.responseReceived', (ev) => this.netResponse('page', ev));
    session.on('Network.loadingFinished', (ev) => this.netFinished('page', ev));
    session.on('Network.requestWillBeSent', (ev) => this.netRequest('page', ev));
  }

  async start() {
    await this.session.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
  }

  send(sessionId, method, params = {}) {
    const id = this.nextId++;
    return new Promise((res, rej) => {
      this.pending.set(id, { res, rej, method });
      this.session
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
        .catch((e) => { this.pending.delete(id); rej(e); });
    });
  }

  message({ sessionId, message }) {
    const m = JSON.parse(message);
    if (m.id !== undefined && this.pending.has(m.id)) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p.rej(new Error(`${p.method}: ${m.error.message}`));
      else p.res(m.result);
      return;
    }
    const who = this.targets.get(sessionId)?.type || 'worker';
    if (m.method === 'Network.responseReceived') this.netResponse(who, m.params);
    else if (m.method === 'Network.loadingFinished') this.netFinished(who, m.params);
    else if (m.method === 'Network.requestWillBeSent') this.netRequest(who, m.params);
  }

  async attached({ sessionId, targetInfo, waitingForDebugger }) {
    this.targets.set(sessionId, { type: targetInfo.type, url: targetInfo.url });
    this.seenTypes.add(targetInfo.type);
    try {
      if (this.network) await this.send(sessionId, 'Network.enable').catch(() => {});
      if (this.rate !== 1 && this.throttleWorkers) await this.throttle(sessionId, this.rate);
    } finally {
      if (waitingForDebugger) await this.send(sessionId, 'Runtime.runIfWaitingForDebugger').catch(() => {});
    }
  }

  async throttle(sessionId, rate) {
    try {
      await this.send(sessionId, 'Emulation.setCPUThrottlingRate', { rate });
      return true;
    } catch (e) {
      this.throttleErrors.add(`${this.targets.get(sessionId)?.type}: ${e.message}`);
      return false;
    }
  }

  /** Throttle the page and (when `workers`) every attached worker at `rate`. */
  async setRate(rate, workers = true) {
    this.rate = rate;
    this.throttleWorkers = workers;
    await this.session.send('Emulation.setCPUThrottlingRate', { rate });
    const results = {};
    for (const [sid, t] of this.targets) {
      if (t.type !== 'worker') continue;
      results[sid] = await this.throttle(sid, workers ? rate : 1);
    }
    return results;
  }

  storeWorkers() {
    return [...this.targets].filter(([, t]) => t.type === 'worker').map(([sid]) => sid);
  }

  /** Start the CPU profiler on the store worker; returns its session id. */
  async startProfile() {
    const sids = this.storeWorkers();
    if (sids.length === 0) throw new Error('no worker target attached');
    const sid = sids[sids.length - 1];
    await this.send(sid, 'Profiler.enable');
    await this.send(sid, 'Profiler.setSamplingInterval', { interval: 100 });
    await this.send(sid, 'Profiler.start');
    return sid;
  }

  /** Stop the profiler and keep its profile. */
  async stopProfile(sid) {
    const { profile } = await this.send(sid, 'Profiler.stop');
    (this.profiles ||= []).push(profile);
  }

  /**
   * Write the profiles kept (one per save) to `file` (a JSON array of .cpuprofile objects) and
   * print the top functions by own time over all of them.
   */
  reportProfile(file, what = `${(this.profiles || []).length} saves`) {
    const profiles = this.profiles || [];
    this.profiles = [];
    writeFileSync(file, JSON.stringify(profiles));
    const self = new Map();
    for (const profile of profiles) {
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const gaps = profile.timeDeltas || [];
      (profile.samples || []).forEach((id, i) => {
        const f = byId.get(id).callFrame;
        const name = f.functionName || `(anonymous ${f.url.split('/').pop()}:${f.lineNumber})`;
        self.set(name, (self.get(name) || 0) + (gaps[i + 1] || 0) / 1000);
      });
    }
    const busy = [...self].filter(([n]) => n !== '(idle)' && n !== '(program)');
    const total = busy.reduce((a, [, t]) => a + t, 0);
    log(`bench: store worker profile of ${what} (${file}): ${ms(total)} ms busy; top functions by own time:`);
    for (const [name, t] of busy.sort((a, b) => b[1] - a[1]).slice(0, 30)) {
      log(`bench:   ${ms(t)} ms ${(100 * t / total).toFixed(1)}% ${name.slice(0, 140)}`);
    }
  }

  async evalInStoreWorker(expression) {
    const sids = this.storeWorkers();
    if (sids.length === 0) throw new Error('no worker target attached');
    const r = await this.send(sids[sids.length - 1], 'Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.text);
    return r.result.value;
  }

  async workerHeap() {
    const sids = this.storeWorkers();
    if (sids.length === 0) return null;
    return this.send(sids[sids.length - 1], 'Runtime.getHeapUsage');
  }

  // Network accounting (cold load).
  async recordNetwork() {
    this.network = { requests: new Map() };
    await this.session.send('Network.enable');
    for (const sid of this.targets.keys()) await this.send(sid, 'Network.enable').catch(() => {});
  }

  netRequest(who, ev) {
    if (!this.network) return;
    const r = this.network.requests.get(`${who}:${ev.requestId}`) || { who };
    r.url = ev.request.url;
    this.network.requests.set(`${who}:${ev.requestId}`, r);
  }

  netResponse(who, ev) {
    if (!this.network) return;
    const r = this.network.requests.get(`${who}:${ev.requestId}`) || { who };
    r.url = ev.response.url;
    r.status = ev.response.status;
    r.headerBytes = ev.response.encodedDataLength || 0;
    r.encoding = (ev.response.headers['content-encoding'] || ev.response.headers['Content-Encoding'] || '');
    r.fromCache = ev.response.fromDiskCache || ev.response.fromPrefetchCache || false;
    r.fromServiceWorker = ev.response.fromServiceWorker || false;
    this.network.requests.set(`${who}:${ev.requestId}`, r);
  }

  netFinished(who, ev) {
    if (!this.network) return;
    const r = this.network.requests.get(`${who}:${ev.requestId}`) || { who };
    r.bytes = ev.encodedDataLength;
    this.network.requests.set(`${who}:${ev.requestId}`, r);
  }
}

// ---------------------------------------------------------------- in-page instruments

/** Installed on every document: marks the People screen ready, counts the store worker's
 * messages. */
function initScript(expected) {
  window.__ready = null;
  window.__sends = 0;
  window.__receives = 0;
  const Base = window.Worker;
  if (Base && !Base.__benchWrapped) {
    class BenchWorker extends Base {
      constructor(...args) {
        super(...args);
        this.addEventListener('message', (e) => {
          window.__receives += 1;
          if (window.__msgLog) window.__msgLog.push(['answer', performance.now(), typeof e.data === 'string' ? e.data.slice(0, 120) : '']);
        });
      }

      postMessage(...args) {
        window.__sends += 1;
        window.__storeWorker = this;
        if (typeof args[0] === 'string' && args[0].includes('"RecordConversation"')) window.__lastRecord = args[0];
        if (window.__msgLog) window.__msgLog.push(['ask', performance.now(), typeof args[0] === 'string' ? args[0].slice(0, 120) : '']);
        return super.postMessage(...args);
      }
    }
    BenchWorker.__benchWrapped = true;
    window.Worker = BenchWorker;
  }
  const check = () => {
    if (window.__ready !== null) return;
    const count = document.getElementById('people-count');
    if (count && count.textContent.includes(expected) && document.querySelector('.person-row')) {
      window.__ready = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, characterData: true });
}

/** What the People screen shows: the count's words and the first rows' ids. */
function peopleState() {
  const count = document.getElementById('people-count');
  const rows = [...document.querySelectorAll('.person-row')].slice(0, 5).map((r) => r.dataset.id);
  const empty = document.querySelector('.people .empty');
  return JSON.stringify({ count: count ? count.textContent : null, rows, empty: empty ? empty.textContent : null });
}

// ---------------------------------------------------------------- the steps

async function waitReadyWall(page, timeout = 120000) {
  await page.waitForFunction(() => window.__ready !== null, null, { timeout, polling: 50 });
  return page.evaluate(() => window.__ready);
}

async function toPeople(page, expectedText) {
  await page.click('#tab-People');
  const search = page.locator('#search');
  await search.waitFor();
  if (await search.inputValue()) await search.fill('');
  await page.locator('#people-count', { hasText: expectedText }).waitFor({ timeout: 120000 });
  await page.locator('.person-row').first().waitFor();
}

/** Encrypt the phone's notebook at rest through Settings, then open it again through the lock
 * screen: the times, and the origin's storage before and after. */
async function encryptRun(page, expectedText, profile, targets, template) {
  const PASS = 'bench passphrase, long enough';
  // What the browser's files for the origin's private file system hold on disk (the
  // origin's own usage estimate kept counting the deleted plain file's bytes).
  const used = () => {
    let total = 0;
    const walk = (d) => {
      for (const entry of readdirSync(d, { withFileTypes: true })) {
        const path = join(d, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile()) total += statSync(path).size;
      }
    };
    walk(join(profile, 'Default', 'File System'));
    return total;
  };
  await toPeople(page, expectedText);
  await page.click('#tab-Settings');
  await page.locator('#lock-passphrase').fill(PASS);
  await page.locator('#lock-again').fill(PASS);
  const usedBefore = used();
  const t0 = Date.now();
  await page.click('#lock-encrypt');
  await page.getByText('This notebook is now encrypted on this phone').waitFor({ timeout: 600000 });
  const encrypt = Date.now() - t0;
  await sleep(3000);
  const usedAfter = used();
  log(`bench: encrypting the notebook at rest: ${ms(encrypt)} ms; the browser's OPFS files on disk ${mib(usedBefore)} → ${mib(usedAfter)}`);
  await toPeople(page, expectedText);
  const t1 = Date.now();
  await page.reload({ waitUntil: 'commit' });
  await page.locator('#unlock-passphrase').waitFor({ timeout: 120000 });
  const toLock = Date.now() - t1;
  await page.locator('#unlock-passphrase').fill(PASS);
  const t2 = Date.now();
  await page.locator('#unlock-passphrase').press('Enter');
  await page.locator('#people-count', { hasText: expectedText }).waitFor({ timeout: 120000 });
  await page.locator('.person-row').first().waitFor();
  const unlock = Date.now() - t2;
  log(`bench: the encrypted notebook: reload → lock screen ${ms(toLock)} ms; passphrase entered → total and first rows ${ms(unlock)} ms`);
  // Saves posted to the worker, as before encrypting, now in the encrypted notebook.
  let saves = null;
  if (WORKER_SAVES > 0 && template) {
    try {
      saves = await workerSaves(page, targets, WORKER_SAVES, template);
      const sorted = [...saves].sort((x, y) => x - y);
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      log(`bench: ${sorted.length} saves posted to the store worker of the encrypted notebook, its own time: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${sorted[sorted.length - 1]} ms`);
    } catch (e) {
      log(`bench: the encrypted notebook's saves could not be measured: ${e.message}`);
    }
  }
  // The passphrase changed in Settings, then the notebook opened with the new one.
  const NEW_PASS = 'another bench passphrase';
  await toPeople(page, expectedText);
  await page.click('#tab-Settings');
  await page.locator('#lock-current').fill(PASS);
  await page.locator('#lock-new').fill(NEW_PASS);
  await page.locator('#lock-new-again').fill(NEW_PASS);
  const t3 = Date.now();
  await page.click('#lock-change');
  await page.getByText('The passphrase is changed').waitFor({ timeout: 600000 });
  const change = Date.now() - t3;
  await sleep(3000);
  const usedChanged = used();
  // The app opens again on the screen it was left on.
  await toPeople(page, expectedText);
  await page.reload({ waitUntil: 'commit' });
  const step = (what, p) => p.catch(async (e) => {
    const shown = await page.locator('body').innerText().catch(() => '(no page)');
    throw new Error(`${what}: ${e.message}; the page said: ${shown.slice(0, 400).replace(/\s+/g, ' ')}`);
  });
  await step('the lock screen after the change', page.locator('#unlock-passphrase').waitFor({ timeout: 120000 }));
  await page.locator('#unlock-passphrase').fill(NEW_PASS);
  const t4 = Date.now();
  await page.locator('#unlock-passphrase').press('Enter');
  await step('the People total after the new passphrase', page.locator('#people-count', { hasText: expectedText }).waitFor({ timeout: 120000 }));
  const reopened = Date.now() - t4;
  log(`bench: changing the passphrase: ${ms(change)} ms; OPFS files on disk then ${mib(usedChanged)}; the new passphrase entered → total ${ms(reopened)} ms`);
  return { encrypt, usedBefore, usedAfter, toLock, unlock, saves, change, usedChanged, reopened };
}

async function openRuns(page, expectedText, label) {
  const inPage = [];
  const wall = [];
  for (let i = 0; i < RUNS; i++) {
    await toPeople(page, expectedText);
    const t0 = Date.now();
    await page.reload({ waitUntil: 'commit' });
    const ready = await waitReadyWall(page);
    wall.push(Date.now() - t0);
    inPage.push(ready);
  }
  const controlled = await page.evaluate(() => !!navigator.serviceWorker.controller);
  log(`bench: ${label}: navigation start to total and first rows: ${stats(inPage)}; wall from reload(): ${stats(wall)}; service worker controls the page: ${controlled}`);
  return { inPage, wall };
}

/**
 * Wraps the store worker's `FileSystemSyncAccessHandle` methods (once) to count their calls,
 * time and bytes into `self.__fileCalls`, and starts the counts again.
 */
async function countFileCalls(targets) {
  await targets.evalInStoreWorker(`(() => {
    const P = FileSystemSyncAccessHandle.prototype;
    if (!self.__fileCalls) {
      self.__fileCalls = {};
      for (const m of ['write', 'flush', 'read', 'truncate', 'getSize']) {
        const orig = P[m];
        P[m] = function (...args) {
          const t = performance.now();
          try {
            return orig.apply(this, args);
          } finally {
            const c = (self.__fileCalls[m] ||= { calls: 0, ms: 0, bytes: 0 });
            c.calls++;
            c.ms = Math.round((c.ms + performance.now() - t) * 10) / 10;
            if (args[0] && args[0].byteLength !== undefined) c.bytes += args[0].byteLength;
          }
        };
      }
    }
    for (const k of Object.keys(self.__fileCalls)) delete self.__fileCalls[k];
    return true;
  })()`);
}

/** The request a message to the store worker carries (`RecordConversation`), or its kind. */
const requestName = (text) => (text.match(/"request":\{?"?(\w+)/) || text.match(/^\{?"?(\w+)/) || [])[1] || '?';

/**
 * The messages the store worker handled since `timeWorkerMessages`, as [request name, ms].
 */
async function workerHandled(targets) {
  const handled = JSON.parse(await targets.evalInStoreWorker('JSON.stringify(self.__handled)'));
  return handled.map(([text, t]) => [requestName(text), t]);
}

/**
 * Wraps the store worker's message handler (once) to time, in the worker, each message it
 * handles (the message's first 200 characters and the time): the worker answers a request within the handler (the store is synchronous), so
 * from the handler's start to its end is the worker's own time for it, without the wait for
 * the page's thread that the page's own timestamps include. Starts the list again.
 */
async function timeWorkerMessages(targets) {
  await targets.evalInStoreWorker(`(() => {
    if (!self.__handled) {
      const orig = self.onmessage;
      self.onmessage = function (event) {
        const t = performance.now();
        try {
          return orig.call(this, event);
        } finally {
          self.__handled.push([String(event.data).slice(0, 200), Math.round((performance.now() - t) * 100) / 100]);
        }
      };
      self.__handled = [];
    }
    self.__handled.length = 0;
    return true;
  })()`);
}

/**
 * `n` saves posted straight to the store worker, each timed inside it: `template`, the request
 * the record form sent last (taken as it was posted), for another person each time, after a
 * `KeepLoaded` (as the form asks when it opens) and a pause longer than the worker's idle wait
 * (2 s), so that its idle work (search index, checkpoint) runs between saves as between a
 * canvasser's. Returns the worker's own times (ms).
 */
async function workerSaves(page, targets, n, template) {
  await timeWorkerMessages(targets);
  const ok = await page.evaluate(async ({ n, pause, template }) => {
    const worker = window.__storeWorker;
    if (!worker || !template) return 'no store worker or no save seen';
    let next = 1e9;
    // A request the worker cannot read is logged there and never answered: give up after 30 s.
    const call = (request) => new Promise((resolve) => {
      const id = next++;
      const timer = setTimeout(() => {
        worker.removeEventListener('message', on);
        resolve({ Err: `no answer in 30 s to ${JSON.stringify(request).slice(0, 80)}` });
      }, 30000);
      const on = (e) => {
        if (typeof e.data !== 'string' || !e.data.startsWith('{"Reply"')) return;
        const m = JSON.parse(e.data);
        if (m.Reply.id !== id) return;
        clearTimeout(timer);
        worker.removeEventListener('message', on);
        resolve(m.Reply.result);
      };
      worker.addEventListener('message', on);
      worker.postMessage(JSON.stringify({ Call: { id, request } }));
    });
    const people = await call({ People: { query: '', limit: n + 20 } });
    if (!people.Ok) return `People: ${JSON.stringify(people)}`;
    const ids = people.Ok.People.map((p) => p.id).slice(20);
    for (let k = 0; k < n && k < ids.length; k++) {
      const kept = await call({ KeepLoaded: ids[k] });
      if (!kept.Ok) return `KeepLoaded: ${JSON.stringify(kept)}`;
      await new Promise((r) => setTimeout(r, pause));
      const message = JSON.parse(template);
      const request = message.Call.request;
      request.RecordConversation.conversation.person_id = ids[k];
      request.RecordConversation.conversation.story = `Worker bench ${k} ${Date.now().toString(36)}`;
      request.RecordConversation.draft_key = `conversation:${ids[k]}`;
      request.RecordConversation.save_key = `bench-${k}-${Date.now().toString(36)}`;
      const saved = await call(request);
      if (!saved.Ok) return `RecordConversation: ${JSON.stringify(saved)}`;
    }
    return 'ok';
  }, { n, pause: 2200, template });
  if (ok !== 'ok') throw new Error(`saves posted to the store worker: ${ok}`);
  const handled = await workerHandled(targets);
  return handled.filter(([name]) => name === 'RecordConversation').map(([, t]) => t);
}

async function saveRuns(page, expectedText, label, offset, profiler = null, targets = null) {
  const times = [];
  const inWorker = [];
  for (let i = 0; i < RUNS; i++) {
    await toPeople(page, expectedText);
    await page.locator('.person-row').nth(offset + i).click();
    await page.locator('#record-conversation').click();
    const story = `Bench story ${label} ${i} ${Date.now().toString(36)}`;
    await page.locator('#story').fill(story);
    await page.evaluate((text) => {
      const s = { t0: null, t1: null };
      window.__save = s;
      window.__msgLog = [];
      document.addEventListener('click', (e) => {
        if (s.t0 === null && e.target.closest && e.target.closest('#save-conversation')) s.t0 = e.timeStamp;
      }, { capture: true });
      const done = () => [...document.querySelectorAll('.conversation .story')].some((el) => el.textContent.includes(text));
      const obs = new MutationObserver(() => {
        if (s.t1 === null && done()) { s.t1 = performance.now(); obs.disconnect(); }
      });
      obs.observe(document.body, { subtree: true, childList: true, characterData: true });
    }, story);
    const profiling = profiler ? await profiler.startProfile() : null;
    if (IO) await countFileCalls(targets);
    if (targets) await timeWorkerMessages(targets);
    await page.click('#save-conversation');
    await page.waitForFunction(() => window.__save.t1 !== null && window.__save.t0 !== null, null, { timeout: 60000, polling: 50 });
    if (profiling) await profiler.stopProfile(profiling);
    const s = await page.evaluate(() => window.__save);
    times.push(s.t1 - s.t0);
    if (IO) log(`bench:   ${label} save ${i + 1}, the store worker's OPFS calls: ${await targets.evalInStoreWorker('JSON.stringify(self.__fileCalls)')}`);
    if (targets) {
      const handled = await workerHandled(targets);
      const own = handled.filter(([name]) => name === 'RecordConversation').map(([, t]) => t);
      if (own.length === 1) inWorker.push(own[0]);
      log(`bench:   ${label} save ${i + 1}, the store worker's own time per message (ms, in order): ${handled.map(([name, t]) => `${name} ${t}`).join(', ')}`);
    }
    // The store worker's messages meanwhile (ms after the click): where the time goes.
    const msgs = await page.evaluate(() => { const l = window.__msgLog; window.__msgLog = null; return l; });
    const during = msgs.filter(([, t]) => t >= s.t0 - 1 && t <= s.t1 + 1);
    const asked = new Map();
    const calls = [];
    const other = [];
    for (const [kind, t, text] of during) {
      const id = (text.match(/"id":(\d+)/) || [])[1];
      if (kind === 'ask') {
        const name = requestName(text);
        if (id !== undefined) asked.set(id, { name, t });
        else other.push(`→${name}@${ms(t - s.t0)}`);
      } else if (id !== undefined && asked.has(id)) {
        const a = asked.get(id);
        asked.delete(id);
        calls.push(`${a.name} ${ms(a.t - s.t0)}–${ms(t - s.t0)}`);
      } else {
        other.push(`←${(text.match(/^\{?"?(\w+)/) || [])[1] || '?'}@${ms(t - s.t0)}`);
      }
    }
    for (const [, a] of asked) calls.push(`${a.name} ${ms(a.t - s.t0)}–(later)`);
    log(`bench:   ${label} save ${i + 1}: ${ms(s.t1 - s.t0)} ms; store worker calls (ms after the click, asked–answered): ${calls.join(', ')}${other.length ? `; other messages: ${other.join(' ')}` : ''}`);
  }
  log(`bench: ${label}: tap save to conversation shown: ${stats(times)}`);
  if (inWorker.length) log(`bench: ${label}: RecordConversation, the store worker's own time: ${stats(inWorker)}`);
  times.inWorker = inWorker;
  return times;
}

/** The People screen's state after each prefix of `word`, typed slowly. */
async function learnSearch(page, expectedText, word) {
  await toPeople(page, expectedText);
  const search = page.locator('#search');
  await search.fill('');
  await page.locator('#people-count', { hasText: expectedText }).waitFor();
  await search.click();
  const states = [await page.evaluate(peopleState)];
  for (const ch of word) {
    await page.keyboard.press(ch);
    // Settled: the same state for 1 s.
    let last = null;
    let same = 0;
    for (let i = 0; i < 300 && same < 10; i++) {
      await sleep(100);
      const s = await page.evaluate(peopleState);
      if (s === last) same += 1;
      else { same = 0; last = s; }
    }
    states.push(last);
  }
  return states;
}

async function searchRuns(page, expectedText, states, word, label) {
  const visible = [];
  const quiet = [];
  const perKey = word.split('').map(() => []);
  for (let run = 0; run < RUNS; run++) {
    await toPeople(page, expectedText);
    const search = page.locator('#search');
    await search.fill('');
    await page.waitForFunction((s) => {
      const count = document.getElementById('people-count');
      return count && count.textContent.includes(s);
    }, expectedText);
    await search.click();
    await sleep(300);
    for (let k = 0; k < word.length; k++) {
      const target = states[k + 1];
      const changes = target !== states[k];
      await page.evaluate(({ target: t, changes: c, peopleStateSrc }) => {
        // eslint-disable-next-line no-new-func
        const state = new Function(`return (${peopleStateSrc})()`);
        const s = { t0: null, t1: null, sends0: window.__sends, receives0: window.__receives };
        window.__key = s;
        const input = document.getElementById('search');
        input.addEventListener('keydown', (e) => { if (s.t0 === null) s.t0 = e.timeStamp; }, { capture: true, once: true });
        if (c) {
          const obs = new MutationObserver(() => {
            if (s.t1 === null && state() === t) { s.t1 = performance.now(); obs.disconnect(); }
          });
          obs.observe(document.body, { subtree: true, childList: true, characterData: true });
        } else {
          // Nothing visible changes: the store worker answered every request since the key,
          // and a frame went by with nothing more asked.
          const poll = () => {
            const sent = window.__sends - s.sends0;
            const answered = window.__receives - s.receives0;
            if (s.t0 !== null && sent > 0 && answered >= sent) {
              const at = performance.now();
              requestAnimationFrame(() => {
                if (window.__sends - s.sends0 === sent) s.t1 = at;
                else requestAnimationFrame(poll);
              });
              return;
            }
            requestAnimationFrame(poll);
          };
          requestAnimationFrame(poll);
        }
      }, { target, changes, peopleStateSrc: peopleState.toString() });
      await page.keyboard.press(word[k]);
      try {
        await page.waitForFunction(() => window.__key.t1 !== null, null, { timeout: 30000, polling: 20 });
      } catch {
        const now = await page.evaluate(peopleState);
        throw new Error(`search "${word.slice(0, k + 1)}": the list never showed ${target}; it shows ${now}`);
      }
      const s = await page.evaluate(() => window.__key);
      const t = s.t1 - s.t0;
      perKey[k].push(t);
      (changes ? visible : quiet).push(t);
    }
  }
  const keys = word.split('').map((c, k) => `${word.slice(0, k + 1)}${states[k + 1] === states[k] ? '*' : ''}: ${ms(median(perKey[k]))}`).join(', ');
  log(`bench: ${label}: search per keystroke "${word}", keys that change the list: ${stats(visible)}`);
  if (quiet.length) log(`bench: ${label}: search per keystroke, keys that change nothing visible (timed to the worker's answers + a frame): ${stats(quiet)}`);
  log(`bench: ${label}: search per key, medians (* = nothing visible changes): ${keys}`);
  return { visible, quiet, all: [...visible, ...quiet] };
}

async function memory(page, session, targets, label) {
  const out = {};
  try {
    out.wasm = await targets.evalInStoreWorker('groundworkMemoryBytes()');
    out.via = 'CDP Runtime.evaluate on the worker target';
  } catch (e) {
    const w = page.workers()[0];
    out.wasm = w ? await w.evaluate(() => self.groundworkMemoryBytes()) : null;
    out.via = `playwright Worker.evaluate (CDP failed: ${e.message})`;
  }
  try {
    const h = await targets.workerHeap();
    out.workerHeap = h ? h.usedSize : null;
  } catch { out.workerHeap = null; }
  // The store worker's helper workers (started at its first sync), when the browser lists them.
  out.helpers = [];
  for (const w of page.workers()) {
    const seen = await w.evaluate(() => [self.name, typeof self.groundworkMemoryBytes === 'function' ? self.groundworkMemoryBytes() : null]).catch(() => null);
    if (seen && seen[0] === 'groundwork-helper') out.helpers.push(seen[1]);
  }
  // What the helpers did (builds before them, or before snapshots were read there, say "?").
  try {
    out.elsewhere = await targets.evalInStoreWorker("[typeof groundworkOpenedElsewhere === 'function' ? groundworkOpenedElsewhere() : '?', typeof groundworkReadElsewhere === 'function' ? groundworkReadElsewhere() : '?']");
  } catch { out.elsewhere = ['?', '?']; }
  const metrics = await session.send('Performance.getMetrics');
  out.pageHeap = metrics.metrics.find((m) => m.name === 'JSHeapUsedSize')?.value;
  const helpers = out.helpers.length ? out.helpers.map(mib).join(', ') : 'none listed';
  log(`bench: memory ${label}: store worker wasm memory ${mib(out.wasm)} (${out.wasm} bytes, ${out.via}); worker JS heap ${out.workerHeap ? mib(out.workerHeap) : '?'}; page JS heap used ${mib(out.pageHeap)}; helper workers' wasm memory ${helpers}; blobs opened in jobs ${out.elsewhere[0]}, snapshots read there ${out.elsewhere[1]}`);
  return out;
}

/** A fixed busy loop in the store worker: shows whether the throttling reaches it. */
async function workerLoop(page) {
  const w = page.workers()[0];
  if (!w) return NaN;
  const times = [];
  for (let i = 0; i < 5; i++) {
    times.push(await w.evaluate(() => {
      const t = performance.now();
      let x = 0;
      for (let j = 0; j < 3e7; j++) x = (x + j * 7) % 1000003;
      return performance.now() - t + (x < 0 ? 1 : 0);
    }));
  }
  return median(times);
}

async function pageLoop(page) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    times.push(await page.evaluate(() => {
      const t = performance.now();
      let x = 0;
      for (let j = 0; j < 3e7; j++) x = (x + j * 7) % 1000003;
      return performance.now() - t + (x < 0 ? 1 : 0);
    }));
  }
  return median(times);
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  if (!existsSync(join(WEB, 'index.html'))) throw new Error(`${WEB} holds no web build: run .ci/build-web ${WEB}`);
  log(`bench: binaries: ${BIN}, ${RELAY}; web app: ${WEB}; runs: ${RUNS}; ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const totals = buildTotals(WEB);
  log(`bench: build total (as .ci/build-web sums it): ${totals.raw} bytes raw, ${totals.gz} gzip, ${totals.br} brotli (${kib(totals.raw)} / ${kib(totals.gz)} / ${kib(totals.br)})`);

  tmp = mkdtempSync(join(tmpdir(), 'gw-phone-bench-'));
  const relayDir = join(tmp, 'relay');
  const cliDir = join(tmp, 'cli');
  const profile = join(tmp, 'profile');

  // The notebook.
  if (TEN_K) {
    cpSync(TEN_K, cliDir, { recursive: true });
  } else {
    const g0 = Date.now();
    cli(cliDir, 'demo-data', '--people', String(PEOPLE));
    log(`bench: demo-data --people ${PEOPLE}: ${Date.now() - g0} ms`);
  }
  const total = JSON.parse(cli(cliDir, 'export', '--what', 'people', '--include-do-not-contact')).length;
  const expectedText = `${fmt(total)} ${total === 1 ? 'person' : 'people'} in this notebook.`;
  log(`bench: the notebook holds ${fmt(total)} people`);

  // The relay and its team; the CLI device sends everything up.
  const team = JSON.parse(relayCli(relayDir, 'team', 'create', '--name', 'Bench'));
  let relay = await startRelay(relayDir);
  const port = relay.port;
  cli(cliDir, 'join', '--relay', relay.url, '--invite', team.invite, '--name', 'Bench CLI');
  const u0 = Date.now();
  let pushed = 0;
  let compacted = 0;
  // The CLI device leads the team, so its syncs also compact it (at most 2,000 documents a
  // sync): go on until everything is up and compacted, as a lead's evenings would leave it.
  for (let i = 0; i < 50; i++) {
    const r = JSON.parse(cli(cliDir, 'sync'));
    pushed += r.pushed;
    compacted += r.compacted || 0;
    if (r.pushed === 0 && r.pulled === 0 && r.waiting === 0 && !r.compacted) break;
  }
  log(`bench: CLI device pushed ${fmt(pushed)} changes to the relay and compacted ${fmt(compacted)} documents in ${Date.now() - u0} ms`);
  // The team is end-to-end encrypted: the phone's invite comes from the CLI device (its lead),
  // and its code carries the key after the dot.
  const invite = JSON.parse(cli(cliDir, 'team', 'invite')).code;

  // The phone, cold.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    ...PHONE,
  });
  await context.addInitScript(initScript, expectedText);
  const page = context.pages()[0] || await context.newPage();
  const session = await context.newCDPSession(page);
  await session.send('Performance.enable');
  const targets = new Targets(session);
  await targets.start();
  await targets.recordNetwork();

  const c0 = Date.now();
  await page.goto(`${relay.url}/#join=${invite}`);
  await page.locator('#join-link-name').waitFor({ timeout: 120000 });
  const coldToJoin = Date.now() - c0;
  log(`bench: cold first load (fresh profile) to the "Join your team" card: ${coldToJoin} ms`);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await sleep(1500);
  const requests = [...targets.network.requests.values()].filter((r) => r.url && !new URL(r.url).pathname.startsWith('/v1/'));
  let wire = 0;
  let bodies = 0;
  const byWho = {};
  const codings = {};
  for (const r of requests) {
    codings[r.encoding || 'identity'] = (codings[r.encoding || 'identity'] || 0) + 1;
    const b = r.bytes || 0;
    wire += b;
    bodies += Math.max(0, b - (r.headerBytes || 0));
    byWho[r.who] = (byWho[r.who] || 0) + b;
  }
  const coldRequests = requests.length;
  for (const r of requests.sort((a, b) => (b.bytes || 0) - (a.bytes || 0)).slice(0, 8)) {
    log(`bench:   cold load ${r.who} ${new URL(r.url).pathname} ${r.status} ${r.encoding || 'identity'} ${r.bytes ?? '?'} bytes${r.fromCache ? ' (disk cache)' : ''}${r.fromServiceWorker ? ' (service worker)' : ''}`);
  }
  log(`bench: cold first load transfer: ${wire} bytes (${kib(wire)}) with headers, ${bodies} bytes of bodies, ${coldRequests} requests; by target: ${JSON.stringify(byWho)}; content codings (requests): ${JSON.stringify(codings)}; targets seen: ${[...targets.seenTypes].join(', ')}`);
  targets.network = null;
  await session.send('Network.disable');

  // Join and the first sync.
  await page.locator('#join-link-name').fill('Bench Phone');
  const syncProfile = PROFILE ? await targets.startProfile() : null;
  const j0 = Date.now();
  await page.click('#join-link-join');
  let joinedMs = null;
  let clicked = false;
  let lastSeen = '';
  let nextNote = Date.now() + 15000;
  for (;;) {
    if (Date.now() - j0 > FIRST_SYNC_LIMIT_MS) {
      throw new Error(`the first sync did not show ${expectedText} within ${FIRST_SYNC_LIMIT_MS / 60000} min: the People count says ${lastSeen}`);
    }
    const st = await page.evaluate(() => ({
      joinCard: !!document.getElementById('join-link-name'),
      tab: !!document.getElementById('tab-People'),
      count: document.getElementById('people-count')?.textContent || null,
      badge: document.querySelector('.sync-badge .sync-text')?.textContent?.trim() || null,
      outcome: document.getElementById('join-link-outcome')?.textContent?.trim() || null,
    }));
    if (joinedMs === null && !st.joinCard) joinedMs = Date.now() - j0;
    if (!st.joinCard && st.tab && !clicked) {
      await page.click('#tab-People').catch(() => {});
      clicked = true;
    }
    lastSeen = JSON.stringify(st);
    if (st.count && st.count.includes(expectedText) && await page.locator('.person-row').count() > 0) break;
    if (Date.now() > nextNote) {
      log(`bench:   first sync, ${Math.round((Date.now() - j0) / 1000)} s: ${lastSeen}`);
      nextNote = Date.now() + 15000;
    }
    await sleep(100);
  }
  const firstSync = Date.now() - j0;
  if (syncProfile) {
    await targets.stopProfile(syncProfile);
    targets.reportProfile(`${PROFILE}.first-sync`, 'the first sync');
  }
  log(`bench: first sync of ${fmt(total)} people (tap "Join team" to "${expectedText}"): ${firstSync} ms (join card gone after ${joinedMs} ms)`);
  const memAfterSync = await memory(page, session, targets, 'after the first sync');

  // Does the CPU throttling reach the store worker?
  const loops = {};
  loops.none = { page: await pageLoop(page), worker: await workerLoop(page) };
  await targets.setRate(4, false);
  loops.pageOnly = { page: await pageLoop(page), worker: await workerLoop(page) };
  const attached = await targets.setRate(4, true);
  loops.both = { page: await pageLoop(page), worker: await workerLoop(page) };
  await targets.setRate(1, true);
  log(`bench: throttling check, a fixed loop (ms, page / store worker): none ${ms(loops.none.page)} / ${ms(loops.none.worker)}; page throttled 4× ${ms(loops.pageOnly.page)} / ${ms(loops.pageOnly.worker)}; page and worker target throttled 4× ${ms(loops.both.page)} / ${ms(loops.both.worker)}; Emulation.setCPUThrottlingRate on the worker target: ${JSON.stringify(Object.values(attached))}${targets.throttleErrors.size ? ` errors: ${[...targets.throttleErrors].join('; ')}` : ''}`);
  const workerThrottled = loops.both.worker > 2 * loops.none.worker;
  const ratio = (a, b) => (a / b).toFixed(1);
  log(`bench: throttling check, slowdown factor page / store worker: page throttled ${ratio(loops.pageOnly.page, loops.none.page)}× / ${ratio(loops.pageOnly.worker, loops.none.worker)}×; worker target also asked ${ratio(loops.both.page, loops.none.page)}× / ${ratio(loops.both.worker, loops.none.worker)}×`);

  // The search's states, learnt once without throttling.
  const states = await learnSearch(page, expectedText, WORD);
  log(`bench: search "${WORD}" states: ${states.map((s) => JSON.parse(s).count).join(' | ')}`);

  const results = {};
  let offset = 0;
  let template = null; // the record form's last request, for the saves posted to the worker
  for (const rate of [1, 4]) {
    const label = rate === 1 ? 'no throttling' : '4× CPU throttling';
    await targets.setRate(rate, true);
    const r = {};
    r.open = await openRuns(page, expectedText, `${label}, open online`);
    r.save = await saveRuns(page, expectedText, label, offset, PROFILE && rate === 1 ? targets : null, targets);
    if (PROFILE && rate === 1) targets.reportProfile(PROFILE);
    if (rate === 1) template = await page.evaluate(() => window.__lastRecord || null);
    offset += RUNS;
    r.search = await searchRuns(page, expectedText, states, WORD, label);
    // Offline: relay stopped, context offline.
    await stopRelay(relay);
    await context.setOffline(true);
    r.offline = await openRuns(page, expectedText, `${label}, open offline (relay stopped, context offline)`);
    await context.setOffline(false);
    relay = await startRelay(relayDir, `127.0.0.1:${port}`);
    results[rate] = r;
  }
  await targets.setRate(1, true);
  const memAfterRuns = await memory(page, session, targets, 'after the runs');
  // Last, since they add conversations (the search's states were learnt without them).
  if (WORKER_SAVES > 0) {
    try {
      const savesProfile = PROFILE ? await targets.startProfile() : null;
      try {
        results[1].workerSaves = await workerSaves(page, targets, WORKER_SAVES, template);
      } finally {
        if (savesProfile) {
          await targets.stopProfile(savesProfile);
          targets.reportProfile(`${PROFILE}.worker-saves`, `the ${WORKER_SAVES} posted saves (and the idle work between them)`);
        }
      }
      const sorted = [...results[1].workerSaves].sort((x, y) => x - y);
      // Nearest rank: the smallest value with at least q of them at or below it.
      const at = (q) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
      log(`bench: ${sorted.length} saves posted to the store worker, its own time: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${sorted[sorted.length - 1]} ms (${results[1].workerSaves.join(', ')})`);
    } catch (e) {
      log(`bench: the saves posted to the store worker could not be measured: ${e.message}`);
    }
  }

  // Last of all, since the notebook stays encrypted after it.
  let encrypted = null;
  if (ENCRYPT) {
    try {
      encrypted = await encryptRun(page, expectedText, profile, targets, template);
    } catch (e) {
      log(`bench: encrypting the notebook could not be measured: ${e.message}`);
    }
  }

  // ---------------------------------------------------------------- the summary
  const row = (what, a, b) => `| ${what} | ${a} | ${b} |`;
  const mm = (xs) => `${ms(median(xs))} (max ${ms(max(xs))})`;
  const mm1 = (xs) => `${median(xs).toFixed(1)} (max ${max(xs).toFixed(1)})`;
  const lines = [
    '',
    `Phone web app, ${fmt(total)} people, Chromium headless ${PHONE.viewport.width}×${PHONE.viewport.height} touch, ${RUNS} runs each; ms, median (max).`,
    `Relay ${RELAY.includes('/release/') ? 'release' : 'debug'} build, CLI ${BIN.includes('/release/') ? 'release' : 'debug'} build; web build ${WEB}; ${cpus().length} CPUs, load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
    '',
    '| measurement | no throttling | 4× CPU throttling |',
    '| --- | --- | --- |',
    row('open online: navigation start → total + first rows', mm(results[1].open.inPage), mm(results[4].open.inPage)),
    row('open online: wall from reload()', mm(results[1].open.wall), mm(results[4].open.wall)),
    row('open offline (service worker): navigation start → total + first rows', mm(results[1].offline.inPage), mm(results[4].offline.inPage)),
    row('open offline: wall from reload()', mm(results[1].offline.wall), mm(results[4].offline.wall)),
    row('tap save → conversation shown', mm(results[1].save), mm(results[4].save)),
    row("RecordConversation, the store worker's own time", mm1(results[1].save.inWorker), mm1(results[4].save.inWorker)),
    ...(results[1].workerSaves ? [row(`${results[1].workerSaves.length} saves posted to the store worker: its own time`, mm1(results[1].workerSaves), '')] : []),
    row(`search per keystroke ("${WORD}"), keys that change the list`, mm(results[1].search.visible), mm(results[4].search.visible)),
    row('search per keystroke, all keys', mm(results[1].search.all), mm(results[4].search.all)),
    '',
    '| one-off | value |',
    '| --- | --- |',
    `| first sync, join tap → "${expectedText}" | ${(firstSync / 1000).toFixed(1)} s |`,
    `| cold first load → join card (fresh profile) | ${coldToJoin} ms |`,
    `| cold first load transfer (CDP, page + workers; codings ${Object.keys(codings).join(', ')}) | ${kib(wire)} (${wire} bytes incl. headers, ${bodies} of bodies, ${coldRequests} requests) |`,
    `| build total raw / gzip / brotli | ${kib(totals.raw)} / ${kib(totals.gz)} / ${kib(totals.br)} |`,
    `| store worker wasm memory after first sync / after runs (a new worker since the last reload) | ${mib(memAfterSync.wasm)} / ${mib(memAfterRuns.wasm)} |`,
    `| helper workers' wasm memory after first sync | ${memAfterSync.helpers.length ? memAfterSync.helpers.map(mib).join(', ') : 'none listed'} |`,
    `| store worker JS heap after first sync / after runs | ${memAfterSync.workerHeap ? mib(memAfterSync.workerHeap) : '?'} / ${memAfterRuns.workerHeap ? mib(memAfterRuns.workerHeap) : '?'} |`,
    `| page JS heap used after first sync / after runs | ${mib(memAfterSync.pageHeap)} / ${mib(memAfterRuns.pageHeap)} |`,
    `| 4× throttling reaches the store worker | ${workerThrottled ? 'yes' : 'no'} (a fixed loop in the worker: ${ms(loops.none.worker)} ms unthrottled, ${ms(loops.pageOnly.worker)} ms with the page throttled, ${ms(loops.both.worker)} ms with the worker target asked too${targets.throttleErrors.size ? `; the worker target answered: ${[...targets.throttleErrors][0].replace(/^worker: /, '')}` : ''}); the page's loop: ${ms(loops.none.page)} → ${ms(loops.pageOnly.page)} ms |`,
    `| CLI device push of the team to the relay | ${fmt(pushed)} changes |`,
    ...(encrypted ? [
      `| encrypting the notebook at rest (Settings, tap → "now encrypted") | ${(encrypted.encrypt / 1000).toFixed(1)} s |`,
      `| the browser's OPFS files on disk before / after encrypting | ${mib(encrypted.usedBefore)} / ${mib(encrypted.usedAfter)} |`,
      `| the encrypted notebook opening: reload → lock screen; passphrase entered → total + first rows | ${ms(encrypted.toLock)} ms; ${ms(encrypted.unlock)} ms |`,
      ...(encrypted.saves ? [`| ${encrypted.saves.length} saves posted to the store worker of the encrypted notebook: its own time | ${mm1(encrypted.saves)} |`] : []),
      `| changing the passphrase (Settings, tap → "changed"); OPFS files on disk after | ${(encrypted.change / 1000).toFixed(1)} s; ${mib(encrypted.usedChanged)} |`,
      `| the new passphrase entered → total | ${ms(encrypted.reopened)} ms |`,
    ] : []),
  ];
  log(lines.join('\n'));
  log(`bench: done in ${Math.round((Date.now() - started) / 1000)} s`);
}

main()
  .then(() => cleanup())
  .catch(async (e) => {
    console.log(`bench failed: ${e.stack}`);
    await cleanup();
    process.exit(1);
  });
