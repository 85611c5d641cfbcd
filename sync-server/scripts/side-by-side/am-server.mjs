// A minimal automerge-repo sync server: a Repo with a WebSocket server network adapter and
// NodeFS storage, announcing nothing and serving any document a client asks for by id (what
// automerge-repo's sync server does). Runs in its own process so that its memory can be read.
//
//   node am-server.mjs --port PORT --dir DIR
//
// Prints "listening 127.0.0.1:PORT" on stdout once it accepts connections; stops on SIGTERM.

import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";

const { values } = parseArgs({
  options: { port: { type: "string" }, dir: { type: "string" } },
});
if (!values.port || !values.dir) {
  console.error("am-server: usage: node am-server.mjs --port PORT --dir DIR");
  process.exit(2);
}

const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(values.port) });
wss.on("error", (err) => {
  console.error(`am-server: ${err.message}`);
  process.exit(1);
});
const repo = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(values.dir),
  // A server announces no document to anybody; it answers requests for any id.
  sharePolicy: async () => false,
});
wss.on("listening", () => console.log(`listening 127.0.0.1:${values.port}`));

// automerge-repo 2.5.6 can reject a promise nobody awaits when a document takes over 60 s to be
// ready (DocSynchronizer.beginSync awaits DocHandle.whenReady, whose timeout is 60 s). Node
// ends a process on an unhandled rejection, and so did this server, once, under the 10,000-person
// upload (automerge-repo's own sync server has no handler either). It is logged and counted
// here instead, so that the run can go on; the driver reports the count.
let rejections = 0;
process.on("unhandledRejection", (err) => {
  rejections += 1;
  console.error(`unhandled rejection #${rejections}: ${err?.message ?? err}`);
});

process.on("SIGTERM", async () => {
  try {
    await repo.flush();
  } finally {
    process.exit(0);
  }
});
