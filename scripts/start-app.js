// `npm start`, after the build: open the desktop app. When Electron cannot start
// (its binary is fetched on first run and needs the network; a Linux box may have
// no display), say why in one line and fall back to serve mode: the same UI in a
// browser, on 127.0.0.1, at the URL `lab serve` prints (DESIGN.md, "Processes").
// FACE_CNN_LAB_NO_SERVE=1 exits instead; FACE_CNN_LAB_PORT picks the port (0: any free one).
// FACE_CNN_LAB_TEST_NODE_VERSION, for tests only, stands in for this Node's version in the
// check against the electron package's engines (made before the first start's download).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..'); // absolute: Electron is given the project, not whatever '.' is
const firstLine = (text) => String(text).split('\n').find((line) => line.trim() !== '')?.trim() ?? 'unknown reason';

function cannotStart(reason, ...advice) {
  console.error(`Face CNN Lab: the desktop window cannot open: ${reason}.`);
  for (const line of advice) console.error(line);
  if (process.env.FACE_CNN_LAB_NO_SERVE === '1') {
    console.error('The headless lab works without it: npm run lab -- --help (e.g. npm run lab -- data inspect synthetic).');
    process.exit(1);
  }
  console.error('Serving the lab to your browser instead (Ctrl+C stops; the headless lab: npm run lab -- --help).');
  const serve = spawn(process.execPath, ['--import', 'tsx', join(root, 'electron/trainer/cli/main.ts'), 'serve', '--port', process.env.FACE_CNN_LAB_PORT ?? '7860'], { stdio: 'inherit', cwd: root });
  // Ctrl+C reaches the child too (same process group); a signal sent to this process alone is
  // passed on. Either way the child checkpoints any run and exits, and so do we.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => serve.kill(signal));
  serve.on('exit', (code) => process.exit(code ?? 1));
}

function startElectron() {
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return cannotStart('there is no display (DISPLAY and WAYLAND_DISPLAY are unset)');
  }

  // Electron 42+ downloads its binary on first run; do that here, quietly, so a
  // failure is one line instead of the downloader's stack trace.
  const electronPackage = dirname(require.resolve('electron/package.json'));
  const pathFile = join(electronPackage, 'path.txt');
  const installed = existsSync(pathFile) && existsSync(join(electronPackage, 'dist', readFileSync(pathFile, 'utf8')));
  if (!installed && !process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    // The downloader (@electron/get) declares a newer Node than the lab's own: say so instead
    // of letting the download fail and look like a network problem. An installed binary runs
    // its own Node, so this Node's version matters only here.
    const { version: electronVersion, engines } = JSON.parse(readFileSync(join(electronPackage, 'package.json'), 'utf8'));
    const needed = minimumVersion(engines?.node);
    const found = process.env.FACE_CNN_LAB_TEST_NODE_VERSION || process.versions.node;
    if (needed && olderThan(found, needed)) {
      return cannotStart(`downloading Electron ${electronVersion}'s binary needs Node ${needed} or later (its package's engines: ${engines.node}), and this is Node ${found}`, 'Install a newer Node (e.g. the current LTS) and run npm start again; serve mode and the headless lab run on this one.');
    }
    console.error("Downloading Electron's binary (first start only)...");
    const download = spawnSync(process.execPath, [join(electronPackage, 'install.js')], { encoding: 'utf8' });
    if (download.status !== 0) {
      const cause = firstLine((download.stderr || download.stdout || '').split('\n').filter((line) => !/^\s+at /.test(line)).join('\n'));
      return cannotStart(`Electron's binary could not be downloaded (${cause}); it needs the network once`);
    }
  }
  const electronPath = require('electron');

  // ELECTRON_RUN_AS_NODE, inherited from a shell or a tool that runs Electron as Node, would
  // make Electron run main as a plain Node script and no window would ever open.
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  const started = Date.now();
  const child = spawn(electronPath, [root], { stdio: 'inherit', env });
  // A SIGTERM sent to this process alone (a process manager, `timeout`) is passed on, so Electron
  // quits as asked (the trainer checkpoints) instead of being left running without us. SIGINT is
  // not: Ctrl+C reaches Electron itself (same process group), and a second SIGINT would make it
  // skip its graceful quit. But it must not end this process either: npm would return to the
  // prompt while Electron and the trainer are still quitting. We wait for Electron's exit.
  const passOn = () => child.kill('SIGTERM');
  const keepWaiting = () => {};
  process.on('SIGTERM', passOn);
  process.on('SIGINT', keepWaiting);
  const stopListening = () => {
    process.off('SIGTERM', passOn);
    process.off('SIGINT', keepWaiting);
  };
  child.on('error', (error) => {
    stopListening();
    cannotStart(`Electron did not start (${firstLine(error.message)})`);
  });
  child.on('exit', (code, signal) => {
    stopListening();
    const early = Date.now() - started < 10_000;
    if (signal === 'SIGINT' || signal === 'SIGTERM') {
      // A quit that was asked for: end the same way, so whoever sent it sees it honoured.
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(1), 1000);
      return;
    }
    // Dying within seconds is a failed start, not a user quitting: an error exit (a missing
    // library, a broken display) or any other signal.
    if (signal && early) return cannotStart(...earlySignal(signal, electronPath));
    if (code !== 0 && code !== null && early) return cannotStart(`Electron exited at start with code ${code}`);
    if (signal) console.error(`Face CNN Lab: Electron was ended by ${signal}.`);
    process.exit(signal ? 1 : (code ?? 0));
  });
}

/** Why Electron died by `signal` within seconds of its start, and the way out where there is one. */
function earlySignal(signal, electronPath) {
  // A Chromium fatal error crashes on purpose (IMMEDIATE_CRASH: SIGTRAP on x64 and arm64); the
  // usual one at a first launch on Ubuntu 23.10 and later is the sandbox's: the chrome-sandbox
  // npm downloaded is not setuid root.
  if (signal === 'SIGTRAP') {
    const advice = process.platform !== 'linux' ? [] : sandboxAdvice(join(dirname(electronPath), 'chrome-sandbox'));
    return [`Electron was ended at start by SIGTRAP (a Chromium fatal error; its own message is above)`, ...advice];
  }
  if (signal === 'SIGKILL') return ['Electron was killed at start by SIGKILL (out of memory, or by another program)'];
  return [`Electron was ended at start by ${signal} (a fatal error; Chromium's own message is above)`];
}

/** The lowest version a `>=` range (as in package.json's engines) allows, or null when it names none. */
function minimumVersion(range) {
  const match = /^\s*>=?\s*v?(\d+(?:\.\d+){0,2})/.exec(String(range ?? ''));
  return match ? match[1] : null;
}

/** Whether version `a` (x.y.z) is older than `b`; a missing part counts as 0. */
function olderThan(a, b) {
  const parts = (version) => String(version).replace(/^v/, '').split(/[.-]/).slice(0, 3).map((part) => Number.parseInt(part, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  return false;
}

function sandboxAdvice(sandbox) {
  return [
    'On Linux the usual cause is Chromium\'s sandbox (its message above then names the "SUID sandbox helper"). Either make the helper setuid root:',
    `  sudo chown root ${sandbox} && sudo chmod 4755 ${sandbox}`,
    'or, where AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later), allow them until the next boot:',
    '  sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0',
  ];
}

startElectron();
