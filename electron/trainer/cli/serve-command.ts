// `lab serve [--port 7860] [--host 127.0.0.1]`: the trainer with a WebSocket server, so the
// lab's UI runs in a browser (a headless GPU box watched from a laptop; the end-to-end tests).
// Like Jupyter, the page and the socket need a random token, printed in the URL.
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { labDataDir } from '../../../datasets/data-dir';
import { BACKEND_ORDER, type BackendName } from '../../../models/backend';
import { LabHost } from '../server/lab-host';
import { DEFAULT_PORT, isLoopback, startServeServer } from '../server/ws-server';
import { printErr, printOut } from './terminal-text';

/** The built renderer (`npm run build` writes out/renderer), found from this file bundled or not. */
export function rendererDir(): string | null {
  let folder = dirname(fileURLToPath(import.meta.url));
  // Bundled: out/main/trainer.js, the renderer beside it in out/renderer. (Never the source
  // renderer/ folder: its index.html loads TypeScript a browser cannot run.)
  if (basename(folder) === 'main' && basename(dirname(folder)) === 'out') {
    const sibling = join(dirname(folder), 'renderer');
    if (existsSync(join(sibling, 'index.html'))) return sibling;
  }
  for (let i = 0; i < 6; i++) {
    const candidate = join(folder, 'out', 'renderer');
    if (existsSync(join(candidate, 'index.html'))) return resolve(candidate);
    folder = dirname(folder);
  }
  return null;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 (any free port) to 65535');
  return n;
}

function builtRendererDir(value: string): string {
  const folder = resolve(value);
  if (!existsSync(join(folder, 'index.html'))) throw new InvalidArgumentError(`${folder} holds no index.html: build the UI into it first`);
  return folder;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the trainer with its UI in a browser, on http://127.0.0.1 with a private token')
    .option('--port <n>', `port to listen on (0: any free port)`, port, DEFAULT_PORT)
    .option('--host <address>', 'address to listen on; anything but loopback lets other machines connect (with the token)', '127.0.0.1')
    .addOption(new Option('--backend <name>', 'force a backend instead of the best one that can train').choices([...BACKEND_ORDER]))
    .option('--token <token>', 'use this token instead of a random one (at least 8 characters; FACE_CNN_LAB_TOKEN does the same without showing it in the process list)')
    // The end-to-end tests build the UI into a folder of their own (a build into out/ may be under way in another test).
    .addOption(new Option('--renderer-dir <path>', 'serve the UI built in this folder instead of out/renderer').argParser(builtRendererDir).hideHelp())
    .action(async (flags: { port: number; host: string; backend?: BackendName; token?: string; rendererDir?: string }) => {
      const dataDir = labDataDir();
      const host = new LabHost({ dataDir, ...(flags.backend ? { backend: flags.backend } : {}), log: (line) => printErr(`${line}\n`) });
      const staticDir = flags.rendererDir ?? rendererDir();
      const token = flags.token ?? process.env['FACE_CNN_LAB_TOKEN'];
      const server = await startServeServer({
        host: flags.host,
        port: flags.port,
        ...(token ? { token } : {}),
        staticDir,
        onConnection: (connection) => host.addConnection(connection),
      });
      if (!isLoopback(flags.host))
        printErr(`warning: listening on ${flags.host}: other machines that can reach it may connect (they still need the token). Use a trusted network.\n`);
      if (!staticDir) printErr('note: the UI is not built, so the page only says so; run `npm run build` first. The WebSocket API works.\n');
      printOut(`Face CNN Lab is serving runs from ${dataDir}\nOpen: ${server.url}\n(Ctrl+C stops; a training run is checkpointed first.)\n`);
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          printOut('Stopping (a training run is checkpointed first)...\n');
          void host
            .close()
            .then((stopped) => {
              if (stopped) printOut(`Run ${stopped.runId} stopped at step ${stopped.step}, checkpointed: resume it in the Runs view, or with npm run lab -- resume ${stopped.runId}\n`);
              return server.close();
            })
            .finally(done);
        };
        // `on`, not `once`: a second Ctrl+C (or one passed on by npm start) must not kill the
        // process before the run's checkpoint is written.
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
