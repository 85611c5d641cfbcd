// How long Chromium's OPFS takes for a commit's worth of write-ahead-log frames, written as
// SQLite writes them (a 24-byte frame header, then an 8 KiB page: two calls a frame) or
// gathered into one call, each followed by a flush: what gathering a commit's frames would
// save the phone's store worker (BENCHMARKS.md, "The phone's save: what its OPFS file costs").
//
//   node tests/ui/opfs-writes-bench.mjs [FRAMES]     (default 20 frames, 10 rounds each way)
//   CHROMIUM=path                                    the browser (default: /usr/bin/chromium)
//
// Serves a page and its worker on 127.0.0.1 (OPFS needs a secure context), runs the rounds in
// the worker, prints each round's times and the medians. Measures only; asserts nothing.

import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './common.mjs';

const FRAMES = Number(process.argv[2] || 20);
const ROUNDS = 10;

const page = `<!doctype html><title>opfs</title><script>
window.result = new Promise((done) => {
  const w = new Worker('/worker.js');
  w.onmessage = (e) => done(e.data);
});
</script>`;

const worker = `(async () => {
  const root = await navigator.storage.getDirectory();
  const file = await root.getFileHandle('wal.bin', { create: true });
  const h = await file.createSyncAccessHandle();
  const FRAMES = ${FRAMES};
  const header = new Uint8Array(24).fill(1);
  const pageBytes = new Uint8Array(8192).fill(7);
  const frame = 24 + 8192;
  const at = (i) => 32 + i * frame;
  // The file already as large as the rounds need (the log is reused after a checkpoint).
  for (let i = 0; i < FRAMES; i++) { h.write(header, { at: at(i) }); h.write(pageBytes, { at: at(i) + 24 }); }
  h.flush();
  const time = (f) => { const t = performance.now(); f(); return performance.now() - t; };
  const split = [];
  const gathered = [];
  const all = new Uint8Array(FRAMES * frame).fill(3);
  for (let r = 0; r < ${ROUNDS}; r++) {
    split.push([
      time(() => { for (let i = 0; i < FRAMES; i++) { h.write(header, { at: at(i) }); h.write(pageBytes, { at: at(i) + 24 }); } }),
      time(() => h.flush()),
    ]);
    gathered.push([time(() => h.write(all, { at: at(0) })), time(() => h.flush())]);
  }
  h.close();
  await root.removeEntry('wal.bin');
  postMessage({ split, gathered });
})().catch((e) => postMessage({ error: String(e) }));`;

const server = createServer((req, res) => {
  const body = req.url === '/worker.js' ? worker : page;
  res.writeHead(200, { 'content-type': req.url === '/worker.js' ? 'text/javascript' : 'text/html' });
  res.end(body);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const profile = mkdtempSync(join(tmpdir(), 'gw-opfs-bench-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const tab = context.pages()[0] || (await context.newPage());
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  const out = await tab.evaluate(() => window.result);
  if (out.error) throw new Error(out.error);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ms = (x) => `${x.toFixed(2)} ms`;
  for (const [name, rounds] of [[`${FRAMES} frames, two calls each`, out.split], [`${FRAMES} frames in one call`, out.gathered]]) {
    console.log(`${name}: writes ${rounds.map(([w]) => w.toFixed(2)).join(', ')} ms; flush ${rounds.map(([, f]) => f.toFixed(2)).join(', ')} ms`);
    console.log(`  median: writes ${ms(median(rounds.map(([w]) => w)))}, flush ${ms(median(rounds.map(([, f]) => f)))}`);
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
