// An automerge-repo device: a Repo with NodeFS storage and a WebSocket client network adapter.
//
//   node am-client.mjs index --server WS_URL --dir DIR --out FILE
//       makes the team's index document (record id -> document URL), waits until the server
//       holds it, writes {"url", "heads"} to FILE
//   node am-client.mjs write --server WS_URL --dir DIR --index URL --records FILE --out FILE
//                            [--timeout SECONDS]
//       writes one document per person (and per campaign and shift) from Groundwork's JSON
//       export in FILE, offline and in the steps FILE's "steps" names; then connects, lists the
//       documents in the index and waits until the server holds every change; writes
//       {"push_ms", "changes", "docs": {url: heads}, "index_heads", "complete"} to FILE
//   node am-client.mjs pull --server WS_URL --dir DIR --index URL --expect FILE --out FILE
//                           [--timeout SECONDS]
//       a device that knows only the index's URL: finds the index, then every document it lists,
//       until each has the heads FILE (a writer's output, merged) expects; writes {"ms", "held",
//       "expected", "complete", "index_ms", "unavailable"} to FILE
//
// Heads are compared as automerge-repo gives them (handle.heads()). Progress goes to stderr.

import fs from "node:fs";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { ImmutableString } from "@automerge/automerge";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";

const [mode, ...rest] = process.argv.slice(2);
const { values: opt } = parseArgs({
  args: rest,
  options: {
    server: { type: "string" },
    dir: { type: "string" },
    index: { type: "string" },
    records: { type: "string" },
    expect: { type: "string" },
    out: { type: "string" },
    timeout: { type: "string", default: "600" },
    batch: { type: "string", default: "0" },
  },
});

function fail(message) {
  console.error(`am-client ${mode}: ${message}`);
  process.exit(1);
}

const need = { index: ["server", "dir", "out"], write: ["server", "dir", "index", "records", "out"], pull: ["server", "dir", "index", "expect", "out"] }[mode];
if (!need) fail("usage: node am-client.mjs index|write|pull --server WS_URL --dir DIR … (see the file's head)");
for (const k of need) if (!opt[k]) fail(`--${k} is required`);
const timeoutMs = Number(opt.timeout) * 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sameHeads = (a, b) => !!a && !!b && a.length === b.length && [...a].sort().join() === [...b].sort().join();
const log = (m) => console.error(`am-client ${mode}: ${m}`);

/** Scalar text, as Groundwork stores it (not a collaborative text object). */
const s = (v) => new ImmutableString(String(v));
const set = (list) => Object.fromEntries((list ?? []).map((x) => [x, true]));

/** The server's storage id, once connected: what the server's sync messages tell us it has is
 * kept under it (handle.getSyncInfo). */
async function serverStorageId(repo) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const peer of repo.peers) {
      const id = repo.getStorageIdOfPeer(peer);
      if (id) return id;
    }
    if (Date.now() > deadline) fail("not connected to the server after 30 s");
    await sleep(20);
  }
}

/** Waits until the server has acknowledged every handle's current heads; returns how many
 * have not been acknowledged when `deadline` passed (0 when all were). */
async function untilServerHolds(repo, handles, deadline) {
  const storageId = await serverStorageId(repo);
  let pending = handles;
  let lastLog = Date.now();
  for (;;) {
    pending = pending.filter((h) => !sameHeads(h.getSyncInfo(storageId)?.lastHeads, h.heads()));
    if (pending.length === 0) return 0;
    if (Date.now() > deadline) return pending.length;
    if (Date.now() - lastLog > 10_000) {
      log(`server holds ${handles.length - pending.length} of ${handles.length} documents`);
      lastLog = Date.now();
    }
    await sleep(100);
  }
}

function personRoot(p, withNotes) {
  const person = { name: s(p.name), do_not_contact: p.do_not_contact, tags: set(p.tags), consent: {} };
  for (const k of ["phone", "email", "address", "area", "workplace", "role"]) if (p[k] != null) person[k] = s(p[k]);
  if (withNotes && p.notes != null) person.notes = s(p.notes);
  for (const [channel, at] of Object.entries(p.consent ?? {})) person.consent[channel] = s(at);
  for (const l of p.languages ?? []) person[`languages/${l}`] = true;
  return {
    type: s("person"),
    shape: 1,
    id: s(p.id),
    created_at: s(p.created_at),
    updated_at: s(withNotes ? p.updated_at : p.created_at),
    person,
    conversations: {},
    commitments: {},
  };
}

function conversationValue(c) {
  const o = { at: s(c.at), kind: s(c.kind), created_at: s(c.created_at), issues: set(c.issues) };
  if (c.canvasser != null) o.canvasser = s(c.canvasser);
  for (const k of ["shift_id", "story", "notes", "follow_up"]) if (c[k] != null) o[k] = s(c[k]);
  if (c.engagement != null) o.engagement = c.engagement;
  return o;
}

function commitmentValue(c) {
  const o = { what: s(c.what), status: s(c.status), created_at: s(c.created_at), status_at: s(c.status_at) };
  for (const k of ["due", "conversation_id", "campaign_id", "target"]) if (c[k] != null) o[k] = s(c[k]);
  return o;
}

/** Plain JSON (a campaign or a shift as exported) with its text as scalar text. */
function scalarTree(v) {
  if (typeof v === "string") return s(v);
  if (Array.isArray(v)) return v.map(scalarTree);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, scalarTree(x)]));
  return v;
}

async function modeIndex() {
  const repo = new Repo({ storage: new NodeFSStorageAdapter(opt.dir), network: [new WebSocketClientAdapter(opt.server)] });
  const index = repo.create({ type: s("team index"), docs: {} });
  const left = await untilServerHolds(repo, [index], Date.now() + timeoutMs);
  if (left) fail("the server did not take the index document in time");
  await repo.flush();
  fs.writeFileSync(opt.out, JSON.stringify({ url: index.url, heads: index.heads() }));
  await repo.shutdown();
}

async function modeWrite() {
  const records = JSON.parse(fs.readFileSync(opt.records, "utf8"));
  const steps = records.steps; // "shift": person, conversation, each commitment, a later edit; "demo"
  if (steps !== "shift" && steps !== "demo") fail(`records' "steps" must be "shift" or "demo", not ${steps}`);
  const byPerson = (list) => {
    const m = new Map();
    for (const r of list ?? []) m.set(r.person_id, [...(m.get(r.person_id) ?? []), r]);
    return m;
  };
  const conversations = byPerson(records.conversations);
  const commitments = byPerson(records.commitments);

  // Offline: the device writes, as a canvasser does without signal.
  const repo = new Repo({ storage: new NodeFSStorageAdapter(opt.dir), network: [] });
  const handles = new Map(); // record id -> handle
  let changes = 0;
  const started = performance.now();
  for (const [n, p] of records.people.entries()) {
    if (n > 0 && n % 1000 === 0) log(`${n} people written offline, ${Math.round((performance.now() - started) / 1000)} s`);
    // Let the Repo's debounced saves to storage run between people, as they would on a device.
    if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    const convs = conversations.get(p.id) ?? [];
    const comms = commitments.get(p.id) ?? [];
    if (steps === "shift") {
      const h = repo.create(personRoot(p, false));
      changes += 1;
      for (const c of convs) {
        h.change((d) => {
          d.conversations[c.id] = conversationValue(c);
          d.updated_at = s(c.created_at);
        });
        changes += 1;
      }
      for (const c of comms) {
        h.change((d) => {
          d.commitments[c.id] = commitmentValue(c);
          d.updated_at = s(c.created_at);
        });
        changes += 1;
      }
      h.change((d) => {
        if (p.notes != null) d.person.notes = s(p.notes);
        d.updated_at = s(p.updated_at);
      });
      changes += 1;
      handles.set(p.id, h);
    } else {
      const h = repo.create(personRoot(p, true));
      changes += 1;
      const convIds = new Set(convs.map((c) => c.id));
      for (const c of convs) {
        h.change((d) => {
          d.conversations[c.id] = conversationValue(c);
          for (const k of comms) if (k.conversation_id === c.id) d.commitments[k.id] = commitmentValue(k);
        });
        changes += 1;
      }
      for (const k of comms) {
        if (k.conversation_id && convIds.has(k.conversation_id)) continue;
        h.change((d) => {
          d.commitments[k.id] = commitmentValue(k);
        });
        changes += 1;
      }
      handles.set(p.id, h);
    }
  }
  for (const [kind, list] of [["campaign", records.campaigns], ["shift", records.shifts]]) {
    for (const r of list ?? []) {
      handles.set(r.id, repo.create({ type: s(kind), ...scalarTree(r) }));
      changes += 1;
    }
  }
  log(`wrote ${handles.size} documents in ${changes} changes offline`);

  // Signal: connect, list the documents in the team's index, wait until the server holds all.
  const start = performance.now();
  repo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(opt.server));
  await serverStorageId(repo); // connected: a find before that finds no peer to ask
  const index = await repo.find(opt.index);
  index.change((d) => {
    for (const [id, h] of handles) d.docs[id] = s(h.url);
  });
  const all = [...handles.values(), index];
  const left = await untilServerHolds(repo, all, Date.now() + timeoutMs);
  const pushMs = performance.now() - start;
  if (left) log(`timed out: the server holds ${all.length - left} of ${all.length} documents`);
  await repo.flush();
  const docs = {};
  for (const h of handles.values()) docs[h.url] = h.heads();
  fs.writeFileSync(opt.out, JSON.stringify({ push_ms: pushMs, changes, docs, index_heads: index.heads(), complete: left === 0, held_by_server: all.length - left, total: all.length }));
  await repo.shutdown();
}

async function modePull() {
  const expect = JSON.parse(fs.readFileSync(opt.expect, "utf8"));
  const expected = new Map(Object.entries(expect.docs));
  const start = performance.now();
  const deadline = Date.now() + timeoutMs;
  const repo = new Repo({ storage: new NodeFSStorageAdapter(opt.dir), network: [new WebSocketClientAdapter(opt.server)] });
  await serverStorageId(repo);
  const result = { ms: null, index_ms: null, held: 0, expected: expected.size, complete: false, unavailable: 0, ready: 0 };
  const finish = async () => {
    fs.writeFileSync(opt.out, JSON.stringify(result));
    // Shutting down flushes every handle, and automerge-repo 2.5.6 throws "DocHandle is not
    // ready" for the ones that never arrived: the result is written, so that is only logged.
    await Promise.race([repo.shutdown(), sleep(5_000)]).catch((err) => log(`shutdown: ${err.message}`));
    process.exit(0);
  };

  // The index first: the device knows only its URL.
  let index;
  try {
    index = await Promise.race([repo.find(opt.index), sleep(timeoutMs).then(() => null)]);
  } catch (err) {
    fail(`the index document: ${err.message}`);
  }
  if (!index) {
    log("timed out before the index arrived");
    return finish();
  }
  // The index as its last writer left it; if the server never acknowledged that (a writer
  // timed out), go on after 60 s with the index the server has, and say so.
  const indexDeadline = Math.min(deadline, Date.now() + 60_000);
  result.index_complete = true;
  while (!sameHeads(index.heads(), expect.index_heads)) {
    if (Date.now() > indexDeadline) {
      result.index_complete = false;
      log(`the index the server gave lacks its last writer's change after 60 s: going on with the ${Object.keys(index.doc().docs).length} documents it lists`);
      break;
    }
    await sleep(20);
  }
  result.index_ms = performance.now() - start;
  const urls = Object.values(index.doc().docs).map(String);
  for (const u of urls) if (!expected.has(u)) fail(`the index lists ${u}, which no writer reported`);

  // Then every document it lists: all asked for at once, or with --batch N, N at a time, each
  // batch settled before the next is asked for. (A document once found unavailable stays so in
  // a Repo: there is no retry.)
  const handles = new Map();
  const ask = (u) =>
    repo
      .find(u)
      .then((h) => handles.set(u, h))
      .catch(() => {
        result.unavailable += 1;
      });
  const batch = Number(opt.batch);
  if (batch > 0) {
    void (async () => {
      for (let i = 0; i < urls.length && Date.now() < deadline; i += batch) {
        await Promise.all(urls.slice(i, i + batch).map(ask));
      }
    })();
  } else {
    for (const u of urls) void ask(u);
  }
  let pending = urls;
  let lastLog = Date.now();
  for (;;) {
    pending = pending.filter((u) => {
      const h = handles.get(u);
      return !(h && sameHeads(h.heads(), expected.get(u)));
    });
    result.held = urls.length - pending.length; // documents the index does not list are not held
    result.ready = handles.size;
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      log(`timed out after ${Math.round(timeoutMs / 1000)} s holding ${result.held} of ${expected.size} documents complete (${handles.size} found, ${result.unavailable} unavailable)`);
      return finish();
    }
    if (Date.now() - lastLog > 10_000) {
      log(`${Math.round((performance.now() - start) / 1000)} s: ${result.held} of ${expected.size} documents complete, ${handles.size} found, ${result.unavailable} unavailable`);
      lastLog = Date.now();
    }
    await sleep(200);
  }
  await repo.flush();
  result.ms = performance.now() - start;
  result.complete = result.held === expected.size;
  if (!result.complete) log(`every document the index lists is complete: ${result.held} of the ${expected.size} written`);
  return finish();
}

const modes = { index: modeIndex, write: modeWrite, pull: modePull };
modes[mode]().catch((err) => fail(err.stack ?? String(err)));
