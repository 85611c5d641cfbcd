// What the browser tests and the benchmark share: where things are, the command line and the
// relay as processes, Chromium's arguments, and the steps every test takes on the phone web app
// (tabs, fast typing, finding a person, axe-core, waiting for the sync badge).

import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '..', '..');
export const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
export const WEB = process.env.GROUNDWORK_WEB_DIR || join(root, 'target', 'web');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const AXE = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * The command line (`bin`) and the relay (`relay`, serving the web app in `web`) as processes.
 * `children`, when given, holds every relay process while it runs (for a clean-up on signals).
 */
export function processes({ bin, relay, web = WEB, children = null }) {
  const cli = (dir, ...args) =>
    execFileSync(bin, ['--data-dir', dir, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const relayCli = (dir, ...args) => execFileSync(relay, ['--data-dir', dir, ...args], { encoding: 'utf8' });

  /** Start the relay serving the app; resolves with { proc, url, port } once it prints its
   * address (`url` without a trailing slash). */
  const startRelay = (dir, listen = '127.0.0.1:0') => new Promise((resolveStart, reject) => {
    const proc = spawn(relay, ['--data-dir', dir, 'serve', '--listen', listen, '--app', web, '--log', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (children) children.add(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`the relay printed no address; stderr: ${err}`)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/(\S+):(\d+))/);
      if (m) {
        clearTimeout(timer);
        resolveStart({ proc, url: m[1], port: Number(m[3]) });
      }
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => {
      if (children) children.delete(proc);
      clearTimeout(timer);
      reject(new Error(`the relay exited (${code}): ${err}`));
    });
  });

  const stopRelay = (running, signal = 'SIGTERM') => new Promise((res) => {
    if (!running || running.proc.exitCode !== null || running.proc.signalCode !== null) return res();
    running.proc.removeAllListeners('exit');
    running.proc.on('exit', () => {
      if (children) children.delete(running.proc);
      res();
    });
    running.proc.kill(signal);
  });

  return { cli, relayCli, startRelay, stopRelay };
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

export function eq(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

export async function tab(page, name) {
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name }).click();
}

/** Wait until the page's address is `path` (the app moves it one message after the screen). */
export async function waitPath(page, path, what) {
  try {
    await page.waitForFunction((p) => window.location.pathname === p, path, { timeout: 10000 });
  } catch {
    throw new Error(`${what}: expected ${path}, the address is ${new URL(page.url()).pathname}`);
  }
}

/** Types like a fast thumb: one key at a time, no delay between keys. */
export async function typeFast(page, selector, text) {
  const el = page.locator(selector);
  await el.fill('');
  await el.pressSequentially(text, { delay: 0 });
}

/** Open a person's file through search. */
export async function findPerson(page, query, name) {
  await tab(page, 'People');
  await typeFast(page, '#search', query);
  await page.locator('.person-row', { hasText: name }).first().click();
  await page.waitForSelector('#person-title');
}

/** No serious or critical axe-core finding on the page as it is (the context needs
 * `bypassCSP`: the relay's content security policy allows no injected script). */
export async function axeCheck(page, screen) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `${screen}: axe found ${JSON.stringify(bad)}`);
  return result;
}

const SYNCED = /^Synced \d\d:\d\d · all saved here$/;

export async function badgeText(page) {
  return (await page.locator('.sync-badge .sync-text').first().innerText()).trim();
}

/** Record every text the sync badge shows from now on (in `window.__badge`). */
export async function watchBadge(page) {
  await page.evaluate(() => {
    if (window.__badgeObserver) window.__badgeObserver.disconnect();
    const read = () => {
      const el = document.querySelector('.sync-badge .sync-text');
      const text = el ? el.textContent.trim() : '';
      if (window.__badge[window.__badge.length - 1] !== text) window.__badge.push(text);
    };
    window.__badge = [];
    read();
    window.__badgeObserver = new MutationObserver(read);
    window.__badgeObserver.observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

export const badgeSeen = (page) => page.evaluate(() => window.__badge || []);

/** Tap "Sync now" and wait until the badge has said "Syncing…" and then that it synced with
 * nothing waiting. */
export async function syncNow(page, timeout = 20000) {
  await watchBadge(page);
  await page.locator('.sync-badge').getByRole('button', { name: 'Sync now' }).first().click();
  await waitSynced(page, timeout);
}

/** Wait until the badge, watched by `watchBadge`, went through a sync and now says everything
 * is sent. */
export async function waitSynced(page, timeout = 20000) {
  try {
    await page.waitForFunction((synced) => {
      const seen = window.__badge || [];
      const i = seen.findIndex((t) => t.startsWith('Syncing…'));
      return i >= 0 && new RegExp(synced).test(seen[seen.length - 1]);
    }, SYNCED.source, { timeout });
  } catch {
    throw new Error(`the badge never said everything was sent after a sync: it said ${JSON.stringify(await badgeSeen(page).catch(() => '?'))}`);
  }
}

/** Wait until the badge says everything is sent. */
export async function waitAllSent(page, timeout = 20000) {
  try {
    await page.locator('.sync-badge .sync-text', { hasText: SYNCED }).first().waitFor({ timeout });
  } catch {
    throw new Error(`the badge never said everything was sent: it says ${JSON.stringify(await badgeText(page).catch(() => '?'))}`);
  }
}
