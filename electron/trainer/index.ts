// The trainer process entry. Plain Node (no `electron` import): the app starts it with
// utilityProcess.fork, tests with child_process.fork, and `lab serve` runs the same host
// in-process behind a WebSocket server.
//
// - Under Electron's utilityProcess, main hands over one MessagePort per window
//   (a parentPort message `{type: 'connect'}` carrying the port); each port is a viewer,
//   which may name files only through grants: `{type: 'grant', grant, path, purpose}`
//   messages main sends after the user answered a native dialog. Every parent-port message,
//   both ways, is in protocol/parent-port.ts.
// - Also under utilityProcess, the GPU host: webgpu is Chromium's, in a hidden page main opens,
//   reached through gpu-host/host-link.ts (requests to main, and main's answers with one
//   MessagePort per compute core). Dawn cannot run here (Electron's V8 memory cage).
// - Under child_process.fork, the IPC channel itself is the viewer (fork with
//   `serialization: 'advanced'` so binary frames arrive as ArrayBuffers).
import * as tf from '@tensorflow/tfjs';
import { parseMainMessage, type TrainerToMain } from '#protocol/parent-port';
import { labDataDir } from '../../datasets/data-dir';
import { installFatalReport } from './fatal-report';
import { parentProcessConnection, portConnection, type PortLike } from './server/connection';
import { GpuHostLink } from './gpu-host/host-link';
import { LabHost } from './server/lab-host';
import { installShutdown } from './shutdown';

interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown; ports?: PortLike[] }) => void): void;
  postMessage(message: TrainerToMain): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
const gpuHost = parentPort ? new GpuHostLink({ send: (request) => parentPort.postMessage(request), log: (line) => console.error(line) }) : undefined;
// First, so that an error from here on reaches the crash banner. Only over Electron's parent
// port: under child_process.fork the IPC channel is a viewer's protocol connection, and the
// parent there reads stderr.
installFatalReport({ send: parentPort ? (report) => parentPort.postMessage(report) : null, exit: (code) => process.exit(code), log: (line) => console.error(line) });

tf.enableProdMode();
const host = new LabHost({ dataDir: labDataDir(), log: (line) => console.error(line), ...(gpuHost ? { gpuHost } : {}) });

/** Stops the run at the end of its step with a checkpoint (it stays resumable), then exits. */
const shutDown = installShutdown({ close: () => host.close(), exit: (code) => process.exit(code), log: (line) => console.error(line) });

if (parentPort) {
  parentPort.on('message', ({ data, ports }) => {
    if (gpuHost?.receive(data, ports)) return;
    const port = ports?.[0];
    // Checked against protocol/parent-port.ts: a malformed message is refused, naming its field.
    const parsed = parseMainMessage(data, port !== undefined);
    if (!parsed.ok) {
      parentPort.postMessage({ type: 'error', message: parsed.error });
      return;
    }
    const message = parsed.message;
    // A window names files only through grants: paths main got from native dialogs.
    if (message.type === 'connect' && port) host.addConnection(portConnection(port, undefined, { label: 'window port' }), { pathInput: 'dialog' });
    else if (message.type === 'grant') {
      const problem = host.grants.add(message);
      if (problem) parentPort.postMessage({ type: 'error', message: `bad grant from main: ${problem}` });
    } else if (message.type === 'shutdown') shutDown('shutdown message from main');
  });
  parentPort.postMessage({ type: 'ready', pid: process.pid });
} else if (process.send) {
  host.addConnection(parentProcessConnection());
  process.once('disconnect', () => shutDown('the parent process disconnected'));
} else {
  console.error('The trainer is started by the app or by tests; for the command line use: npm run lab -- --help');
  process.exit(2);
}
