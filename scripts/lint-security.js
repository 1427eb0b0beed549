// `npm run lint:security`: Electronegativity (Doyensec's Electron security linter) over the
// app's code, failing on any HIGH-severity finding.
//
// - Its command line does not start here ("_commander2.default.version is not a function":
//   it needs commander 2 and gets the project's commander 14), so this uses its programmatic
//   API, dist/runner.js `run(options)`, which the CLI calls too.
// - It fetches translations and Electron's release list from the network. A security lint in
//   `npm test` must give the same answer offline, so those requests fail at once instead: the
//   bundled en-US texts are used, and the "newer Electron with security fixes" check reports
//   nothing (it reports that as INFORMATIONAL for a devDependency anyway; `npm outdated`
//   answers it). LINT_SECURITY_ONLINE=1 lets them through.
// - It scans one folder; the app is electron/ and renderer/ together (the global checks,
//   e.g. "is navigation limited anywhere", need both), so they are copied with package.json
//   (the Electron version) into a temporary folder and scanned there. Paths are reported as
//   in the repository. .svelte files are not read by it (it knows .js/.ts/.html/.json only);
//   the renderer's security-relevant settings are in index.html and electron/.
//
// No check is excluded. Exit code: 1 on a HIGH finding or a file it could not parse, else 0.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('@doyensec/electronegativity/package.json'));
const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));

const SCANNED = ['electron', 'renderer'];
const online = process.env.LINT_SECURITY_ONLINE === '1';

if (!online) {
  // `got` as Electronegativity sees it: every request fails at once, as if offline.
  const offline = () => Promise.reject(new Error('offline: lint:security makes no network requests (LINT_SECURITY_ONLINE=1 allows them)'));
  offline.head = offline;
  offline.get = offline;
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    if (request === 'got' && parent?.filename?.startsWith(packageDir)) return offline;
    return load.call(this, request, parent, isMain);
  };
}

// Its own progress lines about those requests are noise here (we say it once, below).
const quiet = [/^Could not retrieve updated translations/, /^Fetching Electron's new releases/, /Something went wrong while fetching Electron's releases/];
const log = console.log;
console.log = (...args) => {
  if (!online && typeof args[0] === 'string' && quiet.some((pattern) => pattern.test(args[0]))) return;
  log(...args);
};

const run = require('@doyensec/electronegativity');

const staging = mkdtempSync(join(tmpdir(), 'face-cnn-lab-electronegativity-'));
let exitCode = 0;
try {
  for (const folder of SCANNED) {
    cpSync(join(root, folder), join(staging, folder), { recursive: true, filter: (source) => !/(^|[\\/])node_modules([\\/]|$)/.test(relative(root, source)) });
  }
  cpSync(join(root, 'package.json'), join(staging, 'package.json'));
  const electronVersion = require('electron/package.json').version;

  const result = await run({ input: staging, isRelative: true, electronVersionOverride: electronVersion }, false);
  console.log = log;

  const order = ['HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL'];
  const issues = [...result.issues].sort((a, b) => order.indexOf(a.severity.name) - order.indexOf(b.severity.name) || String(a.file).localeCompare(String(b.file)));
  const count = (name) => issues.filter((issue) => issue.severity.name === name).length;

  console.log(`Electronegativity ${version} over ${SCANNED.map((f) => `${f}/`).join(' and ')} (Electron ${electronVersion}): ${result.globalChecks + result.atomicChecks} checks${online ? '' : ', offline'}`);
  console.log(`  ${order.map((name) => `${count(name)} ${name}`).join(', ')}`);
  for (const issue of issues) {
    const where = issue.file === 'N/A' ? '(whole app)' : `${issue.file}:${issue.location.line}`;
    const review = issue.manualReview ? ' [review]' : '';
    console.log(`  ${issue.severity.name.padEnd(13)} ${issue.confidence.name.padEnd(9)} ${issue.id}${review}  ${where}`);
    // Its git.io short links died with git.io; the wiki page is the same text.
    console.log(`      ${String(issue.description).split('\n')[0]} (https://github.com/doyensec/electronegativity/wiki/${issue.id})`);
  }
  const unparsed = result.errors.filter((error) => !error.tolerable);
  for (const error of result.errors) console.log(`  ${error.tolerable ? 'warning' : 'ERROR'}: ${error.file.slice(staging.length + 1)}: ${error.message}`);

  if (count('HIGH') > 0) {
    console.error(`lint:security: ${count('HIGH')} HIGH-severity finding(s): fix them (see the Electron security checklist).`);
    exitCode = 1;
  } else if (unparsed.length > 0) {
    console.error(`lint:security: ${unparsed.length} file(s) could not be parsed, so were not checked.`);
    exitCode = 1;
  } else {
    console.log('lint:security: no HIGH-severity findings.');
  }
} finally {
  console.log = log;
  rmSync(staging, { recursive: true, force: true });
}
process.exitCode = exitCode;
