// The trainer process entry. Plain Node (no `electron` import): the app starts it
// with utilityProcess.fork, tests with child_process.fork. The message protocol
// grows in later releases; today it announces itself and answers `ping`.
import { PROTOCOL_VERSION } from './version';

interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

function connect(): { post: (message: unknown) => void; onMessage: (fn: (m: unknown) => void) => void } | null {
  // Electron's utilityProcess exposes process.parentPort; child_process.fork gives process.send.
  const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
  if (parentPort) {
    return {
      post: (m) => parentPort.postMessage(m),
      onMessage: (fn) => parentPort.on('message', (e) => fn(e.data)),
    };
  }
  if (process.send) {
    const send = process.send.bind(process);
    return { post: (m) => send(m), onMessage: (fn) => process.on('message', fn) };
  }
  return null;
}

const channel = connect();
if (!channel) {
  console.error('The trainer is started by the app or by tests; for the command line use: npm run lab -- --help');
  process.exit(2);
}
channel.onMessage((message) => {
  const type = (message as { type?: unknown } | null)?.type;
  if (type === 'ping') channel.post({ type: 'pong', protocol: PROTOCOL_VERSION });
  else channel.post({ type: 'error', message: `unknown message type: ${String(type)}` });
});
channel.post({ type: 'ready', protocol: PROTOCOL_VERSION, pid: process.pid });
