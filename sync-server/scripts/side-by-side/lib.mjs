// Shared pieces of the side-by-side driver: a byte-counting TCP proxy, free ports, waiting for a
// port, child processes with clear failures, a server's peak memory.

import net from "node:net";
import fs from "node:fs";
import { spawn } from "node:child_process";

/** A TCP proxy on 127.0.0.1 forwarding to `targetPort`, counting payload bytes each way
 * (`up`: client to server, `down`: server to client). TCP/IP headers are not counted. */
export async function startProxy(targetPort) {
  const counts = { up: 0, down: 0, connections: 0 };
  const sockets = new Set();
  const server = net.createServer((client) => {
    counts.connections += 1;
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on("data", (b) => {
      counts.up += b.length;
    });
    upstream.on("data", (b) => {
      counts.down += b.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: server.address().port,
    counts,
    snapshot: () => ({ up: counts.up, down: counts.down }),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nobody listens on right now (the OS's choice). */
export async function freePort() {
  const s = net.createServer();
  await new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, "127.0.0.1", resolve);
  });
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Resolves once something accepts connections on `port`; fails after `timeoutMs`, or as soon
 * as `child` exits. */
export async function waitForPort(port, child, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`);
    }
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Peak resident memory (VmHWM) of process `pid`, in bytes. */
export function peakMemory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** A long-running child (a server) whose output goes to `logFile`. */
export function startServer(cmd, args, logFile, env = process.env) {
  const log = fs.openSync(logFile, "a");
  const child = spawn(cmd, args, { stdio: ["ignore", log, log], env });
  fs.closeSync(log);
  child.on("error", (err) => {
    console.error(`side-by-side: cannot start ${cmd}: ${err.message}`);
  });
  return child;
}

/** Stops a server started by `startServer` (SIGTERM, then SIGKILL after 10 s). */
export async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion; resolves with its stdout, rejects with its stderr when it
 * fails or runs longer than `timeoutMs`. With `echo`, its stderr is also passed on as it comes. */
export function run(cmd, args, { timeoutMs = 0, env = process.env, echo = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
    const out = [];
    const err = [];
    child.stdout.on("data", (b) => out.push(b));
    child.stderr.on("data", (b) => {
      err.push(b);
      if (echo) process.stderr.write(b);
    });
    let timer;
    if (timeoutMs > 0) timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(
            `${cmd} ${args.slice(0, 6).join(" ")}… failed (${signal ?? `exit ${code}`}):\n${stderr.trim() || stdout.trim()}`,
          ),
        );
    });
  });
}

/** A small deterministic generator (SplitMix64 on BigInt), for the end-of-shift script. */
export class SplitMix64 {
  constructor(seed) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }
  next() {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  below(n) {
    return Number(this.next() % BigInt(n));
  }
  pick(list) {
    return list[this.below(list.length)];
  }
}
