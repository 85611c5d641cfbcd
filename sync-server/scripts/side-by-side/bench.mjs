// Side by side: Groundwork's relay and CLI against automerge-repo's sync server and clients, on
// the same data, through the same byte-counting proxy. Called by run.sh (which builds and
// installs what this needs); see README.md.
//
//   node bench.mjs --bin DIR --work DIR [--results FILE]
//
// Environment: SBS_TEAM_PEOPLE (10000), SBS_TIMEOUT seconds per client (600), SBS_DEVICES (20)
// and SBS_PER_DEVICE (40) for the end of a shift, SBS_ONLY=shift|first to run one workload,
// SBS_AM_WRITER_PEOPLE (1000): people per automerge-repo device uploading the big team,
// SBS_AM_FIND_BATCH (0: all at once): documents a new automerge-repo device asks for at a time.

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  SplitMix64,
  freePort,
  peakMemory,
  run,
  startProxy,
  startServer,
  stopServer,
  waitForPort,
} from "./lib.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: { bin: { type: "string" }, work: { type: "string" }, results: { type: "string" } },
});
if (!opt.bin || !opt.work) {
  console.error("bench: usage: node bench.mjs --bin TARGET_RELEASE_DIR --work DIR [--results FILE]");
  process.exit(2);
}
const envInt = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number, not ${v}`);
  return Number(v);
};
const TEAM_PEOPLE = envInt("SBS_TEAM_PEOPLE", 10_000);
const TIMEOUT_S = envInt("SBS_TIMEOUT", 600);
const DEVICES = envInt("SBS_DEVICES", 20);
const PER_DEVICE = envInt("SBS_PER_DEVICE", 40);
const ONLY = process.env.SBS_ONLY ?? "";
const AM_WRITER_PEOPLE = Math.max(1, envInt("SBS_AM_WRITER_PEOPLE", 1000));
const AM_FIND_BATCH = envInt("SBS_AM_FIND_BATCH", 0);
if (!["", "shift", "first"].includes(ONLY)) throw new Error(`SBS_ONLY must be shift or first, not ${ONLY}`);

const GW = path.join(opt.bin, "groundwork");
const RELAY = path.join(opt.bin, "sync-server");
for (const b of [GW, RELAY]) if (!fs.existsSync(b)) throw new Error(`${b} is missing: build it first (run.sh does)`);
fs.mkdirSync(opt.work, { recursive: true });

const note = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
const rows = [];

// ---- Groundwork ----------------------------------------------------------------------------

const gw = async (dir, args, timeoutMs = 0) => (await run(GW, ["--data-dir", dir, ...args], { timeoutMs })).stdout;
const gwJson = async (dir, args, timeoutMs = 0) => JSON.parse(await gw(dir, args, timeoutMs));

/** Starts our relay on a free port with a proxy in front of it. */
async function ourRelay(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const server = startServer(
    RELAY,
    ["--data-dir", path.join(dir, "relay"), "serve", "--listen", `127.0.0.1:${port}`, "--log", "warn",
      // every device enrols from 127.0.0.1: the per-address enrolment limit is for the internet
      "--enrol-per-minute", "1000", "--enrol-burst", "1000"],
    path.join(dir, "relay.log"),
  );
  await waitForPort(port, server, "sync-server");
  const proxy = await startProxy(port);
  const team = JSON.parse((await run(RELAY, ["--data-dir", path.join(dir, "relay"), "team", "create", "--name", "Side by side"])).stdout);
  return { server, proxy, url: `http://127.0.0.1:${proxy.port}`, leadInvite: team.invite };
}

const EXPORTS = ["people", "conversations", "commitments", "campaigns", "shifts"];

/** Everything a device holds, as exported (sorted by id), do-not-contact people included. */
async function ourExport(dir) {
  const out = {};
  for (const what of EXPORTS) {
    const extra = what === "campaigns" || what === "shifts" ? [] : ["--include-do-not-contact"];
    out[what] = await gwJson(dir, ["export", "--what", what, "--format", "json", ...extra]);
  }
  return out;
}

const byId = (list) => [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** Whether `held` has every record of `want`, equal; with the count of people held. */
function sameRecords(held, want) {
  const diffs = [];
  for (const what of EXPORTS) {
    if (JSON.stringify(byId(held[what])) !== JSON.stringify(byId(want[what]))) diffs.push(what);
  }
  // Documents: one per person (with their conversations and commitments), campaign and shift.
  const docs = (e) => e.people.length + e.campaigns.length + e.shifts.length;
  return { equal: diffs.length === 0, diffs, docs: docs(held), want: docs(want) };
}

const STORIES = [
  "Works two jobs and is still short by the end of the month.",
  "The flat has had black mould since last winter; the landlord does not answer.",
  "Was moved to split shifts with two days' notice and lost her childcare.",
  "Has not had a pay rise in four years while the rent went up twice.",
];

/** The end of a shift, as benches/sync.rs writes it: device d's i-th person, one doorstep
 * conversation, one or two commitments, a later note. */
function shiftScript() {
  const rng = new SplitMix64(5);
  const devices = [];
  for (let d = 0; d < DEVICES; d++) {
    const people = [];
    for (let i = 0; i < PER_DEVICE; i++) {
      const phone = `07700 9${String(rng.below(100_000)).padStart(5, "0")}`;
      const asks = ["sign the letter", "come to the delivery"].slice(0, 1 + rng.below(2));
      const story = rng.pick(STORIES);
      people.push({ name: `Person ${d}-${i}`, phone, story, asks });
    }
    devices.push(people);
  }
  return devices;
}

/** Writes one device's people with the command line, each in steps: the person, the
 * conversation, each commitment, a later edit of the notes. */
async function writeShift(dir, people) {
  for (const p of people) {
    const id = (await gw(dir, ["person", "add", "--name", p.name, "--phone", p.phone, "--area", "Elm Road", "--workplace", "University cleaning services"])).trim();
    const conv = (await gw(dir, ["conversation", "add", "--person", id, "--kind", "doorstep", "--issue", "living wage", "--story", p.story, "--notes", "Call back after 6pm.", "--engagement", "3"])).trim();
    for (const what of p.asks) await gw(dir, ["commitment", "add", "--person", id, "--what", what, "--conversation", conv]);
    await gw(dir, ["person", "edit", id, "--notes", "Rang back: on nights from next week."]);
  }
}

/** Runs `f` over `items`, `n` at a time. */
async function pool(items, n, f) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await f(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
}

/** One timed `groundwork sync`, with the bytes that crossed the proxy meanwhile. */
async function ourSync(dir, proxy) {
  const before = proxy.snapshot();
  const t0 = performance.now();
  const report = await gwJson(dir, ["sync"], TIMEOUT_S * 1000);
  const ms = performance.now() - t0;
  const after = proxy.snapshot();
  return { ms, report, down: after.down - before.down, up: after.up - before.up };
}

async function oursEndOfShift(script) {
  const dir = path.join(opt.work, "ours-shift");
  const relay = await ourRelay(dir);
  try {
    const lead = path.join(dir, "lead");
    await gwJson(lead, ["join", "--relay", relay.url, "--invite", relay.leadInvite, "--name", "Team lead"]);
    const code = (await gwJson(lead, ["team", "invite", "--uses", String(DEVICES)])).code;
    const devices = script.map((_, d) => path.join(dir, `device${d}`));
    for (const [d, dev] of devices.entries()) await gwJson(dev, ["join", "--relay", relay.url, "--invite", code, "--name", `Canvasser ${d}`]);
    note(`ours, end of shift: ${DEVICES} devices write ${DEVICES * PER_DEVICE} people with the command line`);
    const exports = [];
    await pool(devices, 2, async (dev, d) => {
      await writeShift(dev, script[d]);
      exports[d] = await ourExport(dev);
    });
    const pushes = { ms: 0, down: 0, up: 0, changes: 0 };
    for (const dev of devices) {
      const s = await ourSync(dev, relay.proxy);
      pushes.ms += s.ms;
      pushes.down += s.down;
      pushes.up += s.up;
      pushes.changes += s.report.pushed;
    }
    const uploadMem = peakMemory(relay.server.pid);
    note("ours, end of shift: the lead pulls");
    const pull = await ourSync(lead, relay.proxy);
    const mem = peakMemory(relay.server.pid);
    const want = Object.fromEntries(EXPORTS.map((w) => [w, exports.flatMap((e) => e[w])]));
    const check = sameRecords(await ourExport(lead), want);
    rows.push({
      system: "Groundwork", workload: `end of shift: ${DEVICES} devices push, one after another`, ms: pushes.ms,
      down: pushes.down, up: pushes.up, mem: uploadMem, held: `${want.people.length} people pushed`, changes: pushes.changes,
    });
    rows.push({
      system: "Groundwork", workload: "**end of shift: the lead's pull**", ms: pull.ms, down: pull.down, up: pull.up, mem,
      held: `${check.docs} of ${check.want}${check.equal ? ", every change" : `, DIFFERENT: ${check.diffs.join(", ")}`}`,
      changes: pull.report.pulled, note: `1 \`groundwork sync\` (${pull.report.compacted} people compacted in it)`,
    });
    return exports;
  } finally {
    await relay.proxy.close();
    await stopServer(relay.server);
  }
}

async function oursFirstSync() {
  const dir = path.join(opt.work, "ours-first");
  const relay = await ourRelay(dir);
  try {
    const lead = path.join(dir, "lead");
    await gwJson(lead, ["join", "--relay", relay.url, "--invite", relay.leadInvite, "--name", "Team lead"]);
    const code = (await gwJson(lead, ["team", "invite", "--uses", "3"])).code;
    const old = path.join(dir, "old");
    await gwJson(old, ["join", "--relay", relay.url, "--invite", code, "--name", "Old phone"]);
    note(`ours, first sync: the demo generator writes ${TEAM_PEOPLE} people`);
    await gw(old, ["demo-data", "--people", String(TEAM_PEOPLE), "--seed", "1"]);
    const team = await ourExport(old);
    note("ours, first sync: the team's upload");
    const up = await ourSync(old, relay.proxy);
    rows.push({
      system: "Groundwork", workload: `first sync: the team's upload (one device, ${TEAM_PEOPLE} people)`, ms: up.ms,
      down: up.down, up: up.up, mem: peakMemory(relay.server.pid), held: `${team.people.length} people pushed`, changes: up.report.pushed,
    });
    const newDevice = async (name, label, noteText) => {
      const dev = path.join(dir, name);
      await gwJson(dev, ["join", "--relay", relay.url, "--invite", code, "--name", name]);
      note(`ours, first sync: ${name} pulls`);
      const pull = await ourSync(dev, relay.proxy);
      const check = sameRecords(await ourExport(dev), team);
      rows.push({
        system: "Groundwork", workload: label, ms: pull.ms, down: pull.down, up: pull.up, mem: peakMemory(relay.server.pid),
        held: `${check.docs} of ${check.want}${check.equal ? ", every change" : `, DIFFERENT: ${check.diffs.join(", ")}`}`,
        changes: pull.report.pulled, note: noteText,
      });
    };
    await newDevice("new-phone", `**first sync of a new device, ${TEAM_PEOPLE} people**`, "1 `groundwork sync`, before any compaction");
    note("ours, first sync: the lead takes the team in and compacts it");
    let compacted = 0;
    let syncs = 0;
    const t0 = performance.now();
    for (;;) {
      const r = await gwJson(lead, ["sync"], TIMEOUT_S * 1000);
      syncs += 1;
      compacted += r.compacted;
      if (r.compacted === 0 && syncs > 1) break;
      if (syncs > 20) throw new Error("the lead was still compacting after 20 syncs");
    }
    const compactMs = performance.now() - t0;
    await newDevice("newer-phone", `first sync of a new device, ${TEAM_PEOPLE} people, after the lead compacted`,
      `the lead compacted ${compacted} people in ${syncs} syncs, ${(compactMs / 1000).toFixed(1)} s`);
    return team;
  } finally {
    await relay.proxy.close();
    await stopServer(relay.server);
  }
}

// ---- automerge-repo ------------------------------------------------------------------------

const AM_CLIENT = path.join(here, "am-client.mjs");

async function amServer(dir) {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const server = startServer(process.execPath, [path.join(here, "am-server.mjs"), "--port", String(port), "--dir", path.join(dir, "server-storage")], path.join(dir, "server.log"));
  await waitForPort(port, server, "the automerge-repo server");
  const proxy = await startProxy(port);
  return { server, proxy, url: `ws://127.0.0.1:${proxy.port}` };
}

/** Runs an am-client mode; returns its JSON output, with the proxy's bytes meanwhile. */
async function amClient(mode, srv, dir, args) {
  const out = path.join(dir, `${mode}-${path.basename(args.dir)}.json`);
  const argv = [AM_CLIENT, mode, "--server", srv.url, "--out", out, "--timeout", String(TIMEOUT_S)];
  if (mode === "pull") argv.push("--batch", String(AM_FIND_BATCH));
  for (const [k, v] of Object.entries(args)) argv.push(`--${k}`, v);
  const before = srv.proxy.snapshot();
  const t0 = performance.now();
  await run(process.execPath, argv, { timeoutMs: (TIMEOUT_S + 120) * 1000, echo: true });
  const wallMs = performance.now() - t0;
  const after = srv.proxy.snapshot();
  return { ...JSON.parse(fs.readFileSync(out, "utf8")), wallMs, down: after.down - before.down, up: after.up - before.up };
}

/** How many unhandled rejections the automerge-repo server logged (see am-server.mjs). */
function rejections(dir) {
  const log = fs.readFileSync(path.join(dir, "server.log"), "utf8");
  return (log.match(/^unhandled rejection #/gm) ?? []).length;
}
const rejectionNote = (dir) => {
  const n = rejections(dir);
  return n ? `; the server logged ${n} unhandled rejections so far` : "";
};

function heldText(r) {
  if (r.complete) return `${r.held} of ${r.expected}, every change`;
  if (r.ms !== null) return `${r.held} of ${r.expected}: every document the index listed (${r.index_complete ? "the whole index" : "the server's index lacked the last upload"})`;
  return `${r.held} of ${r.expected}: TIMED OUT after ${TIMEOUT_S} s (${r.ready} found, ${r.unavailable} unavailable${r.index_complete === false ? "; the server's index lacked the last upload" : ""})`;
}

/** One writer's records, for am-client write. */
function recordsFile(dir, name, records, steps) {
  const f = path.join(dir, `${name}.records.json`);
  fs.writeFileSync(f, JSON.stringify({ steps, ...records }));
  return f;
}

async function amEndOfShift(exports) {
  const dir = path.join(opt.work, "am-shift");
  const srv = await amServer(dir);
  try {
    const index = await amClient("index", srv, dir, { dir: path.join(dir, "lead-setup") });
    const expect = { docs: {}, index_heads: null };
    const pushes = { ms: 0, down: 0, up: 0, changes: 0, held: 0, total: 0 };
    for (const [d, e] of exports.entries()) {
      note(`automerge-repo, end of shift: device ${d} writes and pushes`);
      const w = await amClient("write", srv, dir, {
        dir: path.join(dir, `device${d}`), index: index.url, records: recordsFile(dir, `device${d}`, e, "shift"),
      });
      Object.assign(expect.docs, w.docs);
      expect.index_heads = w.index_heads;
      pushes.ms += w.push_ms;
      pushes.down += w.down;
      pushes.up += w.up;
      pushes.changes += w.changes;
      pushes.held += w.held_by_server;
      pushes.total += w.total;
      if (!w.complete) note(`automerge-repo, end of shift: device ${d} timed out, the server holds ${w.held_by_server} of ${w.total}`);
    }
    const uploadMem = peakMemory(srv.server.pid);
    rows.push({
      system: "automerge-repo", workload: `end of shift: ${exports.length} devices push, one after another`, ms: pushes.ms,
      down: pushes.down, up: pushes.up, mem: uploadMem, changes: pushes.changes,
      held: `${Object.keys(expect.docs).length} people pushed${pushes.held === pushes.total ? "" : `, the server acknowledged ${pushes.held} of ${pushes.total} documents`}`,
      note: rejectionNote(dir).replace(/^; /, ""),
    });
    const expectFile = path.join(dir, "expect.json");
    fs.writeFileSync(expectFile, JSON.stringify(expect));
    note("automerge-repo, end of shift: the lead pulls");
    const pull = await amClient("pull", srv, dir, { dir: path.join(dir, "lead"), index: index.url, expect: expectFile });
    rows.push({
      system: "automerge-repo", workload: "**end of shift: the lead's pull**", ms: pull.ms ?? null, down: pull.down, up: pull.up,
      mem: peakMemory(srv.server.pid), held: heldText(pull), changes: pushes.changes,
      note: `index after ${fmtMs(pull.index_ms)}, then every document asked for ${AM_FIND_BATCH ? `${AM_FIND_BATCH} at a time` : "at once"}; the client process ran ${fmtMs(pull.wallMs)}${rejectionNote(dir)}`,
    });
  } finally {
    await srv.proxy.close();
    await stopServer(srv.server);
  }
}

async function amFirstSync(team) {
  const dir = path.join(opt.work, "am-first");
  const srv = await amServer(dir);
  try {
    const index = await amClient("index", srv, dir, { dir: path.join(dir, "lead-setup") });
    // One automerge-repo device writing 10,000 people slows down past about 2,000 (its
    // collector and Automerge's allocator take most of the time: over 12 minutes before
    // uploading anything, in a first try), so the team is uploaded by devices of
    // AM_WRITER_PEOPLE people each, one after another. Only the new device's pull is compared.
    const chunks = [];
    for (let i = 0; i < team.people.length; i += AM_WRITER_PEOPLE) {
      const people = team.people.slice(i, i + AM_WRITER_PEOPLE);
      const ids = new Set(people.map((p) => p.id));
      const first = i === 0;
      chunks.push({
        people,
        conversations: team.conversations.filter((c) => ids.has(c.person_id)),
        commitments: team.commitments.filter((c) => ids.has(c.person_id)),
        campaigns: first ? team.campaigns : [],
        shifts: first ? team.shifts : [],
      });
    }
    const expect = { docs: {}, index_heads: null };
    const up = { ms: 0, down: 0, up: 0, changes: 0, held: 0, total: 0 };
    for (const [k, chunk] of chunks.entries()) {
      note(`automerge-repo, first sync: device ${k + 1} of ${chunks.length} writes and pushes ${chunk.people.length} people`);
      const w = await amClient("write", srv, dir, { dir: path.join(dir, `old${k}`), index: index.url, records: recordsFile(dir, `old${k}`, chunk, "demo") });
      Object.assign(expect.docs, w.docs);
      expect.index_heads = w.index_heads;
      up.ms += w.push_ms;
      up.down += w.down;
      up.up += w.up;
      up.changes += w.changes;
      up.held += w.held_by_server;
      up.total += w.total;
      if (!w.complete) {
        note(`automerge-repo, first sync: device ${k + 1} timed out (the server acknowledged ${w.held_by_server} of ${w.total}); no more uploads`);
        break;
      }
    }
    rows.push({
      system: "automerge-repo", workload: `first sync: the team's upload (${chunks.length} devices of ${AM_WRITER_PEOPLE} people, one after another)`, ms: up.ms,
      down: up.down, up: up.up, mem: peakMemory(srv.server.pid), changes: up.changes,
      held: `${Object.keys(expect.docs).length} documents pushed${up.held === up.total ? "" : `; TIMED OUT: the server acknowledged ${up.held} of ${up.total} documents`}`,
      note: rejectionNote(dir).replace(/^; /, ""),
    });
    const w = { changes: up.changes };
    const expectFile = path.join(dir, "expect.json");
    fs.writeFileSync(expectFile, JSON.stringify(expect));
    note("automerge-repo, first sync: a new device pulls");
    const pull = await amClient("pull", srv, dir, { dir: path.join(dir, "new-phone"), index: index.url, expect: expectFile });
    rows.push({
      system: "automerge-repo", workload: `**first sync of a new device, ${team.people.length} people**`, ms: pull.ms ?? null,
      down: pull.down, up: pull.up, mem: peakMemory(srv.server.pid), held: heldText(pull), changes: w.changes,
      note: `index after ${fmtMs(pull.index_ms)}, then every document asked for ${AM_FIND_BATCH ? `${AM_FIND_BATCH} at a time` : "at once"}; the client process ran ${fmtMs(pull.wallMs)}${rejectionNote(dir)}`,
    });
  } finally {
    await srv.proxy.close();
    await stopServer(srv.server);
  }
}

// ---- the table -----------------------------------------------------------------------------

const fmtInt = (n) => Math.round(n).toLocaleString("en-GB");
const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${fmtInt(ms)} ms`);
const fmtMiB = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

function table() {
  const lines = [
    "| system | workload | time | bytes on the wire: down / up | server peak memory (VmHWM) | documents held (people, campaigns, shifts) | changes | notes |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    lines.push(`| ${r.system} | ${r.workload} | ${fmtMs(r.ms)} | ${fmtInt(r.down)} B / ${fmtInt(r.up)} B | ${fmtMiB(r.mem)} | ${r.held} | ${fmtInt(r.changes)} | ${r.note ?? ""} |`);
  }
  return lines.join("\n");
}

async function main() {
  const started = new Date();
  let failure = null;
  try {
    if (ONLY !== "first") {
      const exports = await oursEndOfShift(shiftScript());
      await amEndOfShift(exports);
    }
    if (ONLY !== "shift") {
      const team = await oursFirstSync();
      await amFirstSync(team);
    }
  } catch (err) {
    failure = err;
  }
  const text = `${table()}\n`;
  console.log(`\nSide by side, ${started.toISOString()}: ${TEAM_PEOPLE} people in the first sync, ${DEVICES} × ${PER_DEVICE} at the end of a shift, client timeout ${TIMEOUT_S} s\n`);
  console.log(text);
  if (opt.results) fs.writeFileSync(opt.results, JSON.stringify({ started, TEAM_PEOPLE, DEVICES, PER_DEVICE, TIMEOUT_S, rows }, null, 2));
  if (failure) {
    console.error(`bench: failed: ${failure.stack ?? failure}`);
    process.exit(1);
  }
}

main();
