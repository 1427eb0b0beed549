// The import rules of README's "Project layout" (DESIGN.md's "Folders", with files/ and the
// exceptions below), held by construction: every source file's imports are read and each
// folder may reach only what its row allows; the folders' graph has no cycle. A rule broken
// names the file, the import and the rule.
//
//   models/      tfjs, the WebGPU bindings, node; datasets/asar-unpacked.ts (paths in the packaged app)
//   datasets/    sharp and the archive and image libraries, tfjs, node; files/
//   files/       node only
//   protocol/    zod; the models' pure lists (which import nothing but each other); no node
//   electron/trainer/  models, datasets, files, protocol, node and its libraries; never electron or the UI
//   electron/main/, electron/preload/  electron, node, protocol; main also the preload's API and channel
//                      names (the IPC contract) and models/webgpu-adapter.ts (an adapter described in words)
//   renderer/src/      protocol, the preload's API types, svelte and uPlot (zod only to set it up); never node,
//                      models, datasets or the trainer; except the GPU host page (renderer/src/gpu-host),
//                      which is where the trainer's compute core runs on Chromium's WebGPU
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, normalize, resolve } from 'node:path';
import ts from 'typescript';
import { expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '..');

const PURE_MODELS = ['models/activations/registry.ts', 'models/lightcnn-architectures.ts', 'models/lightcnn-blocks.ts', 'models/initializer-names.ts'];
/** The pure models are a folder of their own here: protocol/ (and so the renderer) bundles them, so they import nothing but each other. */
const PURE = 'models (pure lists)';

/** The folder a repository path belongs to, as the rules name them. */
function folderOf(path: string): string | null {
  if (PURE_MODELS.includes(path)) return PURE;
  for (const folder of ['electron/trainer', 'electron/main', 'electron/preload', 'renderer/src/gpu-host', 'renderer/src', 'models', 'datasets', 'files', 'protocol']) {
    if (path === folder || path.startsWith(`${folder}/`)) return folder;
  }
  return null;
}

interface Rule {
  /** Folders (or single files) this folder may import from. */
  readonly folders: readonly string[];
  /** npm packages (and node: builtins when 'node:' is listed). */
  readonly packages: readonly string[];
  /** Type-only imports allowed beyond these (they leave nothing in a bundle). */
  readonly types?: readonly string[];
  /** Folders this one may not reach even where `folders` would allow it. */
  readonly except?: readonly string[];
  /** Packages only these files of the folder may use. */
  readonly packageFiles?: Readonly<Record<string, readonly string[]>>;
}

const NODE = 'node:';
const RULES: Record<string, Rule> = {
  [PURE]: { folders: PURE_MODELS, packages: [] },
  models: { folders: ['models', 'datasets/asar-unpacked.ts'], packages: [NODE, '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', '@webgpu/types'] },
  datasets: { folders: ['datasets', 'files'], packages: [NODE, '@tensorflow/tfjs', 'sharp', 'tar', 'yauzl', 'image-size', 'env-paths', 'zod'] },
  files: { folders: ['files'], packages: [NODE] },
  protocol: { folders: ['protocol', ...PURE_MODELS], packages: ['zod'], types: ['models'] },
  // pickleparser, yauzl and yazl read and write PyTorch checkpoints; onnx-proto writes ONNX (electron/trainer/interchange).
  'electron/trainer': { folders: ['electron/trainer', 'models', 'datasets', 'files', 'protocol'], packages: [NODE, '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', 'commander', 'cli-progress', 'ws', 'zod', 'tar', 'pickleparser', 'yauzl', 'yazl', 'onnx-proto'] },
  // The preload's API and channel names are the IPC contract; webgpu-adapter.ts describes an adapter in words (pure, no tfjs).
  'electron/main': { folders: ['electron/main', 'protocol', 'electron/preload/api.ts', 'electron/preload/channels.ts', 'models/webgpu-adapter.ts'], packages: [NODE, 'electron', 'zod'] },
  'electron/preload': { folders: ['electron/preload', 'protocol'], packages: ['electron'] },
  // zod only where the renderer sets zod up (no schema of its own: the protocol's are the schemas); the preload's API as types only.
  'renderer/src': {
    folders: ['renderer/src', 'protocol'],
    types: ['electron/preload/api.ts'],
    except: ['renderer/src/gpu-host'],
    packages: ['svelte', 'uplot', 'zod'],
    packageFiles: { zod: ['renderer/src/zod-jitless.ts'] },
  },
  'renderer/src/gpu-host': { folders: ['renderer/src', 'protocol', 'electron/preload/gpu-host-api.ts', 'electron/preload/channels.ts', 'electron/trainer/training', 'electron/trainer/probes', 'electron/trainer/gpu-host', 'models', 'datasets'], packages: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', 'zod'] },
};

function packageOf(specifier: string): string {
  if (specifier.startsWith(NODE)) return NODE;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** A relative or #protocol import as a repository path (extension as written, or .ts added). */
function targetOf(file: string, specifier: string): string | null {
  if (specifier.startsWith('#protocol/')) return `protocol/${specifier.slice('#protocol/'.length)}.ts`;
  if (!specifier.startsWith('.')) return null;
  const path = normalize(join(dirname(file), specifier));
  return /\.(ts|js|mjs|svelte|json|css|html)$/.test(path) ? path : `${path}.ts`;
}

function allowed(rule: Rule, target: string, typeOnly: boolean): boolean {
  const inFolder = (entry: string) => target === entry || target.startsWith(`${entry.replace(/\.ts$/, '')}/`) || target.replace(/\.ts$/, '') === entry.replace(/\.ts$/, '') || target.startsWith(`${entry}/`);
  return rule.folders.some(inFolder) || (typeOnly && (rule.types ?? []).some(inFolder));
}

const sources = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.svelte', '*.js', '*.mjs'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '' && !/(^|\/)test\/|\.test\.ts$|^scratch\//.test(f) && existsSync(join(root, f)));

interface Import {
  readonly file: string;
  readonly specifier: string;
  readonly typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  let text = readFileSync(join(root, file), 'utf8');
  if (file.endsWith('.svelte')) text = [...text.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
  const out: Import[] = [];
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(node) ? (node.importClause?.isTypeOnly ?? false) : node.isTypeOnly;
      out.push({ file, specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push({ file, specifier: node.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ file, specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const imports = sources.flatMap(importsOf);

test('each folder imports only what DESIGN.md allows it', () => {
  const broken: string[] = [];
  for (const { file, specifier, typeOnly } of imports) {
    const folder = folderOf(file);
    const rule = folder ? RULES[folder] : undefined;
    if (!folder || !rule) continue;
    const target = targetOf(file, specifier);
    if (target === null) {
      const pkg = packageOf(specifier);
      const onlyIn = rule.packageFiles?.[pkg];
      if (!typeOnly && onlyIn && !onlyIn.includes(file)) broken.push(`${file} imports the package ${specifier}: in ${folder}/ only ${onlyIn.join(', ')} may`);
      else if (!(typeOnly || rule.packages.includes(pkg))) broken.push(`${file} imports the package ${specifier}: ${folder}/ may use ${rule.packages.join(', ')}`);
    } else if ((rule.except ?? []).some((e) => target.startsWith(`${e}/`)) || !allowed(rule, target, typeOnly)) {
      broken.push(`${file} imports ${target}: ${folder}/ may import ${rule.folders.join(', ')}`);
    }
  }
  expect(broken).toEqual([]);
});

test('the folders do not import each other in a cycle', () => {
  const top = (path: string) => {
    const folder = folderOf(path);
    return folder === 'renderer/src/gpu-host' ? 'renderer/src' : folder;
  };
  const edges = new Map<string, Set<string>>();
  for (const { file, specifier, typeOnly } of imports) {
    const target = targetOf(file, specifier);
    const from = top(file);
    const to = target ? top(target) : null;
    // The GPU host page is a second entry of the renderer's bundle: the compute core it imports is not the UI's.
    if (typeOnly || !from || !to || from === to || folderOf(file) === 'renderer/src/gpu-host') continue;
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from)!.add(to);
  }
  const cycles: string[] = [];
  const visiting: string[] = [];
  const done = new Set<string>();
  const walk = (node: string): void => {
    if (done.has(node)) return;
    const at = visiting.indexOf(node);
    if (at >= 0) {
      cycles.push([...visiting.slice(at), node].join(' -> '));
      return;
    }
    visiting.push(node);
    for (const next of edges.get(node) ?? []) walk(next);
    visiting.pop();
    done.add(node);
  };
  for (const node of edges.keys()) walk(node);
  expect(cycles).toEqual([]);
});

test('the rules see the imports they judge (a file of each folder is read)', () => {
  const seen = new Set(imports.map((i) => folderOf(i.file)));
  for (const folder of Object.keys(RULES)) expect(seen.has(folder), folder).toBe(true);
});
