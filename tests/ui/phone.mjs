// Browser tests of the phone web app: the relay (`sync-server serve --app DIR`) serves the
// wasm build on a temporary data directory; Debian's Chromium, through playwright-core,
// emulates a 360 × 740 touch phone with a profile of its own (kept across a browser restart);
// a command-line device (`groundwork --data-dir CLI`) joined to the same team checks what the
// phone sent, byte for byte, and adds records for the phone to pull.
//
//   node tests/ui/phone.mjs                run every test (npm run phone --prefix tests/ui)
//   CARGO_TARGET_DIR=dir                   where the native binaries are (default: <repo>/target)
//   GROUNDWORK_WEB_DIR=dir                 the built web app (default: <repo>/target/web,
//                                          written by .ci/build-web)
//   GROUNDWORK_BIN=path                    the command line (default: $CARGO_TARGET_DIR/debug/groundwork)
//   GROUNDWORK_RELAY_BIN=path              the relay (default: $CARGO_TARGET_DIR/debug/sync-server)
//   GROUNDWORK_UI_ONLY=pattern             run only the tests whose name matches this regular expression
//                                          (e.g. "first load|worker stopping": the join, then one test)
//                                          (the tests share one story: later ones need earlier ones)
//   CHROMIUM=path                          the browser (default: /usr/bin/chromium)
//
// Prints one line per test, `bench:` lines (timings, not asserted) and a closing
// `N passed, N failed`; exits 1 on any failure.

import { mkdtempSync, rmSync, existsSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  targetDir, WEB, CHROMIUM, CHROMIUM_ARGS, processes, assert, eq, tab, waitPath, typeFast, findPerson,
  axeCheck, badgeText, watchBadge, badgeSeen, syncNow, waitSynced, waitAllSent,
} from './common.mjs';

const BIN = process.env.GROUNDWORK_BIN || join(targetDir, 'debug', 'groundwork');
const RELAY = process.env.GROUNDWORK_RELAY_BIN || join(targetDir, 'debug', 'sync-server');
const { cli, relayCli, startRelay, stopRelay } = processes({ bin: BIN, relay: RELAY });

/** A phone: 360 × 740 CSS pixels, touch. `bypassCSP` lets axe-core be injected into the page
 * despite the relay's content security policy (no inline scripts). */
const PHONE = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  bypassCSP: true,
};

// ---------------------------------------------------------------- helpers

/** Navigate (or reload) and time it until the People list answers: a row shown and the search
 * box enabled. */
async function timePeople(page, url) {
  const t0 = Date.now();
  if (url) await page.goto(url); else await page.reload();
  await page.locator('.person-row').first().waitFor({ timeout: 60000 });
  await page.locator('#search:enabled').waitFor();
  return Date.now() - t0;
}

// ---------------------------------------------------------------- the story

const CANVASSER = 'Zoë Ní Bhriain';
const PERSON = 'Zoë Okafor-Brennan';
const PHONE_NO = '07700 900321';
const STORY = "Zoë's café — 5am start, then the night bus home; rent up £40 & \"no heating\" since Oct. ☕ ünïcödé";
const FIRST = 'sign the letter to the landlord';
const SECOND = "bring Ana & Lee to Friday's meeting, 7:30!";
const OFFLINE_STORY = 'Written offline in the stairwell: Zoë says flat 4B — also damp, no signal here.';
const TEAMMATE_PERSON = 'Bongani Dlamini';
const TEAMMATE_STORY = "Ana called back: Zoë will bring the café's rota — 6 people.";
const TEAMMATE_LATER = 'Kwame Mensah-Oduya';

const state = {};

/** A phone browser with its own profile, kept across a restart of the browser. */
async function launchPhone(s, extra = {}) {
  s.context = await chromium.launchPersistentContext(s.profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...PHONE,
    ...extra,
  });
  await s.context.addInitScript(recordWorkerAsks);
  s.page = s.context.pages()[0] || await s.context.newPage();
  return s.page;
}

/** A proxy on 127.0.0.1 in front of the relay that carries every request through, except that
 * for the requests `lose(req)` picks it waits for the relay's whole answer and then drops the
 * connection: the relay did the work, and its answer never arrives (a weak signal). Resolves
 * to `{ url, close }`. */
function lossyProxy(relayPort, lose) {
  const server = createServer((req, res) => {
    const body = [];
    req.on('data', (c) => body.push(c));
    req.on('end', () => {
      const up = httpRequest({ host: '127.0.0.1', port: relayPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const out = [];
        answer.on('data', (c) => out.push(c));
        answer.on('end', () => {
          if (lose(req)) {
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.statusCode, answer.headers);
          res.end(Buffer.concat(out));
        });
      });
      up.on('error', () => req.socket.destroy());
      up.end(Buffer.concat(body));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}`,
      close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
    }));
  });
}

/** The page's store worker (the one that exposes the notebook's counters). */
async function storeWorker(page) {
  for (const w of page.workers()) {
    if (await w.evaluate(() => typeof globalThis.groundworkOpenedElsewhere === 'function').catch(() => false)) return w;
  }
  throw new Error(`no store worker among ${page.workers().length} workers`);
}

/** Make the page's store worker fail as a trap of its wasm does (an uncaught error in its
 * scope), and wait for the page to say the notebook stopped. */
async function trapWorker(page) {
  const worker = await storeWorker(page);
  await worker.evaluate(() => { setTimeout(() => { throw new Error('a trap, for the test'); }, 0); });
  await page.locator('#notebook-stopped').waitFor({ timeout: 10000 });
}

/** The new-person form on screen came back empty: no draft restored (text deleted stays
 * deleted). */
async function noDraftRestored(page) {
  await page.locator('#person-name').waitFor({ timeout: 10000 });
  await page.waitForTimeout(500);
  eq(await page.getByText('A draft was restored').count(), 0, 'a restored draft after the text was deleted');
  eq(await page.inputValue('#person-name'), '', 'the name field after the text was deleted');
}

/** Runs in every page before its scripts: wraps `Worker` so that each request posted to the
 * store worker that asks for a person's file to be kept loaded is noted with whether the
 * conversation form (`#story`) was on screen when it was posted. */
function recordWorkerAsks() {
  window.__keepLoadedAsks = [];
  const Base = window.Worker;
  if (!Base || Base.__asksWrapped) return;
  class AskWorker extends Base {
    postMessage(...args) {
      if (typeof args[0] === 'string' && args[0].includes('"KeepLoaded"')) {
        window.__keepLoadedAsks.push({ formShown: document.getElementById('story') !== null });
      }
      return super.postMessage(...args);
    }
  }
  AskWorker.__asksWrapped = true;
  window.Worker = AskWorker;
}

const tests = [
  ['first load from the relay and join by link with a name', async (s) => {
    const page = await launchPhone(s);
    const t0 = Date.now();
    await page.goto(`${s.relay.url}/#join=${encodeURIComponent(s.invite)}`);
    await page.locator('#join-link-name').waitFor();
    console.log(`bench: first load (empty cache) to the join card: ${Date.now() - t0} ms`);
    eq(new URL(page.url()).hash, '', 'the address bar\'s fragment after opening a join link');
    await page.getByText(`the team that syncs at ${s.relay.url}`).waitFor();
    await typeFast(page, '#join-link-name', CANVASSER);
    await page.tap('#join-link-join');
    await page.locator('h1.brand').waitFor({ timeout: 30000 });
    await page.locator('#tab-People').waitFor();
    await waitAllSent(page, 30000);
    // What the command-line device added before the phone joined is pulled at once.
    await page.locator('.person-row', { hasText: TEAMMATE_PERSON }).waitFor({ timeout: 20000 });
    // The relay knows the phone, under the name typed.
    const devices = JSON.parse(relayCli(s.relayDir, 'device', 'list', '--team', s.team));
    const names = devices.map((d) => d.name);
    assert(names.includes(`${CANVASSER}'s phone`), `the relay's devices: ${JSON.stringify(names)}`);
    const settings = await (async () => { await tab(page, 'Settings'); return page.locator('#canvasser-name').inputValue(); })();
    eq(settings, CANVASSER, 'the canvasser name recorded by joining');
    await tab(page, 'People');
  }],

  ['what was typed just before the tab was closed, while the notebook\'s worker was busy (a sync), comes back in the next tab; a save the worker never read comes back as its draft; text deleted does not come back; a refused second tab leaves the copy alone', async (s) => {
    // The worker writes a draft once typing pauses (250 ms) or the page hides; a worker busy
    // with a page of a sync is ended with the tab before it reads either. The page keeps its
    // own copy until the worker says the draft is kept.
    const busy = async (page) => {
      const worker = await storeWorker(page);
      // Busy until it is ended: nothing it is sent from now on is read.
      await worker.evaluate(() => { setTimeout(() => { for (;;); }, 0); });
    };
    const reopen = async () => {
      s.page = await s.context.newPage();
      await s.page.goto(`${s.relay.url}/`);
      await s.page.locator('#tab-People').waitFor({ timeout: 30000 });
      await s.page.getByRole('button', { name: '+ Add person' }).tap();
      await s.page.getByText('A draft was restored').waitFor({ timeout: 10000 });
      return s.page;
    };
    const copyGone = async (page) => {
      for (let i = 0; i < 100; i += 1) {
        if (await page.evaluate(() => localStorage.getItem('groundwork-unsaved-drafts')) === null) return;
        await page.waitForTimeout(100);
      }
      throw new Error('the page\'s copy of the drafts is still there after the worker kept them');
    };

    let page = s.page;
    await tab(page, 'People');
    await page.getByRole('button', { name: '+ Add person' }).tap();
    await page.locator('#person-name').waitFor();
    await busy(page);
    await typeFast(page, '#person-name', 'Typed Then Closed');
    await page.close();
    page = await reopen();
    eq(await page.inputValue('#person-name'), 'Typed Then Closed', 'the name typed in the closed tab');
    await copyGone(page);

    // Saved while the worker is busy, then closed: the save was never read, so its draft is
    // all there is.
    await busy(page);
    await typeFast(page, '#person-name', 'Saved Then Closed');
    await page.tap('#save-new-person');
    await page.close();
    page = await reopen();
    eq(await page.inputValue('#person-name'), 'Saved Then Closed', 'the name of the save never read');
    await page.tap('#save-new-person');
    await page.getByText('Person added.').waitFor();
    await copyGone(page);
    await tab(page, 'People');
    await typeFast(page, '#search', 'then closed');
    await page.locator('.person-row', { hasText: 'Saved Then Closed' }).first().waitFor();
    eq(await page.locator('.person-row', { hasText: 'Then Closed' }).count(), 1, 'people named "… Then Closed" (once, and only the one saved)');
    await typeFast(page, '#search', '');

    // Text the notebook kept, then deleted from the form while the worker is busy, and the tab
    // closed: the discard the worker never read is owed, and the text does not come back.
    await page.getByRole('button', { name: '+ Add person' }).tap();
    await typeFast(page, '#person-name', 'Deleted Then Closed');
    await page.waitForTimeout(800); // typing paused: the draft is written
    await busy(page);
    await page.fill('#person-name', '');
    await page.close();
    s.page = await s.context.newPage();
    page = s.page;
    await page.goto(`${s.relay.url}/`);
    await page.locator('#tab-People').waitFor({ timeout: 30000 });
    await page.getByRole('button', { name: '+ Add person' }).tap();
    await noDraftRestored(page);
    await copyGone(page);

    // A second tab, refused the notebook, leaves the first tab's copy alone: the first closed
    // mid-typing, its text comes back when the second is reloaded.
    const second = await s.context.newPage();
    await second.goto(`${s.relay.url}/`);
    await second.locator('#cannot-open[role="alert"]').waitFor({ timeout: 30000 });
    await busy(page);
    await typeFast(page, '#person-name', 'Typed Beside A Second Tab');
    await page.close();
    s.page = second;
    page = second;
    await page.reload();
    await page.locator('#tab-People').waitFor({ timeout: 30000 });
    await page.getByRole('button', { name: '+ Add person' }).tap();
    await page.getByText('A draft was restored').waitFor({ timeout: 10000 });
    eq(await page.inputValue('#person-name'), 'Typed Beside A Second Tab', 'the name typed in the first tab, in the second');
    await copyGone(page);
    await page.fill('#person-name', ''); // discarded, for the tests after
    await tab(page, 'People');
  }],

  ['field flow: add a person, record a conversation with two commitments typed fast, search finds it, the command line gets exactly the typed text', async (s) => {
    const { page } = s;
    await tab(page, 'People');
    await page.getByRole('button', { name: '+ Add person' }).tap();
    await typeFast(page, '#person-name', PERSON);
    await typeFast(page, '#person-phone', PHONE_NO);
    await page.getByRole('button', { name: 'phone', exact: true }).tap();
    await page.getByRole('button', { name: 'Save person' }).tap();
    await page.getByRole('heading', { name: PERSON }).waitFor();
    await page.waitForFunction(() => /^\/people\/[^/]+$/.test(window.location.pathname), null, { timeout: 10000 });
    state.person = new URL(page.url()).pathname.split('/')[2];

    await page.tap('#record-conversation');
    await page.waitForSelector('#story');
    // The person's file is asked to be kept loaded for the save, once the form is shown (the
    // form's own reads do not wait behind it).
    await page.waitForFunction(() => window.__keepLoadedAsks.length > 0, null, { timeout: 10000 });
    eq(await page.evaluate(() => window.__keepLoadedAsks), [{ formShown: true }], 'asks to keep the file loaded');
    await typeFast(page, '#story', STORY);
    // Both asks typed in one go, Enter after each: the second is typed before the first Enter
    // is answered.
    await page.click('#commitment-entry');
    await page.keyboard.type(`${FIRST}\n${SECOND}\n`, { delay: 0 });
    await page.locator('.added-item', { hasText: SECOND }).waitFor();
    eq(await page.locator('.added-item span').allTextContents(), [FIRST, SECOND], 'commitments listed');
    const t0 = Date.now();
    await page.tap('#save-conversation');
    await page.locator('.conversation .story', { hasText: '5am start' }).waitFor();
    state.saveMs = Date.now() - t0;
    eq(await page.locator('.conversation .story').first().innerText(), STORY, 'the story shown');
    await page.locator('.commitment .what', { hasText: SECOND }).waitFor();
    eq((await page.locator('.commitment .what').allInnerTexts()).sort(), [FIRST, SECOND].sort(), 'commitments shown');

    await tab(page, 'People');
    await typeFast(page, '#search', 'café');
    await page.locator('.person-row', { hasText: PERSON }).waitFor();
    // The list follows the search a moment after the last key: wait for it to settle.
    await page.waitForFunction(() => document.querySelectorAll('.person-row').length === 1, null, { timeout: 5000 }).catch(() => {});
    const rows = await page.locator('.person-row').allInnerTexts();
    eq(rows.length, 1, `rows for "café" (${JSON.stringify(rows)})`);
    assert(rows[0].includes(PERSON), `the row found: ${JSON.stringify(rows[0])}`);

    const n0 = Date.now();
    await syncNow(page);
    console.log(`bench: tap "Sync now" (within seconds of a save) to the badge saying all sent: ${Date.now() - n0} ms`);
    cli(s.cliDir, 'sync');
    const people = JSON.parse(cli(s.cliDir, 'person', 'list'));
    const zoe = people.find((p) => p.id === state.person);
    assert(zoe, `the command line has no person ${state.person}: ${JSON.stringify(people.map((p) => p.name))}`);
    eq(zoe.name, PERSON, 'name');
    eq(zoe.phone, PHONE_NO, 'phone');
    const file = JSON.parse(cli(s.cliDir, 'person', 'show', state.person));
    eq(file.conversations.length, 1, 'conversations');
    const c = file.conversations[0];
    eq(c.story, STORY, 'story');
    eq(c.canvasser, CANVASSER, 'canvasser');
    eq(file.commitments.map((x) => x.what), [FIRST, SECOND], 'commitments');
    assert(file.commitments.every((x) => x.conversation_id === c.id), 'commitments not tied to the conversation');
  }],

  ['the browser\'s back returns to the previous screen; a reload keeps the person\'s file', async (s) => {
    const { page } = s;
    const file = `/people/${state.person}`;
    await findPerson(page, 'okafor', PERSON);
    await waitPath(page, file, 'the person file\'s address');
    await tab(page, 'Due');
    await waitPath(page, '/due', 'Due\'s address');
    await page.goBack();
    await page.getByRole('heading', { name: PERSON }).waitFor();
    await waitPath(page, file, 'address after back');
    await page.tap('#record-conversation');
    await page.waitForSelector('#story');
    await waitPath(page, `${file}/record`, 'the record form\'s address');
    await page.goBack();
    await page.getByRole('heading', { name: PERSON }).waitFor();
    await waitPath(page, file, 'address after back from the record form');
    await page.reload();
    await page.getByRole('heading', { name: PERSON }).waitFor();
    await waitPath(page, file, 'address after reload');
    eq(await page.locator('#people-title').count(), 0, 'the People list shown after reload');
    await page.goBack();
    await page.locator('#people-title').waitFor();
  }],

  ['installable: no installability errors, the service worker controls the page', async (s) => {
    const { page } = s;
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 15000 });
    const cdp = await s.context.newCDPSession(page);
    try {
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
      eq(installabilityErrors, [], 'installability errors');
      const man = await cdp.send('Page.getAppManifest');
      eq(man.errors, [], 'manifest errors');
    } finally {
      await cdp.detach();
    }
  }],

  ['bench: navigation to an interactive People list, online', async (s) => {
    const { page } = s;
    const cdp = await s.context.newCDPSession(page);
    try {
      const plain = [];
      for (let i = 0; i < 3; i++) plain.push(await timePeople(page, `${s.relay.url}/`));
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
      const slow = [];
      for (let i = 0; i < 2; i++) slow.push(await timePeople(page, `${s.relay.url}/`));
      console.log(`bench: online, navigation to interactive People list: ${plain.join(', ')} ms; with 4× CPU throttling: ${slow.join(', ')} ms`);
    } finally {
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 }).catch(() => {});
      await cdp.detach().catch(() => {});
    }
  }],

  ['offline: relay stopped and no network, a reload starts from the service worker with the data; a conversation recorded offline waits', async (s) => {
    const { page } = s;
    await findPerson(page, 'okafor', PERSON);
    await waitPath(page, `/people/${state.person}`, 'the person file\'s address');
    await stopRelay(s.relay);
    await s.context.setOffline(true);
    await page.reload();
    await page.getByRole('heading', { name: PERSON }).waitFor({ timeout: 30000 });
    await page.locator('.conversation .story', { hasText: '5am start' }).waitFor();
    await page.tap('#record-conversation');
    await page.waitForSelector('#story');
    await typeFast(page, '#story', OFFLINE_STORY);
    await page.tap('#save-conversation');
    await page.locator('.conversation .story', { hasText: 'stairwell' }).waitFor();
    // The worker tries about 3 s after the change and finds no relay.
    try {
      await page.locator('.sync-badge .sync-text', { hasText: /^Offline · [1-9]\d* changes? waiting$/ }).first().waitFor({ timeout: 20000 });
    } catch {
      throw new Error(`badge after an offline save: ${JSON.stringify(await badgeText(page))}`);
    }
  }],

  ['bench: navigation to an interactive People list, offline', async (s) => {
    const { page } = s;
    const cdp = await s.context.newCDPSession(page);
    try {
      const plain = [];
      for (let i = 0; i < 3; i++) plain.push(await timePeople(page, `${s.relay.url}/`));
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
      const slow = [];
      for (let i = 0; i < 2; i++) slow.push(await timePeople(page, `${s.relay.url}/`));
      console.log(`bench: offline, navigation to interactive People list: ${plain.join(', ')} ms; with 4× CPU throttling: ${slow.join(', ')} ms`);
    } finally {
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 }).catch(() => {});
      await cdp.detach().catch(() => {});
    }
  }],

  ['close the browser and reopen the same profile, still offline: everything is there', async (s) => {
    await s.context.close();
    s.context = null;
    const page = await launchPhone(s, { offline: true });
    await page.goto(`${s.relay.url}/people/${state.person}`);
    await page.getByRole('heading', { name: PERSON }).waitFor({ timeout: 30000 });
    await page.locator('.conversation .story', { hasText: '5am start' }).waitFor();
    await page.locator('.conversation .story', { hasText: 'stairwell' }).waitFor();
    eq(await page.locator('.conversation .story', { hasText: 'stairwell' }).innerText(), OFFLINE_STORY, 'the offline story after reopening');
    const asks = await page.locator('.commitment .what').allInnerTexts();
    assert(asks.includes(FIRST) && asks.includes(SECOND), `commitments after reopening: ${JSON.stringify(asks)}`);
    try {
      await page.locator('.sync-badge .sync-text', { hasText: /^Offline · [1-9]\d* changes? waiting$/ }).first().waitFor({ timeout: 20000 });
    } catch {
      throw new Error(`badge after reopening offline: ${JSON.stringify(await badgeText(page))}`);
    }
    await tab(page, 'People');
    await page.locator('.person-row', { hasText: TEAMMATE_PERSON }).waitFor();
  }],

  ['relay back on the same port, going online (context.setOffline(false), the `online` event) syncs by itself: a teammate\'s conversation appears on the open screen', async (s) => {
    const { page } = s;
    await findPerson(page, 'okafor', PERSON);
    await waitPath(page, `/people/${state.person}`, 'the person file\'s address');
    s.relay = await startRelaySamePort(s.relayDir, s.port);
    // A teammate writes while the phone is still offline.
    cli(s.cliDir, 'conversation', 'add', '--person', state.person, '--kind', 'phone', '--story', TEAMMATE_STORY);
    cli(s.cliDir, 'sync');
    // Going online fires the `online` event: the worker should sync without a tap (well
    // before its next sync of the minute).
    const t0 = Date.now();
    await watchBadge(page);
    await s.context.setOffline(false);
    try {
      await page.getByText(TEAMMATE_STORY).waitFor({ timeout: 10000 });
    } catch {
      throw new Error(`no sync within 10 s of going online: the badge said ${JSON.stringify(await badgeSeen(page))}`);
    }
    console.log(`bench: online event to a teammate's conversation shown: ${Date.now() - t0} ms`);
  }],

  ['back online: the offline conversation reaches the command line, the teammate\'s shows on the open person file without changing screens', async (s) => {
    const { page } = s;
    if (await page.getByText(TEAMMATE_STORY).count() === 0) {
      // The `online` event did not sync (see the test before): tap "Sync now".
      console.log('     (tapped "Sync now": going online did not sync)');
      await syncNow(page);
    }
    await page.getByText(TEAMMATE_STORY).waitFor({ timeout: 20000 });
    eq(new URL(page.url()).pathname, `/people/${state.person}`, 'still on the person file');
    await page.getByRole('heading', { name: PERSON }).waitFor();
    await waitAllSent(page);
    cli(s.cliDir, 'sync');
    const file = JSON.parse(cli(s.cliDir, 'person', 'show', state.person));
    const stories = file.conversations.map((c) => c.story).sort();
    eq(stories, [STORY, OFFLINE_STORY, TEAMMATE_STORY].sort(), 'the command line\'s conversations');
    const offline = file.conversations.find((c) => c.story === OFFLINE_STORY);
    eq(offline.canvasser, CANVASSER, 'canvasser of the offline conversation');
  }],

  ['the sync of the minute brings a teammate\'s new person onto the open People list, no tap (waits up to 75 s)', async (s) => {
    const { page } = s;
    await tab(page, 'People');
    await page.locator('#people-title').waitFor();
    await page.locator('.person-row').first().waitFor();
    cli(s.cliDir, 'person', 'add', '--name', TEAMMATE_LATER);
    cli(s.cliDir, 'sync');
    const t1 = Date.now();
    await page.locator('.person-row', { hasText: TEAMMATE_LATER }).waitFor({ timeout: 75000 });
    console.log(`bench: a teammate's new person shown by the periodic sync after ${Date.now() - t1} ms (no tap)`);
    eq(new URL(page.url()).pathname, '/', 'still on the People list');
  }],

  ['pages of 24 people pulled at once are opened and checked by the store worker and its helper workers together', async (s) => {
    const { page } = s;
    const worker = await storeWorker(page);
    const cores = await worker.evaluate(() => navigator.hardwareConcurrency);
    await tab(page, 'People');
    let opened = 0;
    for (const block of ['C', 'D']) {
      const names = Array.from({ length: 24 }, (_, i) => `Neighbour ${i + 1} of Block ${block}`);
      for (const name of names) cli(s.cliDir, 'person', 'add', '--name', name);
      cli(s.cliDir, 'sync');
      const before = await worker.evaluate(() => globalThis.groundworkOpenedElsewhere());
      await syncNow(page);
      await page.fill('#search', `Block ${block}`);
      await page.locator('.person-row', { hasText: names[23] }).waitFor({ timeout: 20000 });
      opened = await worker.evaluate(() => globalThis.groundworkOpenedElsewhere()) - before;
      // The first page large enough starts the helpers and is done before they are ready
      // (which page that is depends on what was pulled before); the next is theirs.
      console.log(`     (block ${block}: ${opened} blobs opened in jobs)`);
    }
    if (cores >= 2) {
      assert(opened >= 24, `blobs of the second page opened in jobs with the helpers: ${opened} (${cores} cores)`);
    } else {
      console.log(`     (one core: no helper workers; ${opened} blobs opened in jobs)`);
    }
    await page.fill('#search', '');
  }],

  ['online, the badge counts a change waiting right after a save (not "all saved here" until it is sent)', async (s) => {
    const { page } = s;
    await findPerson(page, 'okafor', PERSON);
    await page.tap('#record-conversation');
    await page.waitForSelector('#story');
    await typeFast(page, '#story', 'Badge check');
    await watchBadge(page);
    await page.tap('#save-conversation');
    await page.locator('.conversation .story', { hasText: 'Badge check' }).waitFor();
    try {
      await page.waitForFunction(() => (window.__badge || []).some((t) => /\b[1-9]\d* changes? waiting$/.test(t)), null, { timeout: 2000 });
    } catch {
      throw new Error(`within 2 s of the save the badge said only ${JSON.stringify(await badgeSeen(page))}`);
    } finally {
      await waitAllSent(page, 20000).catch(() => {});
    }
  }],

  ['a second tab cannot open the notebook', async (s) => {
    const second = await s.context.newPage();
    try {
      await second.goto(`${s.relay.url}/`);
      const alert = second.locator('#cannot-open[role="alert"]');
      await alert.waitFor({ timeout: 30000 });
      const words = await alert.innerText();
      assert(/another tab/i.test(words), `#cannot-open says ${JSON.stringify(words)}`);
      // The app that could not open its notebook is hidden, never usable.
      eq(await second.locator('#tab-People').isVisible(), false, 'tabs visible in the second tab');
      eq(await second.locator('#main').isVisible(), false, 'the app visible in the second tab');
    } finally {
      await second.close();
    }
    // The first tab still works.
    await tab(s.page, 'Due');
    await waitPath(s.page, '/due', 'Due in the first tab');
  }],

  ['Settings says whether the browser keeps the notebook', async (s) => {
    const { page } = s;
    await tab(page, 'Settings');
    const note = await page.locator('#storage-note').innerText();
    assert(/promised to keep your notebook/.test(note), `#storage-note says ${JSON.stringify(note)}`);
  }],

  ['a canvasser\'s phone: Settings names the role; a person the lead erases leaves the open People list at the next sync, for good', async (s) => {
    const { page } = s;
    await tab(page, 'Settings');
    const role = await page.locator('#team-role').innerText();
    assert(/You are a canvasser/.test(role), `#team-role says ${JSON.stringify(role)}`);
    // The team's first device made its key, and the phone's invite carried it.
    const sealed = await page.locator('#team-sealed').innerText();
    assert(/^End-to-end encrypted/.test(sealed), `#team-sealed says ${JSON.stringify(sealed)}`);
    // A team made since documents have their own keys: erasure reaches old copies of the relay.
    const documentKeys = await page.locator('#team-document-keys').innerText();
    assert(/^Each person's file has its own key/.test(documentKeys),
      `#team-document-keys says ${JSON.stringify(documentKeys)}`);
    await tab(page, 'People');
    await page.locator('.person-row', { hasText: TEAMMATE_LATER }).waitFor();
    const gone = JSON.parse(cli(s.cliDir, 'person', 'list')).find((p) => p.name === TEAMMATE_LATER);
    const erased = JSON.parse(cli(s.cliDir, 'person', 'erase', gone.id));
    eq([erased.order, erased.confirmed, erased.devices], [1, 1, 2], 'the order, as the lead sees it');
    await syncNow(page);
    await page.locator('.person-row', { hasText: TEAMMATE_LATER }).waitFor({ state: 'detached', timeout: 20000 });
    eq(new URL(page.url()).pathname, '/', 'still on the People list');
    // The log file was truncated after the erasure: no truncating checkpoint is still owed
    // (on the phone it once never was, and the erased pages stayed in the log).
    const worker = await storeWorker(page);
    eq(await worker.evaluate(() => globalThis.groundworkScrubPending()), false, 'a truncation still owed after the erasure');
    await page.fill('#search', 'Mensah');
    await page.getByText('Nobody matches “Mensah”.').waitFor();
    eq(await page.locator('.person-row', { hasText: TEAMMATE_LATER }).count(), 0, 'search finds no one');
    await page.fill('#search', '');
    // The phone confirmed: the lead's next sync sees every device done.
    cli(s.cliDir, 'sync');
    const status = JSON.parse(cli(s.cliDir, 'status'));
    eq(status.erasures_waiting, [], 'erasures waiting for devices, on the lead\'s');
    await syncNow(page);
    eq(await page.locator('.person-row', { hasText: TEAMMATE_LATER }).count(), 0, 'not back after another sync');
  }],

  ['promoted to lead: the phone invites a device by link, cancels an invite, lists the team, revokes that device, and erases a person from its file', async (s) => {
    const { page } = s;
    const phoneName = `${CANVASSER}'s phone`;
    const listed = JSON.parse(cli(s.cliDir, 'team', 'devices'));
    const phone = listed.find((d) => d.name === phoneName);
    assert(phone && phone.role === 'canvasser', `the phone in the lead's list: ${JSON.stringify(listed)}`);
    cli(s.cliDir, 'team', 'promote', phone.device_id);
    const doomed = cli(s.cliDir, 'person', 'add', '--name', 'Erin Erasable').trim();
    const drive = cli(s.cliDir, 'campaign', 'add', '--name', 'Spent Drive').trim();
    const csv = join(s.tmp, 'done-walk.csv');
    writeFileSync(csv, 'House No,Street\n1,Done Street\n2,Done Street\n');
    const walked = JSON.parse(cli(s.cliDir, 'walklist', 'import', '--name', 'Done Street', '--csv', csv)).id;
    cli(s.cliDir, 'sync');
    await syncNow(page);
    await tab(page, 'Settings');
    await page.locator('#team-title').waitFor();
    const role = await page.locator('#team-role').innerText();
    assert(/You are a team lead/.test(role), `#team-role says ${JSON.stringify(role)}`);

    await page.tap('#team-invite');
    const link = await page.locator('#team-invite-link').innerText({ timeout: 20000 });
    assert(link.startsWith(`${s.relay.url}/#join=`), `the invite link ${link}`);
    const newcomer = join(s.tmp, 'newcomer');
    const joined = JSON.parse(cli(newcomer, 'join', '--invite', link, '--name', 'Newcomer laptop'));
    eq(joined.role, 'canvasser', 'the role the phone\'s invite gives');
    // A second invite, sent to the wrong people: the phone lists the team's open invites and
    // cancels it, and its link lets nobody in.
    await page.tap('#team-invite');
    await page.locator('#team-invite-link').filter({ hasNotText: link }).waitFor({ timeout: 20000 });
    const leaked = await page.locator('#team-invite-link').innerText();
    await page.tap('#team-invites');
    const mine = page.locator('.team-invite', { hasText: 'on this device' });
    await mine.first().waitFor({ timeout: 20000 });
    eq(await mine.count(), 1, 'the phone\'s one open invite (the first is used up)');
    await mine.getByRole('button', { name: /^Cancel the invite/ }).tap();
    await page.locator('#cancel-invite-confirm-yes').tap();
    await page.locator('#team-invite-cancelled', { hasText: 'The invite is cancelled' }).waitFor({ timeout: 20000 });
    await mine.waitFor({ state: 'detached', timeout: 20000 });
    let stranger = '';
    try { cli(join(s.tmp, 'stranger'), 'join', '--invite', leaked, '--name', 'Stranger'); } catch (e) { stranger = String(e.stderr); }
    assert(/cancelled/.test(stranger), `joining with the cancelled link: ${JSON.stringify(stranger)}`);

    await page.tap('#team-devices');
    await page.locator('.team-device', { hasText: 'Newcomer laptop' }).waitFor({ timeout: 20000 });
    await page.getByRole('button', { name: 'Revoke Newcomer laptop' }).tap();
    await page.locator('#revoke-confirm-yes').tap();
    await page.locator('.team-device', { hasText: 'Newcomer laptop' }).filter({ hasText: 'revoked' }).waitFor({ timeout: 20000 });
    // What the revocation did is said, and each device shows when it joined.
    const said = await page.locator('#team-revoked').innerText();
    assert(/Newcomer laptop is revoked/.test(said) && /key was changed/.test(said), `the revocation's outcome: ${said}`);
    assert(/joined/.test(await page.locator('.team-device', { hasText: 'Newcomer laptop' }).innerText()), 'when the laptop joined');
    let refused = '';
    try { cli(newcomer, 'sync'); } catch (e) { refused = String(e.stderr); }
    assert(/revoked/.test(refused), `the revoked device's sync: ${JSON.stringify(refused)}`);
    // The phone rotated the team's key when it revoked the laptop; the lead's command line
    // takes the new key in at its next sync.
    cli(s.cliDir, 'sync');
    eq(JSON.parse(cli(s.cliDir, 'status')).key_epoch, 2, 'the key the phone rotated to, on the lead\'s laptop');

    await tab(page, 'People');
    await page.locator('.person-row', { hasText: 'Erin Erasable' }).first().tap();
    await page.locator('#erase-person').tap();
    await page.locator('#erase-confirm-yes').tap();
    await page.getByText('Erin Erasable was erased from this device and the relay').waitFor({ timeout: 20000 });
    eq(new URL(page.url()).pathname, '/', 'back on the People list');
    eq(await page.locator('.person-row', { hasText: 'Erin Erasable' }).count(), 0, 'not listed');
    eq(JSON.parse(cli(s.cliDir, 'sync')).erased, 1, 'the lead\'s command line erased it at its sync');
    let shown = '';
    try { cli(s.cliDir, 'person', 'show', doomed); } catch (e) { shown = String(e.stderr); }
    assert(/no person|erased/.test(shown), `the command line still shows the person: ${shown}`);

    // A lead's phone deletes a campaign from its Edit form and a walk list from its Walk
    // screen (issue 11's lead actions), each behind a question; every device follows.
    await tab(page, 'Campaigns');
    await page.getByRole('button', { name: 'Edit campaign Spent Drive' }).tap();
    await page.locator('#delete-campaign').tap();
    await page.locator('#delete-confirm-yes').tap();
    await page.getByText('Spent Drive was deleted from this device and the relay').waitFor({ timeout: 20000 });
    eq(await page.getByRole('button', { name: 'Edit campaign Spent Drive' }).count(), 0, 'the campaign, gone from the list');
    await tab(page, 'Shift');
    await page.locator('.walklist-open', { hasText: 'Done Street' }).tap();
    await page.locator('#delete-walklist').tap();
    await page.locator('#delete-confirm-yes').tap();
    await page.getByText('Done Street was deleted from this device and the relay').waitFor({ timeout: 20000 });
    eq(await page.locator('.walklist-open', { hasText: 'Done Street' }).count(), 0, 'the walk list, gone from Shift');
    eq(JSON.parse(cli(s.cliDir, 'sync')).erased, 2, 'the lead\'s command line deleted both at its sync');
    const campaigns = JSON.parse(cli(s.cliDir, 'campaign', 'list'));
    assert(!campaigns.some((c) => c.id === drive), `the campaign on the command line: ${JSON.stringify(campaigns)}`);
    const lists = JSON.parse(cli(s.cliDir, 'walklist', 'list'));
    assert(!lists.some((l) => l.id === walked), `the walk list on the command line: ${JSON.stringify(lists)}`);
  }],

  ['a lead\'s action that cannot reach the relay: the badge says offline, not the last "Synced", and the relay back syncs again', async (s) => {
    const { page } = s;
    await syncNow(page);
    await stopRelay(s.relay);
    try {
      await tab(page, 'Settings');
      await page.tap('#team-devices');
      await page.getByText(/cannot reach the relay/).first().waitFor({ timeout: 30000 });
      try {
        await page.locator('.sync-badge .sync-text', { hasText: /^Offline/ }).first().waitFor({ timeout: 20000 });
      } catch {
        throw new Error(`badge after a team action found no relay: ${JSON.stringify(await badgeText(page))}`);
      }
    } finally {
      // The tests after this one need the relay, whatever happened here.
      s.relay = await startRelaySamePort(s.relayDir, s.port);
    }
    await syncNow(page, 30000);
  }],

  ['the notebook\'s worker stopping after it opened is said on the page: a save fails at once rather than waiting for ever, and what was typed, before the stop and after it, comes back after a reload (text deleted after it does not)', async (s) => {
    const { page } = s;
    await tab(page, 'People');
    await page.getByRole('button', { name: '+ Add person' }).tap();
    await typeFast(page, '#person-name', 'Typed Before The Stop');
    await page.waitForTimeout(800); // typing paused: the draft is written
    await trapWorker(page);
    eq(await page.inputValue('#person-name'), 'Typed Before The Stop', 'the typed name, still on screen');
    // Typed after the stop: the page's own copy keeps it for the reload.
    await typeFast(page, '#person-name', 'Typed After The Stop');
    await page.tap('#save-new-person');
    await page.getByText('the notebook stopped; reload the page').waitFor({ timeout: 5000 });
    await page.reload();
    await page.locator('#tab-People').waitFor({ timeout: 30000 });
    eq(await page.locator('#notebook-stopped').count(), 0, 'the notice after a reload');
    // The reload keeps the screen: the form, its draft restored.
    await page.getByText('A draft was restored').waitFor({ timeout: 10000 });
    eq(await page.inputValue('#person-name'), 'Typed After The Stop', 'the name typed after the stop, from the page\'s copy');
    await page.tap('#save-new-person');
    await page.getByText('Person added.').waitFor();

    // Text the notebook kept, deleted from the form after the worker stopped: the discard is
    // owed, and a reload does not bring the text back.
    await tab(page, 'People');
    await page.getByRole('button', { name: '+ Add person' }).tap();
    await typeFast(page, '#person-name', 'Emptied After The Stop');
    await page.waitForTimeout(800); // typing paused: the draft is written
    await trapWorker(page);
    await page.fill('#person-name', '');
    await page.reload();
    await page.locator('#tab-People').waitFor({ timeout: 30000 });
    await noDraftRestored(page);
    await tab(page, 'People');
  }],

  ['accessibility (axe): People, a person\'s file, the record form, Due, Campaigns, Shift, Settings and the join card, at 360 × 740 and 412 × 915', async (s) => {
    const { page } = s;
    for (const [width, height] of [[360, 740], [412, 915]]) {
      await page.setViewportSize({ width, height });
      for (const name of ['People', 'Due', 'Campaigns', 'Shift', 'Settings']) {
        await tab(page, name);
        await waitPath(page, name === 'People' ? '/' : `/${name.toLowerCase()}`, `${name}'s address`);
        await page.waitForTimeout(150);
        await axeCheck(page, `${name} at ${width}px`);
      }
      await findPerson(page, 'okafor', PERSON);
      await axeCheck(page, `person file at ${width}px`);
      await page.tap('#record-conversation');
      await page.waitForSelector('#story');
      await axeCheck(page, `record form at ${width}px`);
      await page.goBack();
      await page.getByRole('heading', { name: PERSON }).waitFor();
    }
    await page.setViewportSize(PHONE.viewport);
    // The join card, in a browser profile that has not joined.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      for (const [width, height] of [[360, 740], [412, 915]]) {
        const context = await browser.newContext({ ...PHONE, viewport: { width, height } });
        const fresh = await context.newPage();
        await fresh.goto(`${s.relay.url}/#join=${encodeURIComponent(s.spareInvite)}`);
        await fresh.locator('#join-link-name').waitFor({ timeout: 30000 });
        await axeCheck(fresh, `join card at ${width}px`);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  }],

  ['a join whose answer is lost on the way (the relay enrolled the phone) is asked again and joins, on a single-use invite; the team lists the phone once', async (s) => {
    const invite = JSON.parse(cli(s.cliDir, 'team', 'invite')).code;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext({ ...PHONE });
      // The first enrolment reaches the relay, which enrols the phone; its answer never
      // comes back (a weak signal). The store worker asks again by itself.
      let lost = 0;
      let asked = 0;
      const proxy = await lossyProxy(s.relay.port, (req) => {
        if (req.method !== 'POST' || !req.url.startsWith('/v1/enrol')) return false;
        asked += 1;
        lost += 1;
        return lost === 1;
      });
      const page = await context.newPage();
      await page.goto(`${proxy.url}/#join=${encodeURIComponent(invite)}`);
      await page.locator('#join-link-name').waitFor({ timeout: 30000 });
      await typeFast(page, '#join-link-name', 'Rosa');
      await page.tap('#join-link-join');
      const outcome = await Promise.race([
        page.locator('#join-link-name').waitFor({ state: 'detached', timeout: 30000 }).then(() => 'joined'),
        page.locator('#join-link-outcome .dnc').waitFor({ timeout: 30000 })
          .then(async () => `refused: ${await page.locator('#join-link-outcome').innerText()}`),
      ]);
      eq(outcome, 'joined', 'the join after its answer was lost');
      assert(asked >= 2, `the enrolment was asked again after its answer was lost (${asked} asked)`);
      // The joined phone syncs with the token it chose.
      await page.locator('#tab-People').waitFor();
      await waitAllSent(page, 30000);
      const names = JSON.parse(relayCli(s.relayDir, 'device', 'list', '--team', s.team)).map((d) => d.name);
      eq(names.filter((n) => n === "Rosa's phone").length, 1, `the phone in the relay's devices ${JSON.stringify(names)}`);
      await context.close();
      await proxy.close();
    } finally {
      await browser.close();
    }
  }],
];

tests.splice(1, 0,
  ['a "keep this notebook" prompt left unanswered does not keep the app from opening, and Settings says so once it is answered', async (s) => {
    // Firefox answers `navigator.storage.persist()` only once the user has answered its
    // pop-up; the app waited for that answer before it showed anything.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext({ ...PHONE });
      await context.addInitScript(() => {
        if (navigator.storage) {
          navigator.storage.persist = () => new Promise(() => {});
          // What the browser has promised so far: nothing, until the test says the prompt
          // was answered.
          navigator.storage.persisted = () => Promise.resolve(localStorage.getItem('test-kept') === 'yes');
        }
      });
      const fresh = await context.newPage();
      await fresh.goto(`${s.relay.url}/#join=${encodeURIComponent(s.spareInvite)}`);
      await fresh.locator('#join-link-name').waitFor({ timeout: 30000 });
      // Settings says what the browser promised when Settings opens, not when the app did.
      await fresh.goto(`${s.relay.url}/`);
      await fresh.getByRole('button', { name: 'Skip for now' }).tap(); // a fresh phone's name question
      await tab(fresh, 'Settings');
      await fresh.getByText('This browser has not promised to keep your notebook').waitFor({ timeout: 10000 });
      await fresh.evaluate(() => localStorage.setItem('test-kept', 'yes'));
      await tab(fresh, 'People');
      await tab(fresh, 'Settings');
      await fresh.getByText('This browser has promised to keep your notebook').waitFor({ timeout: 5000 });
      await context.close();
    } finally {
      await browser.close();
    }
  }],
);

tests.push(
  ['a phone that has joined no team erases a person from its own notebook, in words that say so; a join link opened in its tab shows the join card', async (s) => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext({ ...PHONE });
      const page = await context.newPage();
      await page.goto(`${s.relay.url}/`);
      await page.getByRole('button', { name: 'Skip for now' }).tap({ timeout: 30000 });
      await page.getByRole('button', { name: '+ Add person' }).tap();
      await typeFast(page, '#person-name', 'Solo Erasable');
      await page.locator('#save-new-person').tap();
      await page.getByRole('heading', { name: 'Solo Erasable' }).waitFor({ timeout: 10000 });
      await page.getByText('their file goes from this notebook').waitFor();
      // The badge counts the new person's change as waiting (for a team joined later) ...
      await page.locator('.sync-badge .sync-text', { hasText: 'Not joined · 1 change waiting' }).waitFor({ timeout: 10000 });
      await page.locator('#erase-person').tap();
      await page.getByText('Erase Solo Erasable from this notebook?').waitFor();
      await page.locator('#erase-confirm-yes').tap();
      await page.getByText('Solo Erasable was erased from this notebook.').waitFor({ timeout: 20000 });
      eq(new URL(page.url()).pathname, '/', 'back on the People list');
      eq(await page.locator('.person-row', { hasText: 'Solo Erasable' }).count(), 0, 'not listed');
      // ... and no longer once the erasure took it (it said so until a reload).
      try {
        await page.locator('.sync-badge .sync-text', { hasText: 'Not joined · all saved here' }).waitFor({ timeout: 10000 });
      } catch (e) {
        throw new Error(`badge after the erasure: ${JSON.stringify(await badgeText(page))}`);
      }
      await page.reload();
      await page.locator('#people-title').waitFor({ timeout: 30000 });
      eq(await page.locator('.person-row', { hasText: 'Solo Erasable' }).count(), 0, 'not back after a reload');
      // A join link opened in this tab, where the app is already open (only the fragment
      // changes): the join card shows (it showed after a reload only). Not joined here.
      await page.evaluate((code) => { window.location.hash = `#join=${encodeURIComponent(code)}`; }, s.spareInvite);
      await page.locator('#join-link-name').waitFor({ timeout: 30000 });
      await context.close();
    } finally {
      await browser.close();
    }
  }],
);

/** Where in the files under `dir` the bytes of `text` (UTF-8) occur: the paths holding them. */
function filesHolding(dir, text) {
  const needle = Buffer.from(text, 'utf8');
  const found = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        try {
          if (readFileSync(path).includes(needle)) found.push(path.slice(dir.length + 1));
        } catch { /* a file the browser removed meanwhile */ }
      }
    }
  };
  walk(dir);
  return found;
}

tests.push(
  ['a phone\'s notebook encrypted at rest: a passphrase set in Settings (typed twice, ten characters or more), asked at each start, a wrong one refused; what the notebook holds is nowhere in the browser\'s files in the clear afterwards, and what was saved before and after is all there; the passphrase changed in Settings (the current one asked), after which only the new one opens it; the page\'s own copy of drafts sealed; decrypted again in Settings (the current passphrase asked), after which it opens with no lock screen', async (s) => {
    const profile = join(s.tmp, 'locked-phone-profile');
    const BEFORE = 'Quillon Marrowfeather';
    const BEFORE_NOTE = 'Canary note: heating off since the 4th, ask about the rota';
    const AFTER = 'Tamsin Oakhollow';
    const PASS = 'kettle lantern orchard 42';
    const launch = () => chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ...PHONE,
    });
    const addPerson = async (page, name, notes) => {
      await tab(page, 'People');
      await page.getByRole('button', { name: '+ Add person' }).tap();
      await typeFast(page, '#person-name', name);
      if (notes) await typeFast(page, '#person-notes', notes);
      await page.locator('#save-new-person').tap();
      await page.getByRole('heading', { name }).waitFor({ timeout: 10000 });
    };
    // Past the worker's idle work (2 s after a save: the log copied into the database).
    const settle = (page) => page.waitForTimeout(3000);
    let context = await launch();
    try {
      let page = context.pages()[0] || await context.newPage();
      await page.goto(`${s.relay.url}/`);
      await page.getByRole('button', { name: 'Skip for now' }).tap({ timeout: 30000 });
      await addPerson(page, BEFORE, BEFORE_NOTE);
      await settle(page);
      // The scan finds a plain notebook's words (so that finding none later means something).
      const plainHits = filesHolding(profile, BEFORE_NOTE).filter((p) => p.includes('File System'));
      assert(plainHits.length > 0, `the note in the browser's files before encrypting (found in: ${JSON.stringify(filesHolding(profile, BEFORE_NOTE))})`);

      await tab(page, 'Settings');
      await page.getByText('Anyone who gets into this phone\'s browser can read this notebook').waitFor({ timeout: 10000 });
      await typeFast(page, '#lock-passphrase', PASS);
      await typeFast(page, '#lock-again', `${PASS}!`);
      await page.locator('#lock-encrypt').tap();
      await page.getByText('The two passphrases differ').waitFor({ timeout: 5000 });
      await typeFast(page, '#lock-passphrase', 'short one');
      await typeFast(page, '#lock-again', 'short one');
      await page.locator('#lock-encrypt').tap();
      await page.getByText('A passphrase needs at least 10 characters').waitFor({ timeout: 5000 });
      await typeFast(page, '#lock-passphrase', PASS);
      await typeFast(page, '#lock-again', PASS);
      const t0 = Date.now();
      await page.locator('#lock-encrypt').tap();
      await page.getByText('This notebook is now encrypted on this phone').waitFor({ timeout: 60000 });
      console.log(`bench: encrypting a phone's notebook of one person: ${Date.now() - t0} ms`);
      await page.getByText('This notebook is encrypted on this phone: it opens only with its passphrase').waitFor({ timeout: 10000 });
      // The notebook goes on in its encrypted file: a save after it, and the one before.
      await addPerson(page, AFTER);
      await tab(page, 'People');
      await page.locator('.person-row', { hasText: BEFORE }).waitFor({ timeout: 10000 });
      await settle(page);
      await context.close();

      for (const text of [BEFORE_NOTE, BEFORE, AFTER]) {
        const hits = filesHolding(profile, text).filter((p) => p.includes('File System'));
        eq(JSON.stringify(hits), '[]', `the browser's notebook files holding "${text}" after encrypting`);
        const elsewhere = filesHolding(profile, text);
        if (elsewhere.length > 0) console.log(`note: "${text}" is still in the browser's own files: ${JSON.stringify(elsewhere)}`);
      }

      context = await launch();
      page = context.pages()[0] || await context.newPage();
      await page.goto(`${s.relay.url}/`);
      await page.locator('#unlock-passphrase').waitFor({ timeout: 30000 });
      assert(await page.locator('#main').isHidden(), 'the app is hidden behind the lock screen');
      await axeCheck(page, 'the lock screen');
      await typeFast(page, '#unlock-passphrase', 'not the passphrase at all');
      await page.locator('#unlock-open').tap();
      await page.getByText('That passphrase does not open this notebook').waitFor({ timeout: 60000 });
      assert(await page.locator('#main').isHidden(), 'the app still hidden after a wrong passphrase');
      await typeFast(page, '#unlock-passphrase', PASS);
      const t1 = Date.now();
      await page.locator('#unlock-passphrase').press('Enter');
      await page.locator('#tab-People').waitFor({ timeout: 60000 });
      console.log(`bench: the lock screen's passphrase to the app shown: ${Date.now() - t1} ms`);
      eq(await page.locator('#unlock').count(), 0, 'lock screens left once open');
      await page.locator('.person-row', { hasText: BEFORE }).waitFor({ timeout: 10000 });
      await page.locator('.person-row', { hasText: AFTER }).waitFor({ timeout: 10000 });
      await tab(page, 'Settings');
      await page.getByText('This notebook is encrypted on this phone: it opens only with its passphrase').waitFor({ timeout: 10000 });
      eq(await page.locator('#lock-encrypt').count(), 0, 'an encrypt button on an encrypted notebook');

      // The passphrase changed: the current one is asked, the new one typed twice.
      const NEW_PASS = 'harbour meadow copper 7';
      await axeCheck(page, 'Settings with the passphrase change form');
      await typeFast(page, '#lock-current', 'not the passphrase at all');
      await typeFast(page, '#lock-new', NEW_PASS);
      await typeFast(page, '#lock-new-again', NEW_PASS);
      await page.locator('#lock-change').tap();
      await page.getByText('that is not this notebook\'s current passphrase').waitFor({ timeout: 60000 });
      await typeFast(page, '#lock-current', PASS);
      await typeFast(page, '#lock-new-again', `${NEW_PASS}?`);
      await page.locator('#lock-change').tap();
      await page.getByText('The two passphrases differ').waitFor({ timeout: 5000 });
      await typeFast(page, '#lock-new-again', NEW_PASS);
      const t2 = Date.now();
      await page.locator('#lock-change').tap();
      await page.getByText('The passphrase is changed').waitFor({ timeout: 60000 });
      console.log(`bench: changing a phone's passphrase (two people): ${Date.now() - t2} ms`);
      for (const id of ['#lock-current', '#lock-new', '#lock-new-again']) {
        eq(await page.locator(id).inputValue(), '', `${id} emptied after the change`);
      }
      // Still open: a save under the new key.
      const LATER = 'Wren Ashdown';
      await addPerson(page, LATER);
      await settle(page);
      await context.close();
      for (const text of [BEFORE_NOTE, LATER]) {
        const hits = filesHolding(profile, text).filter((p) => p.includes('File System'));
        eq(JSON.stringify(hits), '[]', `the browser's notebook files holding "${text}" after the change`);
      }

      context = await launch();
      page = context.pages()[0] || await context.newPage();
      await page.goto(`${s.relay.url}/`);
      await page.locator('#unlock-passphrase').waitFor({ timeout: 30000 });
      await typeFast(page, '#unlock-passphrase', PASS);
      await page.locator('#unlock-open').tap();
      await page.getByText('That passphrase does not open this notebook').waitFor({ timeout: 60000 });
      await typeFast(page, '#unlock-passphrase', NEW_PASS);
      await page.locator('#unlock-open').tap();
      await page.locator('#tab-People').waitFor({ timeout: 60000 });
      for (const name of [BEFORE, AFTER, LATER]) {
        await page.locator('.person-row', { hasText: name }).waitFor({ timeout: 10000 });
      }

      // What was typed as the notebook's worker stopped is kept by the page's own copy
      // (localStorage) for the next start: sealed, since the notebook is encrypted, and taken
      // back once the passphrase opens it.
      const DRAFT = 'Sealed Draft Canary Zephyrine';
      await page.getByRole('button', { name: '+ Add person' }).tap();
      await typeFast(page, '#person-name', 'Sealed Draft');
      await page.waitForTimeout(800); // typing paused: the draft is written
      await trapWorker(page);
      await typeFast(page, '#person-name', DRAFT);
      await page.reload();
      await page.locator('#unlock-passphrase').waitFor({ timeout: 30000 });
      const copy = await page.evaluate(() => localStorage.getItem('groundwork-unsaved-drafts'));
      assert(copy && copy.startsWith('gw-sealed-1:'), `the page's copy of drafts, sealed: ${copy}`);
      assert(!copy.includes('Zephyrine') && !copy.includes('Sealed'), `the copy in the clear: ${copy}`);
      await typeFast(page, '#unlock-passphrase', NEW_PASS);
      await page.locator('#unlock-open').tap();
      await page.getByText('A draft was restored').waitFor({ timeout: 60000 });
      eq(await page.inputValue('#person-name'), DRAFT, 'the name typed as the worker stopped, from the sealed copy');
      await page.locator('#save-new-person').tap();
      await page.getByRole('heading', { name: DRAFT }).waitFor({ timeout: 10000 });

      // Decrypted again: the passphrase it opens with is asked first; then the notebook goes on
      // in the clear, and the next start shows no lock screen.
      await tab(page, 'Settings');
      await axeCheck(page, 'Settings with the decrypt form');
      await typeFast(page, '#decrypt-current', PASS);
      await page.locator('#lock-decrypt').tap();
      await page.getByText('that is not this notebook\'s current passphrase').waitFor({ timeout: 60000 });
      // A screen lock's copy of the key (as set up in the screen-lock test below) goes with
      // the encryption: the key it holds opens nothing now.
      await page.evaluate(() => localStorage.setItem('groundwork-screen-lock', '{"v":1,"credential":"AA","salt":"AA","sealed":"AA"}'));
      await typeFast(page, '#decrypt-current', NEW_PASS);
      const t3 = Date.now();
      await page.locator('#lock-decrypt').tap();
      await page.getByText('This notebook is no longer encrypted on this phone').waitFor({ timeout: 60000 });
      eq(await page.evaluate(() => localStorage.getItem('groundwork-screen-lock')), null, 'the screen lock\'s copy after decrypting');
      console.log(`bench: decrypting a phone's notebook (four people): ${Date.now() - t3} ms`);
      await page.getByText('Anyone who gets into this phone\'s browser can read this notebook').waitFor({ timeout: 10000 });
      eq(await page.locator('#lock-decrypt').count(), 0, 'a decrypt button on a plain notebook');
      const OPEN = 'Ottoline Plainfield';
      await addPerson(page, OPEN);
      await settle(page);
      await context.close();
      const clear = filesHolding(profile, OPEN).filter((p) => p.includes('File System'));
      assert(clear.length > 0, `the decrypted notebook's words in the browser's files: ${JSON.stringify(filesHolding(profile, OPEN))}`);

      context = await launch();
      page = context.pages()[0] || await context.newPage();
      await page.goto(`${s.relay.url}/`);
      await page.locator('#tab-People').waitFor({ timeout: 60000 });
      eq(await page.locator('#unlock').count(), 0, 'a lock screen for a decrypted notebook');
      for (const name of [BEFORE, AFTER, LATER, DRAFT, OPEN]) {
        await page.locator('.person-row', { hasText: name }).waitFor({ timeout: 10000 });
      }
    } finally {
      await context.close().catch(() => {});
    }
  }],
);

tests.push(
  ['the phone\'s screen lock opens its encrypted notebook: set up in Settings with the passphrase (a wrong one refused, nothing kept), the lock screen opens with a fingerprint, a passphrase change turns it off, a copy of the old key is forgotten, it can be turned off, and a passkey the phone no longer has, or a user it does not verify, leaves it locked saying so', async (s) => {
    // WebAuthn needs a name, not a number: the same relay as localhost (a new origin, so a
    // fresh notebook). The phone's authenticator is Chromium's virtual one, with PRF.
    const origin = s.relay.url.replace('127.0.0.1', 'localhost');
    const profile = join(s.tmp, 'screen-lock-profile');
    const PASS = 'willow ferry lantern 83';
    const NEW_PASS = 'copper gate meadow 19';
    const NAME = 'Oriel Thistlewood';
    const KEY = 'groundwork-screen-lock';
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ...PHONE,
    });
    try {
      const page = context.pages()[0] || await context.newPage();
      await page.goto(`${origin}/`);
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true,
          hasUserVerification: true, isUserVerified: true, hasPrf: true, automaticPresenceSimulation: true,
        },
      });
      const passkeys = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length;
      const kept = () => page.evaluate((k) => localStorage.getItem(k), KEY);
      const unlockWith = async (passphrase) => {
        await typeFast(page, '#unlock-passphrase', passphrase);
        await page.locator('#unlock-open').tap();
        await page.locator('#tab-People').waitFor({ timeout: 60000 });
      };
      // Settings' set-up (on the Settings screen), as a person does it.
      const setUp = async (passphrase) => {
        await typeFast(page, '#screen-lock-passphrase', passphrase);
        await page.locator('#screen-lock-on').tap();
        await page.getByText('The phone\'s screen lock opens this notebook from now on').waitFor({ timeout: 30000 });
      };
      // The lock screen's screen lock refused (`why`): the app still hidden, the copy kept,
      // and the passphrase opens the notebook.
      const refusedAtLock = async (why) => {
        await page.reload();
        await page.locator('#unlock-screen-lock').tap({ timeout: 30000 });
        await page.getByText('The screen lock was cancelled or timed out').waitFor({ timeout: 30000 });
        assert(await page.locator('#main').isHidden(), `the app shown after ${why}`);
        assert(await kept(), `the copy forgotten after ${why}`);
        await unlockWith(NEW_PASS);
      };

      await page.getByRole('button', { name: 'Skip for now' }).tap({ timeout: 30000 });
      await tab(page, 'People');
      await page.getByRole('button', { name: '+ Add person' }).tap();
      await typeFast(page, '#person-name', NAME);
      await page.locator('#save-new-person').tap();
      await page.getByRole('heading', { name: NAME }).waitFor({ timeout: 10000 });
      await tab(page, 'Settings');
      eq(await page.locator('#screen-lock-on').count(), 0, 'a screen lock offered for a notebook not encrypted');
      await typeFast(page, '#lock-passphrase', PASS);
      await typeFast(page, '#lock-again', PASS);
      await page.locator('#lock-encrypt').tap();
      await page.getByText('This notebook is now encrypted on this phone').waitFor({ timeout: 60000 });

      // Set up: a wrong passphrase is refused and nothing kept (the passkey, made first,
      // straight after the tap, is replaced by the next one).
      await typeFast(page, '#screen-lock-passphrase', 'not the passphrase 1');
      await page.locator('#screen-lock-on').tap();
      await page.getByText('that is not this notebook\'s current passphrase').waitFor({ timeout: 10000 });
      eq(await kept(), null, 'a copy kept for a wrong passphrase');
      await page.locator('#screen-lock-on').waitFor({ timeout: 5000 });
      const tSetUp = Date.now();
      await setUp(PASS);
      console.log(`bench: the screen lock set up (the notebook's key worked out, a passkey made): ${Date.now() - tSetUp} ms`);
      await page.locator('#screen-lock-off').waitFor({ timeout: 5000 });
      eq(await passkeys(), 1, 'passkeys made (the wrong passphrase\'s replaced)');
      const record = await kept();
      assert(record, 'a copy of the passphrase kept for the screen lock');
      for (const form of [PASS, Buffer.from(PASS).toString('base64'), Buffer.from(PASS).toString('base64url')]) {
        assert(!record.includes(form), `the screen lock's copy holds the passphrase: ${record}`);
      }
      await axeCheck(page, 'Settings with the screen lock set up');

      // The lock screen opens with the screen lock. A wrong passphrase typed there is only
      // that: the screen lock's copy is kept, and still offered.
      await page.reload();
      await page.locator('#unlock-screen-lock').waitFor({ timeout: 30000 });
      assert(await page.locator('#main').isHidden(), 'the app hidden behind the lock screen');
      await axeCheck(page, 'the lock screen with the screen lock');
      await typeFast(page, '#unlock-passphrase', 'not the passphrase 2');
      await page.locator('#unlock-open').tap();
      await page.getByText('That passphrase does not open this notebook').waitFor({ timeout: 60000 });
      eq(await kept(), record, 'the screen lock\'s copy after a typed wrong passphrase');
      eq(await page.locator('#unlock-screen-lock').count(), 1, 'the screen lock offered after a typed wrong passphrase');
      const t0 = Date.now();
      await page.locator('#unlock-screen-lock').tap();
      await page.locator('#tab-People').waitFor({ timeout: 60000 });
      console.log(`bench: the screen lock's tap to the app shown: ${Date.now() - t0} ms`);
      await tab(page, 'People');
      await page.locator('.person-row', { hasText: NAME }).waitFor({ timeout: 10000 });

      // A passphrase change: the screen lock kept the old one, so it is turned off.
      await tab(page, 'Settings');
      await typeFast(page, '#lock-current', PASS);
      await typeFast(page, '#lock-new', NEW_PASS);
      await typeFast(page, '#lock-new-again', NEW_PASS);
      await page.locator('#lock-change').tap();
      await page.getByText('The screen lock kept the old one and no longer opens it').waitFor({ timeout: 60000 });
      await page.locator('#screen-lock-on').waitFor({ timeout: 5000 });
      eq(await kept(), null, 'the screen lock\'s copy of the old passphrase after a change');

      // A copy of the old passphrase put back (a page that missed the change): the lock
      // screen finds it does not open the notebook, forgets it and asks for the passphrase.
      await page.evaluate(([k, r]) => localStorage.setItem(k, r), [KEY, record]);
      await page.reload();
      await page.locator('#unlock-screen-lock').tap({ timeout: 30000 });
      await page.getByText('What the screen lock kept no longer opens this notebook').waitFor({ timeout: 60000 });
      eq(await kept(), null, 'a stale copy after it failed');
      eq(await page.locator('#unlock-screen-lock').count(), 0, 'the screen lock offered after its copy was forgotten');
      await unlockWith(NEW_PASS);

      // A damaged copy is not offered (and removed).
      await page.evaluate((k) => localStorage.setItem(k, '{"v":1,"credential":"AA"'), KEY);
      await page.reload();
      await page.locator('#unlock-passphrase').waitFor({ timeout: 30000 });
      await page.waitForTimeout(300);
      eq(await page.locator('#unlock-screen-lock').count(), 0, 'the screen lock offered on a damaged copy');
      eq(await kept(), null, 'a damaged copy after the lock screen');
      await unlockWith(NEW_PASS);

      // Set up again with the new passphrase, it opens; then turned off, it is not offered.
      await tab(page, 'Settings');
      await setUp(NEW_PASS);
      // The passkey made again replaced the first in the phone's list (the same user handle).
      eq(await passkeys(), 1, 'passkeys after setting the screen lock up again');
      await page.reload();
      await page.locator('#unlock-screen-lock').tap({ timeout: 30000 });
      await page.locator('#tab-People').waitFor({ timeout: 60000 });
      await tab(page, 'Settings');
      await page.locator('#screen-lock-off').tap();
      await page.getByText('The screen lock no longer opens this notebook').waitFor({ timeout: 10000 });
      eq(await kept(), null, 'the copy after turning the screen lock off');
      await page.reload();
      await page.locator('#unlock-passphrase').waitFor({ timeout: 30000 });
      await page.waitForTimeout(300);
      eq(await page.locator('#unlock-screen-lock').count(), 0, 'the screen lock offered after it was turned off');
      await unlockWith(NEW_PASS);

      // The phone no longer has the passkey (removed from its list; a cancelled prompt is
      // refused the same way): the lock screen says so and stays locked, the copy is kept
      // (a cancel is not a reason to forget it), and the passphrase opens it.
      await tab(page, 'Settings');
      await setUp(NEW_PASS);
      for (const c of (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials) {
        await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: c.credentialId });
      }
      await refusedAtLock('the passkey went');

      // The screen lock itself refused (the user not verified: a finger not recognised): the
      // same, the notebook stays locked and the copy kept. (Chromium's virtual authenticator
      // refuses everything after this, so it comes last.) Set up again, after turning off
      // the one whose passkey went.
      await tab(page, 'Settings');
      await page.locator('#screen-lock-off').tap();
      await setUp(NEW_PASS);
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
      await refusedAtLock('the user was not verified');
      await tab(page, 'People');
      await page.locator('.person-row', { hasText: NAME }).waitFor({ timeout: 10000 });
    } finally {
      await context.close().catch(() => {});
    }
  }],
);

/** Bind the port used before (it may take a moment to be free again). */
async function startRelaySamePort(dir, port) {
  let last;
  for (let i = 0; i < 20; i++) {
    try {
      const relay = await startRelay(dir, `127.0.0.1:${port}`);
      eq(relay.port, port, 'the relay\'s port after a restart');
      return relay;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw last;
}

// ---------------------------------------------------------------- the runner

async function main() {
  for (const [what, path] of [['groundwork', BIN], ['sync-server', RELAY]]) {
    if (!existsSync(path)) throw new Error(`no ${what} at ${path}: run \`cargo build --workspace --bins\``);
  }
  if (!existsSync(join(WEB, 'index.html'))) throw new Error(`no web app in ${WEB}: run .ci/build-web`);
  const tmp = mkdtempSync(join(tmpdir(), 'gw-phone-'));
  const s = {
    relayDir: join(tmp, 'relay'),
    cliDir: join(tmp, 'cli'),
    tmp,
    profile: join(tmp, 'chromium-profile'),
  };
  // Interrupted (Ctrl-C, a timeout's SIGTERM, a closed pipe): still stop the relay and remove
  // the temporary directories (playwright-core closes its browser when node exits).
  const abandon = (code) => {
    if (s.relay && s.relay.proc.exitCode === null) s.relay.proc.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => abandon(130));
  process.on('SIGTERM', () => abandon(143));
  process.stdout.on('error', () => abandon(1));
  let passed = 0;
  let failed = 0;
  try {
    // The command-line device is the team's lead (the invite `team create` makes); the phone
    // is a canvasser's.
    const team = JSON.parse(relayCli(s.relayDir, 'team', 'create', '--name', 'Elm Road'));
    const cliInvite = team.invite;
    s.team = team.team_id;
    s.relay = await startRelay(s.relayDir);
    s.port = s.relay.port;
    // The command-line device joins first (the team's first device: it makes the team's key)
    // and adds someone the phone must see after joining. The team is end-to-end encrypted, so
    // the phone's invites come from the lead's device (they carry the key), not the operator.
    cli(s.cliDir, 'settings', '--name', 'Ana');
    cli(s.cliDir, 'join', '--relay', s.relay.url, '--invite', cliInvite, '--name', "Ana's laptop");
    s.invite = JSON.parse(cli(s.cliDir, 'team', 'invite')).code;
    s.spareInvite = JSON.parse(cli(s.cliDir, 'team', 'invite')).code;
    cli(s.cliDir, 'person', 'add', '--name', TEAMMATE_PERSON, '--area', 'Elm Road');
    cli(s.cliDir, 'sync');

    const only = process.env.GROUNDWORK_UI_ONLY;
    for (const [name, run] of tests) {
      if (only && !new RegExp(only).test(name)) continue;
      const t0 = Date.now();
      try {
        await run(s);
        passed += 1;
        console.log(`ok   ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
      }
    }
    if (state.saveMs !== undefined) console.log(`bench: tap save to conversation shown: ${state.saveMs} ms`);
  } finally {
    if (s.context) await s.context.close().catch(() => {});
    await stopRelay(s.relay);
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL runner: ${e.stack}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
