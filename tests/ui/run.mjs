// Browser tests of the Groundwork app: the phone web app (built by .ci/build-web into
// GROUNDWORK_WEB_DIR, default target/web) served by a real relay (`sync-server serve --app` on
// port 0), driven in Debian's Chromium through playwright-core at phone size. The phone joins
// by link; the notebook the tests read and seed with the command line is a device on the same
// team, synced with the phone before and after each command (`nb`). See also phone.mjs
// (offline, restart, live sync, installability) and phone-bench.mjs.
//
//   node tests/ui/run.mjs                  run every test
//   GROUNDWORK_BIN=path                    the command line (default: target/debug/groundwork)
//   GROUNDWORK_RELAY_BIN=path              the relay (default: target/debug/sync-server)
//   GROUNDWORK_UI_SHOTS=dir                also save screenshots of the main screens there
//   GROUNDWORK_UI_ONLY=pattern             run only the tests whose name matches this regular expression
//   GROUNDWORK_UI_10K_DIR=dir              a notebook made by `demo-data --people 10000`, copied
//                                          by the 10,000-people test instead of generating one
//                                          (a debug build takes about 7 minutes to generate it);
//                                          if dir does not exist yet it is generated there once
//                                          (.ci/test keeps one beside the build)
//
// Prints one line per test and a closing `N passed, N failed`; exits 1 on any failure.

import { mkdtempSync, rmSync, mkdirSync, cpSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { chromium } from 'playwright-core';
import {
  targetDir, WEB, CHROMIUM, CHROMIUM_ARGS, processes, assert, eq, tab, waitPath, typeFast, findPerson,
  axeCheck, syncNow,
} from './common.mjs';

const BIN = process.env.GROUNDWORK_BIN || join(targetDir, 'debug', 'groundwork');
const RELAY = process.env.GROUNDWORK_RELAY_BIN || join(targetDir, 'debug', 'sync-server');
const { cli, relayCli: relayCliIn, startRelay, stopRelay } = processes({ bin: BIN, relay: RELAY });
const SHOTS = process.env.GROUNDWORK_UI_SHOTS;

// ---------------------------------------------------------------- helpers

/** The command line on the app's notebook: a device of the same team. The phone sends its work
 * and the device takes it before the command; a command that writes is sent to the phone
 * after. */
async function nb(dir, ...args) {
  await syncNow(host.page);
  cli(dir, 'sync');
  const out = cli(dir, ...args);
  const reads = ['show', 'list', 'history', 'export', 'report', 'status', 'settings'];
  if (!args.some((a) => reads.includes(a))) {
    cli(dir, 'sync');
    await syncNow(host.page);
  }
  return out;
}

/** The phone host: its page, and what it runs on. */
const host = {};

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Wait as a canvasser's next tap does: for 0.7 s after a mark, the walk takes no tap on the
 * next door's buttons (the second tap of a double tap would mark a door nobody knocked), nor
 * on the residents' buttons after "Answered". */
async function nextDoorSettled(page) {
  await page.waitForTimeout(800);
}

async function layoutCheck(page, screen) {
  const problems = await page.evaluate(() => {
    const out = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width) {
      out.push(`scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    }
    for (const el of document.querySelectorAll('button, input, textarea, select, summary')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.height < 44 || r.width < 44) {
        out.push(`small target ${el.tagName} "${(el.textContent || el.id).trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
      }
    }
    return out;
  });
  assert(problems.length === 0, `${screen}: ${problems.join('; ')}`);
}

// ---------------------------------------------------------------- the tests

const STORY = "Works 5:15am–9 at the uni, then nights at Tesco; rent's up £40 & she's \"fed up\" (Amina's words).";
const FIRST = 'sign the letter to the VC';
const SECOND = 'bring two colleagues on Friday, 7:30!';
const ENTER_FIRST = 'sign the letter';
const ENTER_SECOND = 'bring two colleagues (Ana & Lee), 7:30!';
const DRAFT = 'Draft typed fast: heating broken since October, landlord ignores calls #12b.';

const state = {};

const tests = [
  ['start a shift', async ({ page, dir }) => {
    await tab(page, 'Shift');
    await typeFast(page, '#shift-place', 'Elm Road odd numbers');
    await page.click('#start-shift');
    await page.getByText('On shift: Elm Road odd numbers').waitFor();
    const shifts = JSON.parse(await nb(dir, 'shift', 'list'));
    eq(shifts.map((s) => s.place), ['Elm Road odd numbers'], 'shift places');
  }],

  ['add a person', async ({ page, dir }) => {
    await tab(page, 'People');
    await page.getByRole('button', { name: '+ Add person' }).click();
    await typeFast(page, '#person-name', 'Amina Yusuf');
    await typeFast(page, '#person-phone', '07700 900123');
    await typeFast(page, '#person-area', 'Elm Road');
    await page.getByRole('button', { name: 'phone', exact: true }).click();
    await page.getByRole('button', { name: 'Save person' }).click();
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    const people = JSON.parse(await nb(dir, 'person', 'list'));
    const amina = people.find((p) => p.name === 'Amina Yusuf');
    assert(amina, 'Amina is not in the store');
    eq(amina.phone, '07700 900123', 'phone');
    eq(Object.keys(amina.consent), ['phone'], 'consent');
    state.person = amina.id;
  }],

  ['record a conversation with two commitments, typed fast', async ({ page, dir }) => {
    await page.click('#record-conversation');
    await page.waitForSelector('#story');
    await shot(page, 'record');
    await page.getByRole('button', { name: 'Breakfast meeting' }).click();
    await page.getByRole('button', { name: 'living wage' }).click();
    await typeFast(page, '#issue-entry', 'Night Shifts');
    await page.getByRole('button', { name: 'Add issue' }).click();
    await typeFast(page, '#story', STORY);
    await page.getByRole('button', { name: '4 Taking part' }).click();
    await typeFast(page, '#commitment-entry', FIRST);
    await page.keyboard.press('Enter');
    await page.locator('.added-item', { hasText: FIRST }).waitFor();
    await typeFast(page, '#commitment-entry', SECOND);
    await page.click('#add-commitment');
    await page.locator('.added-item', { hasText: SECOND }).waitFor();
    await typeFast(page, '#notes', 'Ask about the breakfast club.');
    const t0 = Date.now();
    await page.click('#save-conversation');
    await page.locator('.conversation .story', { hasText: 'fed up' }).waitFor();
    state.saveMs = Date.now() - t0;
    await shot(page, 'person');
    const file = JSON.parse(await nb(dir, 'person', 'show', state.person));
    eq(file.conversations.length, 1, 'conversations');
    const c = file.conversations[0];
    eq(c.story, STORY, 'story');
    eq(c.notes, 'Ask about the breakfast club.', 'notes');
    eq(c.kind, 'breakfast-meeting', 'kind');
    eq(c.issues, ['living wage', 'night shifts'], 'issues');
    eq(c.engagement, 4, 'engagement');
    assert(c.shift_id, 'the conversation is not in the open shift');
    eq(file.commitments.map((x) => x.what), [FIRST, SECOND], 'commitments');
    assert(file.commitments.every((x) => x.conversation_id === c.id), 'commitments not tied to the conversation');
  }],

  ['Enter in the commitment box adds it and keeps the focus there, typed fast', async ({ page, dir }) => {
    const before = JSON.parse(await nb(dir, 'person', 'show', state.person)).conversations.map((c) => c.id);
    await page.click('#record-conversation');
    await page.waitForSelector('#commitment-entry');
    await page.click('#commitment-entry');
    // One key at a time, no delay: the second ask is typed before the first Enter is answered.
    await page.keyboard.type(`${ENTER_FIRST}\n${ENTER_SECOND}\n`, { delay: 0 });
    await page.locator('.added-item', { hasText: ENTER_SECOND }).waitFor();
    eq(await page.locator('.added-item span').allTextContents(), [ENTER_FIRST, ENTER_SECOND], 'commitments listed');
    eq(await page.evaluate(() => document.activeElement && document.activeElement.id), 'commitment-entry', 'focus after Enter');
    eq(await page.inputValue('#commitment-entry'), '', 'the box after Enter');
    await page.click('#save-conversation');
    await page.getByText('Conversation saved.').waitFor();
    const file = JSON.parse(await nb(dir, 'person', 'show', state.person));
    const added = file.conversations.filter((c) => !before.includes(c.id));
    eq(added.length, 1, 'new conversations');
    eq(file.commitments.filter((c) => c.conversation_id === added[0].id).map((c) => c.what), [ENTER_FIRST, ENTER_SECOND], 'commitments saved');
  }],

  ['search finds it', async ({ page }) => {
    await tab(page, 'People');
    await typeFast(page, '#search', 'tesco');
    await page.locator('.person-row', { hasText: 'Amina Yusuf' }).waitFor();
    await shot(page, 'people');
    const rows = await page.locator('.person-row').count();
    eq(rows, 1, 'rows for "tesco"');
  }],

  ['back returns to the previous screen: the browser\'s back, Alt+Left, Backspace outside a field', async ({ page }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    const file = `/people/${state.person}`;
    // The screen is drawn before the page's address follows it (one more message from the
    // app): each step waits for the address before taking the next.
    await waitPath(page, file, 'the person file\'s address');
    await tab(page, 'Due');
    await page.getByRole('heading', { name: /Due this week/ }).waitFor();
    await waitPath(page, '/due', 'Due\'s address');
    // The browser's back button (Android's back gesture does the same).
    await page.goBack();
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    await waitPath(page, file, 'address after back');
    await page.goBack();
    await page.locator('#people-title').waitFor();
    await waitPath(page, '/', 'address after a second back');
    await page.goForward();
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    await waitPath(page, file, 'address after forward');
    // The desktop shortcuts.
    await page.keyboard.press('Alt+ArrowLeft');
    await page.locator('#people-title').waitFor();
    await waitPath(page, '/', 'address after Alt+Left');
    await page.keyboard.press('Alt+ArrowRight');
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    await waitPath(page, file, 'address after Alt+Right');
    await page.click('#record-conversation');
    await page.waitForSelector('#story');
    await waitPath(page, `${file}/record`, 'the record form\'s address');
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.keyboard.press('Backspace');
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    await waitPath(page, file, 'address after Backspace');
    // Backspace in a text field deletes a letter and goes nowhere.
    await tab(page, 'People');
    await typeFast(page, '#search', 'amin');
    await page.keyboard.press('Backspace');
    await page.waitForTimeout(300);
    eq(await page.inputValue('#search'), 'ami', 'search after Backspace');
    eq(new URL(page.url()).pathname, '/', 'address after Backspace in a field');
    await page.locator('#people-title').waitFor();
  }],

  ['a reload keeps the person\'s file open, and a link opens a person or the record form', async ({ page }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    await waitPath(page, `/people/${state.person}`, 'address before reload');
    await page.reload();
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    await waitPath(page, `/people/${state.person}`, 'address after reload');
    // Back still works after the reload.
    await page.goBack();
    await page.locator('#people-title').waitFor();
    const origin = new URL(page.url()).origin;
    // The phone's notebook is its browser profile's, open in one tab at a time: a link opens
    // in that tab.
    await page.goto(`${origin}/people/${state.person}`);
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    eq(await page.locator('#people-title').count(), 0, 'the People list shown');
    await axeCheck(page, 'person file opened by a link');
    await page.goto(`${origin}/people/${state.person}/record`);
    await page.waitForSelector('#story');
    await page.goto(`${origin}/settings`);
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    // An address naming nothing here (a link cut short, a person not synced to this device
    // yet) says so in words, not the store's, and leads back (it showed "invalid id …").
    for (const path of ['/people/nonsense/edit', '/people/0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e']) {
      await page.goto(`${origin}${path}`);
      await page.getByRole('heading', { name: 'Not in this notebook' }).waitFor();
      const text = await page.locator('#not-here').innerText();
      assert(!/invalid id|no person with id|groundwork person/.test(text), `the store's words at ${path}: ${text}`);
      await axeCheck(page, `an address naming nothing here (${path})`);
      await page.click('#not-here-back');
      await page.locator('#people-title').waitFor();
    }
  }],

  ['back from a file finds the list as it was left; the People tab starts a new search', async ({ page }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    await page.goBack();
    await page.locator('#people-title').waitFor();
    eq(await page.inputValue('#search'), 'amina', 'the search box after back');
    await page.locator('.person-row', { hasText: 'Amina Yusuf' }).first().waitFor();
    await tab(page, 'Due');
    await tab(page, 'People');
    eq(await page.inputValue('#search'), '', 'the search box after the People tab');
  }],

  ['a draft survives killing the app', async ({ page, dir, restart }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    await page.click('#record-conversation');
    await typeFast(page, '#story', DRAFT);
    await typeFast(page, '#commitment-entry', 'host a meeting');
    await page.waitForTimeout(800); // typing pauses; the draft is written
    const page2 = await restart('SIGKILL');
    // The People list marks Amina, and her file offers the draft.
    await tab(page2, 'People');
    await typeFast(page2, '#search', 'amina');
    await page2.locator('.person-row', { hasText: 'Amina Yusuf' }).locator('.draft-mark').waitFor();
    await page2.locator('.person-row', { hasText: 'Amina Yusuf' }).click();
    await page2.getByText('Unsaved conversation draft.').waitFor();
    await axeCheck(page2, 'person file with a draft at 390px');
    await layoutCheck(page2, 'person file with a draft at 390px');
    await page2.click('#continue-conversation');
    await page2.waitForSelector('#story');
    await page2.getByText('A draft was restored').waitFor();
    eq(await page2.inputValue('#story'), DRAFT, 'story after restart');
    eq(await page2.inputValue('#commitment-entry'), 'host a meeting', 'commitment entry after restart');
    // Discarding asks first.
    await page2.click('#discard-draft');
    await page2.getByText('Discard this draft?').waitFor();
    await axeCheck(page2, 'discard question at 390px');
    await layoutCheck(page2, 'discard question at 390px');
    await page2.click('#discard-conversation-yes');
    await page2.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    await page2.getByText('Draft discarded.').waitFor();
    assert(!(await nb(dir, 'person', 'show', state.person)).includes('heating broken'), 'the draft was saved as a conversation');
  }],

  ['mark a commitment kept', async ({ page, dir }) => {
    await tab(page, 'Due');
    await page.getByRole('heading', { name: /Due this week/ }).waitFor();
    await shot(page, 'due');
    await page.getByRole('button', { name: `Kept: ${FIRST}` }).click();
    await page.getByText(`Marked kept: ${FIRST}.`).waitFor();
    const kept = JSON.parse(await nb(dir, 'commitment', 'list', '--status', 'kept'));
    eq(kept.map((c) => c.what), [FIRST], 'kept commitments');
    await page.getByRole('button', { name: `Kept: ${FIRST}` }).waitFor({ state: 'detached' });
  }],

  ['edit a person: phone, a tag and consent', async ({ page, dir }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    await page.click('#edit-person');
    await page.getByRole('heading', { name: 'Edit Amina Yusuf' }).waitFor();
    await waitPath(page, `/people/${state.person}/edit`, 'the edit form\'s own address');
    eq(await page.inputValue('#edit-phone'), '07700 900123', 'phone before editing');
    await typeFast(page, '#edit-phone', '07700 900456');
    await typeFast(page, '#edit-tag-entry', 'Tenant Rep');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Remove tag: tenant rep' }).waitFor();
    await typeFast(page, '#edit-tag-entry', 'cleaner');
    await page.click('#edit-add-tag');
    await page.getByRole('button', { name: 'Remove tag: cleaner' }).waitFor();
    await page.getByRole('button', { name: 'Remove tag: cleaner' }).click();
    await page.getByRole('button', { name: 'sms', exact: true }).click();
    await shot(page, 'edit-person');
    await page.click('#save-person');
    await page.getByText('Details saved.').waitFor();
    await page.getByRole('heading', { name: 'Amina Yusuf' }).waitFor();
    const p = JSON.parse(await nb(dir, 'person', 'show', state.person));
    eq(p.phone, '07700 900456', 'phone after editing');
    eq(p.tags, ['tenant rep'], 'tags after editing');
    eq(Object.keys(p.consent).sort(), ['phone', 'sms'], 'consent after editing');
    eq(p.area, 'Elm Road', 'an untouched field');
    eq(p.do_not_contact, false, 'do not contact');
  }],

  ['correct a conversation written up later: when it happened, kind, a cleared follow-up; a commitment\'s date cleared and a mis-tapped Kept undone', async ({ page, dir }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    const before = JSON.parse(await nb(dir, 'person', 'show', state.person));
    const conv = before.conversations[0];
    assert(conv.follow_up, 'the conversation has a follow-up to clear');
    await page.locator(`[data-correct="${conv.id}"]`).click();
    await page.getByRole('heading', { name: 'Correct this conversation' }).waitFor();
    await page.fill('#conv-at', '2026-03-14T05:15');
    await page.getByRole('button', { name: 'Phone', exact: true }).click();
    await page.fill('#conv-follow-up', '');
    await axeCheck(page, 'conversation correction at 390px');
    await layoutCheck(page, 'conversation correction at 390px');
    await page.click('#save-conversation');
    await page.getByText('Correction saved.').waitFor();
    const c = JSON.parse(await nb(dir, 'person', 'show', state.person)).conversations.find((x) => x.id === conv.id);
    eq(c.kind, 'phone', 'kind after correcting');
    eq(c.follow_up, null, 'a cleared follow-up');
    const local = new Date(c.at);
    eq([local.getFullYear(), local.getMonth() + 1, local.getDate(), local.getHours(), local.getMinutes()], [2026, 3, 14, 5, 15], 'when it happened, in local time');
    eq(c.story, conv.story, 'the story is untouched');
    // A commitment: its date cleared; Kept by mistake, then back to open.
    const com = before.commitments.find((x) => x.status === 'open');
    await page.getByRole('button', { name: `Correct: ${com.what}` }).click();
    await page.getByRole('heading', { name: 'Correct this commitment' }).waitFor();
    await page.fill('#com-due', '');
    await axeCheck(page, 'commitment correction at 390px');
    await page.click('#save-commitment');
    await page.getByText('Correction saved.').waitFor();
    await page.getByRole('button', { name: `Kept: ${com.what}` }).click();
    await page.getByRole('button', { name: `Back to open: ${com.what}` }).click();
    await page.getByRole('button', { name: `Kept: ${com.what}` }).waitFor();
    const after = JSON.parse(await nb(dir, 'person', 'show', state.person)).commitments.find((x) => x.id === com.id);
    eq([after.due, after.status], [null, 'open'], 'the commitment after correcting');
  }],

  ['a person\'s history lists changes and asks before restoring', async ({ page, dir }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    await page.click('#show-history');
    await page.getByRole('heading', { name: 'History of Amina Yusuf' }).waitFor();
    const changes = page.locator('.history-change');
    await changes.first().waitFor();
    assert(await changes.count() >= 3, 'fewer than three changes in the history');
    await page.locator('.history-edits li', { hasText: 'set phone' }).first().waitFor();
    await page.locator('.history-edits li', { hasText: 'created the file' }).waitFor();
    await shot(page, 'history');
    await axeCheck(page, 'history at 390px');
    await layoutCheck(page, 'history at 390px');
    // Restoring asks first; cancelling writes nothing.
    const before = await nb(dir, 'person', 'show', state.person);
    await changes.first().getByRole('button', { name: 'Restore to before this' }).click();
    await page.getByRole('button', { name: 'Yes, restore' }).waitFor();
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'confirm-restore');
    await axeCheck(page, 'restore confirmation at 390px');
    await layoutCheck(page, 'restore confirmation at 390px');
    await page.click('#cancel-restore');
    await page.getByRole('button', { name: 'Yes, restore' }).waitFor({ state: 'detached' });
    eq(await nb(dir, 'person', 'show', state.person), before, 'the file after a cancelled restore');
    // The history has an address of its own: back leaves it for the file, not for People.
    await waitPath(page, `/people/${state.person}/history`, 'the history\'s own address');
    await page.goBack();
    await page.waitForSelector('#record-conversation');
    await waitPath(page, `/people/${state.person}`, 'back from the history');
    await page.click('#show-history');
    await page.getByRole('heading', { name: 'History of Amina Yusuf' }).waitFor();
    await page.click('#close-history');
    await page.waitForSelector('#record-conversation');
    await waitPath(page, `/people/${state.person}`, 'the history closed');
    // Closing went back to the file's own entry: one more back leaves the file (it showed the
    // file again, a second entry of it).
    await page.goBack();
    await page.locator('#people-title').waitFor();
    await waitPath(page, '/', 'back from the file after the history closed');
  }],

  ['campaign progress and settings render', async ({ page, dir }) => {
    const id = (await nb(dir, 'campaign', 'add', '--name', 'Living wage for cleaners', '--target', 'letters signed=50')).trim();
    // A commitment in the target's words counts towards it once kept.
    const made = (await nb(dir, 'commitment', 'add', '--person', state.person, '--what', 'letters signed', '--campaign', id)).trim();
    await nb(dir, 'commitment', 'set', made, '--status', 'kept');
    await tab(page, 'Campaigns');
    await page.getByRole('heading', { name: 'Living wage for cleaners' }).waitFor();
    const bar = page.getByRole('progressbar', { name: 'letters signed: kept (1 made)' });
    await bar.waitFor();
    eq(await bar.getAttribute('aria-valuenow'), '1', 'kept towards the target');
    eq(await bar.getAttribute('aria-valuemax'), '50', 'the target');
    await shot(page, 'campaigns');
    // The shift screen carries the report of the latest shift; Due lists follow-ups.
    await tab(page, 'Shift');
    await page.getByRole('heading', { name: /^Report: shift at / }).waitFor();
    await page.getByText(/^\d+ made, \d+ kept, \d+ broken$/).first().waitFor();
    await tab(page, 'Due');
    await page.getByRole('heading', { name: /^Follow-ups due \(\d+\)$/ }).waitFor();
    // A report for a range of days: today holds this run's conversation.
    await tab(page, 'Shift');
    const day = new Date().toISOString().slice(0, 10);
    await page.getByText('Report for other days').click();
    await page.fill('#report-from', day);
    await page.fill('#report-to', day);
    await page.click('#report-range');
    await page.getByRole('heading', { name: `Report: ${day} to ${day}` }).waitFor();
    await tab(page, 'Settings');
    // This notebook has joined the test's relay: the card names the team's relay, and the
    // join form is gone (joining again is not offered).
    await page.getByRole('heading', { name: "This device's team" }).waitFor();
    eq(await page.getByRole('button', { name: 'Join team' }).count(), 0, 'join form shown once joined');
    await page.getByText(/all saved here/).first().waitFor();
    await shot(page, 'settings');
  }],

  ['changing screen starts at the top with the focus on the new heading', async ({ page }) => {
    await page.setViewportSize({ width: 390, height: 500 });
    try {
      await tab(page, 'Settings');
      await page.getByRole('heading', { name: 'Settings' }).waitFor();
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      assert(await page.evaluate(() => window.scrollY) > 100, 'Settings does not scroll');
      for (const [name, id] of [['Due', 'due-title'], ['Campaigns', 'campaigns-title'], ['Settings', 'settings-title']]) {
        await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        await tab(page, name);
        await page.waitForFunction((want) => document.activeElement && document.activeElement.id === want, id);
        eq(await page.evaluate(() => window.scrollY), 0, `scrolled on ${name}`);
      }
      // A person's file too, opened from the list.
      await findPerson(page, 'amina', 'Amina Yusuf');
      await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'person-title');
    } finally {
      await page.setViewportSize({ width: 390, height: 844 });
    }
  }],

  ['a fresh phone asks who is canvassing; skipping never says "unnamed"; a reload does not ask again', async () => {
    const fresh = await freshPhone();
    try {
      const first = fresh.page;
      await first.goto(`${host.url}/`);
      await first.getByRole('heading', { name: 'Who is canvassing?' }).waitFor();
      await axeCheck(first, 'first start');
      await layoutCheck(first, 'first start');
      await first.click('#skip-name');
      await first.getByRole('heading', { name: 'People' }).waitFor();
      await tab(first, 'Settings');
      await first.getByText('No name given: your conversations show “no name given” in reports.').waitFor();
      await tab(first, 'Shift');
      await first.getByText('Canvassing with no name given: add yours in Settings.').waitFor();
      await typeFast(first, '#shift-place', 'Elm Road');
      await first.click('#start-shift');
      await first.getByText('On shift: Elm Road').waitFor();
      assert(!(await first.locator('body').innerText()).toLowerCase().includes('unnamed'), 'the app says unnamed');
      await tab(first, 'Settings');
      await typeFast(first, '#canvasser-name', 'Priya');
      await first.click('#save-name');
      await first.getByText('Recorded on your conversations and shifts: Priya').waitFor();
      await first.reload();
      await first.waitForSelector('.tabs');
      await first.getByRole('heading', { name: 'Settings' }).waitFor();
      eq(await first.getByText('Who is canvassing?').count(), 0, 'asked again');
    } finally {
      await fresh.close();
    }
  }],

  ['before joining "Join a team", not "Sync now"; with no network the join says why and "Joining…" ends; then Settings joins the relay the app came from with just the code', async () => {
    const fresh = await freshPhone();
    try {
      const page = fresh.page;
      await page.goto(`${host.url}/`);
      await typeFast(page, '#welcome-name', 'Priya');
      await page.click('#save-name');
      await page.waitForSelector('.tabs');
      const badge = page.locator('.sync-badge');
      eq(await badge.getByRole('button', { name: 'Sync now' }).count(), 0, '"Sync now" buttons before joining');
      await badge.getByRole('button', { name: 'Join a team' }).click();
      await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'join-title');
      eq(await page.getByRole('button', { name: 'Sync now' }).count(), 0, '"Sync now" in Settings before joining');
      await page.locator('#home-relay', { hasText: host.url }).waitFor();
      eq(await page.locator('#relay').count(), 0, 'a relay field in the web app');
      await fresh.context.setOffline(true);
      await typeFast(page, '#invite', host.spareInvite);
      await typeFast(page, '#device-name', "Priya's phone");
      await page.click('#join');
      await page.locator('#join-outcome', { hasText: 'Could not join' }).waitFor({ timeout: 30000 });
      eq(await page.getByText('Joining…').count(), 0, '"Joining…" still shown after the join ended');
      const words = (await page.locator('.sync-badge .sync-text').innerText()).trim();
      assert(/^Offline · /.test(words), `badge says ${JSON.stringify(words)}`);
      assert(!(await page.locator('#sync-reason').isVisible()), 'the reason shows before the tap');
      await page.locator('.sync-badge summary').click();
      await page.locator('#sync-reason', { hasText: 'The relay cannot be reached from here just now.' }).waitFor();
      await axeCheck(page, 'badge with its reason open');
      await page.locator('.sync-badge summary').click();
      // The network back: a mistyped code is refused in words, and the device stays unjoined...
      await fresh.context.setOffline(false);
      await typeFast(page, '#invite', 'mistyped-code');
      await page.click('#join');
      await page.locator('#join-outcome', { hasText: 'Could not join: the relay refused the invite' }).waitFor({ timeout: 30000 });
      eq(await page.locator('.sync-badge').getByRole('button', { name: 'Sync now' }).count(), 0, '"Sync now" after a refused code');
      // ...and the right one joins, and the team's people arrive.
      await typeFast(page, '#invite', host.spareInvite);
      await page.click('#join');
      await page.locator('.sync-text', { hasText: /^Synced \d\d:\d\d · all saved here$/ }).waitFor({ timeout: 30000 });
      await page.locator('#join-outcome', { hasText: `Joined: this device syncs with ${host.url}` }).waitFor();
      await findPerson(page, 'amina', 'Amina Yusuf');
      await tab(page, 'Settings');
      await page.getByText('Recorded on your conversations and shifts: Priya').waitFor();
    } finally {
      await fresh.close();
    }
  }],

  ['a teammate\'s conversation and a conflicting edit appear on the open file after "Sync now"; the shift report says who has synced', async ({ page, dir }) => {
    await findPerson(page, 'amina', 'Amina Yusuf');
    await waitPath(page, `/people/${state.person}`, 'the person file\'s address');
    // The teammate (the command-line device) writes without syncing yet...
    cli(dir, 'conversation', 'add', '--person', state.person, '--kind', 'phone', '--story', 'Called back: she will bring Lee');
    cli(dir, 'person', 'edit', state.person, '--workplace', 'Uni canteen');
    // ...while the phone changes the same field.
    await page.click('#edit-person');
    await typeFast(page, '#edit-workplace', 'Tesco Extra');
    await page.click('#save-person');
    await page.getByText('Details saved.').waitFor();
    await syncNow(page);
    cli(dir, 'sync');
    await syncNow(page);
    await page.getByText('Called back: she will bring Lee').waitFor({ timeout: 20000 });
    const conflict = page.locator('.conflict', { hasText: 'Workplace' });
    await conflict.getByText('Uni canteen').waitFor({ timeout: 20000 });
    await conflict.getByText('Tesco Extra').waitFor();
    eq(new URL(page.url()).pathname, `/people/${state.person}`, 'still on the person file');
    await axeCheck(page, 'person file with a pulled conflict');
    await page.getByRole('button', { name: 'Use this: “Uni canteen” for Workplace' }).click();
    await page.locator('#conflicts-title').waitFor({ state: 'detached' });
    eq(JSON.parse(await nb(dir, 'person', 'show', state.person)).workplace, 'Uni canteen', 'the workplace chosen, on the teammate\'s device');
    await tab(page, 'Shift');
    // The shift is still open: each device's last sync, not "synced since it ended".
    await page.getByText("Still open: each device's last sync").waitFor({ timeout: 20000 });
    await page.getByText('Every device has synced since').waitFor({ state: 'detached' });
  }],

  ['the sticky bars take at most a quarter of a 740 px screen, and shrink when zoomed', async ({ page }) => {
    // Zoom in a browser shrinks the page's CSS size: 150% and 200% of a 360 × 740 phone.
    try {
      for (const [width, height] of [[360, 740], [240, 493], [180, 370]]) {
        await page.setViewportSize({ width, height });
        const sticky = () => page.evaluate(() => [...document.querySelectorAll('body *')]
          .filter((el) => ['sticky', 'fixed'].includes(getComputedStyle(el).position))
          .map((el) => [el.className, Math.round(el.getBoundingClientRect().height)]));
        await findPerson(page, 'amina', 'Amina Yusuf');
        const file = await sticky();
        await page.click('#record-conversation');
        await page.waitForSelector('#story');
        const record = await sticky();
        for (const [screen, bars] of [['person file', file], ['record', record]]) {
          const px = bars.reduce((sum, [, h]) => sum + h, 0);
          assert(px <= height / 4, `${screen} at ${width}x${height}: sticky bars ${px} px > ${height / 4}: ${JSON.stringify(bars)}`);
        }
        await tab(page, 'People');
      }
    } finally {
      await page.setViewportSize({ width: 390, height: 844 });
    }
  }],

  ['a walk at phone size: the next door first, one tap per door, several "not home" at once, answered into the record form, do-not-knock', async ({ page, dir }) => {
    await page.setViewportSize({ width: 360, height: 740 });
    const csvDir = mkdtempSync(join(tmpdir(), 'gw-walk-'));
    const csv = join(csvDir, 'walk.csv');
    writeFileSync(csv, 'Elector No,Name,House No,Street,Flat,Postcode\n'
      + 'E1,Ola Bo,4,Birch Street,,LS2 1AA\nE2,Kemi Ade,1,Birch Street,,LS2 1AA\n'
      + 'E3,Tom Fry,2,Birch Street,,LS2 1AA\nE4,Ana Lee,3,Birch Street,,LS2 1AA\n'
      + 'E5,Raj Das,5,Birch Street,,LS2 1AA\n');
    const imported = JSON.parse(await nb(dir, 'walklist', 'import', '--name', 'Birch Street', '--csv', csv));
    rmSync(csvDir, { recursive: true, force: true });
    eq(imported.doors_added, 5, 'doors imported');
    await tab(page, 'Shift');
    await page.getByRole('button', { name: 'Birch Street: 0 of 5 knocked' }).click();
    await page.getByRole('heading', { name: 'Birch Street', exact: true }).waitFor();
    // Walking order: odd side first. The next door is at the top, with its residents.
    const door = page.locator('#door-title');
    eq(await door.textContent(), '1 Birch Street, LS2 1AA', 'first door');
    await shot(page, 'walk');
    await layoutCheck(page, 'walk at 360px');
    await axeCheck(page, 'walk at 360px');
    // One tap: not home; the next door takes its place.
    await page.getByRole('button', { name: 'Not home', exact: true }).click();
    await page.waitForFunction(() => document.getElementById('door-title')?.textContent === '3 Birch Street, LS2 1AA');
    // Two doors ticked, marked "not home" together.
    await page.getByRole('checkbox', { name: 'Tick 5 Birch Street, LS2 1AA to mark it with others' }).check();
    await page.getByRole('checkbox', { name: 'Tick 2 Birch Street, LS2 1AA to mark it with others' }).check();
    await page.click('#mark-ticked');
    await page.getByText('2 doors marked not home.').waitFor();
    // Answered: who answered, then the record form for them, the address from the door.
    await page.waitForFunction(() => document.getElementById('door-title')?.textContent === '3 Birch Street, LS2 1AA');
    await nextDoorSettled(page);
    await page.getByRole('button', { name: 'Answered', exact: true }).click();
    await page.getByRole('heading', { name: 'Who answered at 3 Birch Street, LS2 1AA?' }).waitFor();
    await nextDoorSettled(page);
    await page.getByRole('button', { name: 'Ana Lee', exact: true }).click();
    await page.getByRole('heading', { name: 'Conversation with Ana Lee' }).waitFor();
    // Back on the list: the same door answered again by the same resident opens her file's
    // form, without a second Ana Lee.
    await page.goBack();
    await page.getByRole('heading', { name: 'Birch Street', exact: true }).waitFor();
    await page.getByRole('button', { name: /^3 Birch Street, LS2 1AA/ }).click();
    await page.waitForFunction(() => document.getElementById('door-title')?.textContent === '3 Birch Street, LS2 1AA');
    await nextDoorSettled(page);
    await page.getByRole('button', { name: 'Answered', exact: true }).click();
    await nextDoorSettled(page);
    await page.getByRole('button', { name: 'Ana Lee', exact: true }).click();
    await page.getByRole('heading', { name: 'Conversation with Ana Lee' }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: 'Birch Street', exact: true }).waitFor();
    // "Come back later" at a set time, on a door knocked before.
    await page.getByRole('button', { name: /^1 Birch Street, LS2 1AA/ }).click();
    await page.waitForFunction(() => document.getElementById('door-title')?.textContent === '1 Birch Street, LS2 1AA');
    await page.getByText('Come back at a set time…').click();
    await page.fill('#come-back-time', '2026-12-24T18:30');
    await page.click('#come-back-save');
    await page.waitForFunction(() => document.getElementById('door-title')?.textContent === '4 Birch Street, LS2 1AA');
    // A door opened from the list and marked do-not-knock.
    await page.getByRole('button', { name: /^4 Birch Street, LS2 1AA/ }).click();
    await page.waitForFunction(() => document.getElementById('door-title')?.textContent === '4 Birch Street, LS2 1AA');
    await nextDoorSettled(page);
    await page.getByRole('button', { name: 'Do not knock', exact: true }).click();
    await page.getByText('Every door on this list has been knocked.').waitFor();
    const shown = JSON.parse(await nb(dir, 'walklist', 'show', imported.id));
    eq(shown.doors.map((d) => [d.address.split(',')[0], d.status]), [
      ['1 Birch Street', 'come-back'], ['3 Birch Street', 'answered'], ['5 Birch Street', 'not-home'],
      ['2 Birch Street', 'not-home'], ['4 Birch Street', 'do-not-knock'],
    ], 'door statuses');
    eq(shown.knocked, 4, 'knocked');
    const back = new Date(shown.doors[0].come_back_at);
    eq([back.getFullYear(), back.getMonth() + 1, back.getDate(), back.getHours(), back.getMinutes()],
      [2026, 12, 24, 18, 30], 'come back at, in local time');
    const people = JSON.parse(await nb(dir, 'person', 'list'));
    const anas = people.filter((p) => p.name === 'Ana Lee');
    eq(anas.length, 1, 'Ana Lee, once');
    assert(anas[0].address === '3 Birch Street, LS2 1AA', `Ana's address: ${JSON.stringify(anas[0])}`);
    await page.setViewportSize({ width: 390, height: 844 });
  }],

  ['accessibility (axe) and phone layout on every screen', async ({ page, dir }) => {
    // A name and a place of one long word (a German surname, a pasted link): they wrap
    // rather than push the screen sideways and the tabs out of reach, on every phone.
    const long = 'Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaft';
    await nb(dir, 'person', 'add', '--name', long, '--area', `https://example.org/${'x'.repeat(80)}`);
    const screens = [
      ['People', null],
      ['Due', null],
      ['Campaigns', null],
      ['Shift', null],
      ['Settings', null],
    ];
    for (const width of [360, 430]) {
      await page.setViewportSize({ width, height: 844 });
      for (const [name] of screens) {
        await tab(page, name);
        await page.waitForTimeout(150);
        await axeCheck(page, `${name} at ${width}px`);
        await layoutCheck(page, `${name} at ${width}px`);
      }
      await findPerson(page, 'amina', 'Amina Yusuf');
      await axeCheck(page, `person file at ${width}px`);
      await layoutCheck(page, `person file at ${width}px`);
      await page.click('#edit-person');
      await page.waitForSelector('#edit-phone');
      await axeCheck(page, `edit person at ${width}px`);
      await layoutCheck(page, `edit person at ${width}px`);
      await page.click('#cancel-edit');
      await page.waitForSelector('#record-conversation');
      await page.click('#show-history');
      await page.locator('.history-change').first().waitFor();
      await axeCheck(page, `history at ${width}px`);
      await layoutCheck(page, `history at ${width}px`);
      await page.click('#close-history');
      await page.waitForSelector('#record-conversation');
      await page.click('#record-conversation');
      await page.waitForSelector('#story');
      await axeCheck(page, `record at ${width}px`);
      await layoutCheck(page, `record at ${width}px`);
      await tab(page, 'People');
    }
  }],

  ['10,000 people: the total, a filter, more rows, whole Due counts, mine, consent links', async () => {
    const { dir, cleanup } = tenThousand();
    try {
      await tenThousandPeople(dir);
    } finally {
      cleanup();
    }
  }],
];

/** Today on this machine, as the app sees it (local time), YYYY-MM-DD. */
function localToday() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A notebook of 10,000 demo people: a copy of GROUNDWORK_UI_10K_DIR, or generated. */
function tenThousand() {
  const tmp = mkdtempSync(join(tmpdir(), 'gw-10k-'));
  const dir = join(tmp, 'notebook');
  const given = process.env.GROUNDWORK_UI_10K_DIR;
  if (given && !existsSync(given)) {
    // Named but not made yet (CI's cache): make it once, then copy it like a given one.
    const g0 = Date.now();
    const making = `${given}.making-${process.pid}`;
    cli(making, 'demo-data', '--people', '10000');
    renameSync(making, given);
    console.log(`     (generated 10,000 people in ${Date.now() - g0} ms into ${given})`);
  }
  if (given) {
    cpSync(given, dir, { recursive: true });
  } else {
    const g0 = Date.now();
    cli(dir, 'demo-data', '--people', '10000');
    console.log(`     (generated 10,000 people in ${Date.now() - g0} ms; set GROUNDWORK_UI_10K_DIR to reuse a notebook)`);
  }
  return { dir, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

const fmt = (n) => n.toLocaleString('en-GB');

async function tenThousandPeople(dir) {
  const today = localToday();
  // Two people added on top of the demo data, each with a long-overdue promise (so they lead
  // the Overdue list): one agreed to calls and texts, one asked not to be contacted at all.
  const texter = cli(dir, 'person', 'add', '--name', 'Consent Callandtext', '--phone', '07700 900123',
    '--consent', 'phone', '--consent', 'sms', '--area', 'Elm Road').trim();
  const refuser = cli(dir, 'person', 'add', '--name', 'Nocontact Person', '--phone', '07700 900456',
    '--consent', 'phone', '--consent', 'sms', '--do-not-contact').trim();
  cli(dir, 'commitment', 'add', '--person', texter, '--what', 'text me the date', '--due', '2020-01-01');
  cli(dir, 'commitment', 'add', '--person', refuser, '--what', 'leave me be', '--due', '2020-01-02');
  cli(dir, 'settings', '--name', 'Sam');

  // What the app must say, worked out from the command line's own lists.
  const people = JSON.parse(cli(dir, 'export', '--what', 'people', '--include-do-not-contact'));
  const total = people.length;
  const area = 'Castle Estate';
  const inArea = people.filter((p) => (p.area || '').toLowerCase() === area.toLowerCase()).length;
  const open = JSON.parse(cli(dir, 'commitment', 'list', '--status', 'open'));
  const overdue = open.filter((c) => c.due && c.due < today);
  const conversations = JSON.parse(cli(dir, 'export', '--what', 'conversations'));
  const heldBy = new Map(conversations.map((c) => [c.id, c.canvasser]));
  const mine = overdue.filter((c) => heldBy.get(c.conversation_id) === 'Sam').length;
  assert(total === 10002, `expected 10,002 people, the export has ${total}`);
  assert(overdue.length > 200, `the demo should hold more than 200 overdue commitments, has ${overdue.length}`);

  // A team of its own on the phone host's relay: the command-line device sends its 10,002
  // people, then a fresh phone joins by link and takes them all in.
  const { invite, team_id: team } = JSON.parse(host.relayCli('team', 'create', '--name', 'Castle Estate'));
  cli(dir, 'join', '--relay', host.url, '--invite', invite, '--name', "Sam's laptop");
  // An end-to-end encrypted team: the phone's invite comes from the lead's device (it carries
  // the team's key), not from the relay's operator.
  const phoneInvite = JSON.parse(cli(dir, 'team', 'invite')).code;
  cli(dir, 'sync');
  const fresh = await freshPhone();
  const { page, close } = fresh;
  await page.goto(`${host.url}/#join=${encodeURIComponent(phoneInvite)}`);
  await page.fill('#join-link-name', 'Sam');
  const s0 = Date.now();
  await page.click('#join-link-join');
  await page.locator('#people-count', { hasText: `${fmt(total)} people in this notebook.` }).waitFor({ timeout: 600000 });
  console.log(`bench: 10,000 people, a phone's first sync to the total shown: ${Date.now() - s0} ms`);
  try {
    eq(await page.locator('.person-row').count(), 50, 'first page of people');
    await page.click('#people-more');
    await page.locator('.person-row').nth(99).waitFor();
    eq(await page.locator('.person-row').count(), 100, 'people after Show more');

    await page.click('#people-filters-toggle');
    const f0 = Date.now();
    await page.selectOption('#filter-area', area);
    await page.locator('#people-count', { hasText: `${fmt(inArea)} of ${fmt(total)} match.` }).waitFor();
    console.log(`bench: 10,000 people, area filter to count and first page: ${Date.now() - f0} ms`);
    eq(await page.locator('.person-row').count(), 50, 'first page of the filtered list');
    await shot(page, 'people-10k-filter');
    await axeCheck(page, 'People with a filter, 10,000 people');
    await layoutCheck(page, 'People with a filter, 10,000 people');

    const d0 = Date.now();
    await tab(page, 'Due');
    await page.locator('#overdue-title', { hasText: `Overdue (${fmt(overdue.length)})` }).waitFor();
    console.log(`bench: 10,000 people, Due tab to whole counts: ${Date.now() - d0} ms`);
    await page.locator('#follow-ups-title', { hasText: /Follow-ups due \([1-9]/ }).waitFor();
    console.log(`bench: 10,000 people, Due tab to follow-ups shown: ${Date.now() - d0} ms`);
    eq(await page.locator('#overdue-list > li').count(), 50, 'first page of overdue commitments');
    // Soonest first: the two promises of 2020 lead, with links only where consent allows.
    const first = page.locator('#overdue-list > li').nth(0);
    const second = page.locator('#overdue-list > li').nth(1);
    assert((await first.textContent()).includes('text me the date'), 'the oldest promise leads');
    eq(await first.locator('a[href="tel:07700900123"]').count(), 1, 'call link where consent allows');
    eq(await first.locator('a[href="sms:07700900123"]').count(), 1, 'text link where consent allows');
    assert((await second.textContent()).includes('leave me be'), 'the second oldest is second');
    eq(await second.locator('a').count(), 0, 'no links for someone who asked not to be contacted');
    await page.click('#overdue-more');
    await page.locator('#overdue-list > li').nth(99).waitFor();
    await page.click('.due [data-value="mine"]');
    await page.locator('#overdue-title', { hasText: `Overdue (${fmt(mine)})` }).waitFor();
    await axeCheck(page, 'Due, 10,000 people');
    await layoutCheck(page, 'Due, 10,000 people');
    await shot(page, 'due-10k');
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------- the runner

async function main() {
  const dir = join(mkdtempSync(join(tmpdir(), 'gw-ui-')), 'notebook');
  const phone = await phoneHost(dir);
  let { app, context, page } = phone;
  const restart = async () => {
    page = await phone.restart();
    context = page.context();
    return page;
  };

  let passed = 0;
  let failed = 0;
  const only = process.env.GROUNDWORK_UI_ONLY;
  for (const [name, run] of tests) {
    if (only && !new RegExp(only).test(name)) continue;
    const t0 = Date.now();
    try {
      await run({ page, dir, restart });
      passed += 1;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
      if (SHOTS) await page.screenshot({ path: join(SHOTS, `failed-${passed + failed}.png`) }).catch(() => {});
    }
  }
  if (state.saveMs !== undefined) console.log(`bench: tap save to conversation shown: ${state.saveMs} ms`);
  await context.close();
  await stopRelay(app);
  if (host.cleanup) host.cleanup();

  rmSync(dirname(dir), { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

/** The phone host: a relay serving the web app, the command-line device `dir` joined to its
 * team (named Ana), and Chromium on a profile of its own (kept across `restart`, which closes
 * the browser as a phone's owner would) that joined by link as Sam. */
async function phoneHost(dir) {
  if (!existsSync(join(WEB, 'index.html'))) throw new Error(`no web app in ${WEB}: run .ci/build-web`);
  const relayDir = mkdtempSync(join(tmpdir(), 'gw-ui-relay-'));
  const profile = mkdtempSync(join(tmpdir(), 'gw-ui-profile-'));
  host.cleanup = () => {
    rmSync(relayDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  };
  const relayCli = (...args) => relayCliIn(relayDir, ...args);
  // The phone is a team lead's (its shift report lists the team's devices, which only a lead
  // may see); the command-line device is the first lead.
  const { invite, team_id: team } = JSON.parse(relayCli('team', 'create', '--name', 'Elm Road'));
  const app = await startRelay(relayDir);
  const url = app.url;
  host.url = url;
  host.relayCli = relayCli;
  cli(dir, 'settings', '--name', 'Ana');
  cli(dir, 'join', '--relay', url, '--invite', invite, '--name', "Ana's laptop");
  // The team is end-to-end encrypted: invites that carry its key come from a lead's device.
  const phoneInvite = JSON.parse(cli(dir, 'team', 'invite', '--lead')).code;
  host.spareInvite = JSON.parse(cli(dir, 'team', 'invite')).code;
  cli(dir, 'sync');
  const open = async () => {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      viewport: { width: 390, height: 844 },
      bypassCSP: true, // axe-core is injected as a script
    });
    const page = context.pages()[0] || await context.newPage();
    host.page = page;
    return { context, page };
  };
  let { context, page } = await open();
  await page.goto(`${url}/#join=${encodeURIComponent(phoneInvite)}`);
  await page.fill('#join-link-name', 'Sam');
  await page.click('#join-link-join');
  await page.waitForSelector('.tabs');
  await page.locator('.sync-text', { hasText: /^Synced \d\d:\d\d · all saved here$/ }).waitFor({ timeout: 30000 });
  const restart = async () => {
    await context.close();
    ({ context, page } = await open());
    await page.goto(`${url}/`);
    await page.waitForSelector('.tabs');
    return page;
  };
  return { app, context, page, restart };
}

/** Another phone: Chromium on a new profile of its own (a notebook of its own), at the phone
 * host's size. `close` ends it and removes the profile. */
async function freshPhone() {
  const profile = mkdtempSync(join(tmpdir(), 'gw-ui-fresh-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: { width: 390, height: 844 },
    bypassCSP: true,
  });
  const page = context.pages()[0] || await context.newPage();
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

main().catch((e) => {
  console.log(`FAIL runner: ${e.stack}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
