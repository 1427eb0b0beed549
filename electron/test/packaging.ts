// electron-builder's own view of electron-builder.yml, for tests that cannot package (packaging
// needs Electron's binary): which files ship (`files`), which of them are unpacked beside
// app.asar (`asarUnpack`), and which installed packages electron-builder would ship at all
// (the production dependency tree). The configuration is loaded and the globs are matched by
// app-builder-lib's own code (the same getConfig, FileMatcher and filter that `electron-builder`
// runs), not by a re-implementation of its rules.
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, sep } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');

type Filter = (file: string, stat: Stats & { moduleFullFilePath?: string }) => boolean;
interface Matcher {
  isEmpty(): boolean;
  createFilter(): Filter;
}
interface FileMatcherModule {
  getFileMatchers(config: object, name: 'asarUnpack', destination: string, options: { macroExpander: (s: string) => string; customBuildOptions: object; globalOutDir: string; defaultSrc: string }): Matcher[] | null;
  getMainFileMatchers(appDir: string, destination: string, macroExpander: (s: string) => string, platformOptions: object, platformPackager: object, outDir: string, isElectronCompile: boolean): Matcher[];
  getNodeModuleFileMatcher(appDir: string, destination: string, macroExpander: (s: string) => string, platformOptions: object, packager: object): Matcher;
}
interface ConfigModule {
  getConfig(projectDir: string, configPath: string | null, configFromOptions: object | null): Promise<Record<string, unknown> & { directories?: { output?: string; buildResources?: string } }>;
}

const requireHere = createRequire(import.meta.url);

/** A stat for the filter: only isDirectory is read, and moduleFullFilePath for node_modules files. */
function fileStat(moduleFullFilePath?: string): Stats & { moduleFullFilePath?: string } {
  return Object.assign(Object.create(null) as Stats, { isDirectory: () => false, isFile: () => true, moduleFullFilePath });
}

export interface Packaging {
  /** Whether an app file (a path relative to the project, outside node_modules: `out/main/x.js`) ships. */
  shipsAppFile(relative: string): boolean;
  /** Whether a file of a shipped package (`node_modules/sharp/lib/index.js`) is left in by `files`' excludes. */
  shipsModuleFile(relative: string): boolean;
  /** Whether a shipped file (app or node_modules, relative to the project) is matched by asarUnpack. */
  unpacked(relative: string): boolean;
}

/** electron-builder.yml as electron-builder reads it, for one platform's options (`linux`, `mac`, `win`). */
export async function loadPackaging(platform: 'linux' | 'mac' | 'win' = 'linux'): Promise<Packaging> {
  const { getConfig } = requireHere('app-builder-lib/out/util/config/config.js') as ConfigModule;
  const matchers = requireHere('app-builder-lib/out/fileMatcher.js') as FileMatcherModule;
  const config = await getConfig(root, null, null);
  const platformOptions = (config[platform] ?? {}) as object;
  const expand = (s: string) => s;
  const outDir = resolve(root, config.directories?.output ?? 'dist');
  const destination = join(outDir, 'app');
  const info = { projectDir: root, buildResourcesDir: resolve(root, config.directories?.buildResources ?? 'build'), isPrepackedAppAsar: false, config, debugLogger: { isEnabled: false } };

  const main = matchers.getMainFileMatchers(root, destination, expand, platformOptions, { info }, outDir, false);
  const mainFilters = main.map((m) => m.createFilter());
  const moduleMatcher = matchers.getNodeModuleFileMatcher(root, destination, expand, platformOptions, info);
  const moduleFilter = moduleMatcher.isEmpty() ? null : moduleMatcher.createFilter();
  const unpack = matchers.getFileMatchers(config, 'asarUnpack', destination, { macroExpander: expand, customBuildOptions: platformOptions, globalOutDir: outDir, defaultSrc: root });
  const unpackFilter = unpack?.[0]?.createFilter() ?? null;

  const isModuleFile = (relative: string) => relative.startsWith('node_modules/');
  return {
    shipsAppFile: (relative) => !isModuleFile(relative) && mainFilters.some((filter) => filter(join(root, relative), fileStat())),
    shipsModuleFile: (relative) => isModuleFile(relative) && (moduleFilter === null || moduleFilter(join(root, relative), fileStat(relative))),
    unpacked: (relative) => unpackFilter !== null && unpackFilter(join(root, relative), fileStat(isModuleFile(relative) ? relative : undefined)),
  };
}

interface LockPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies?: Record<string, string> };

/** Where Node would find package `name` required from the package at lock key `from` ('' = the project). */
function locate(name: string, from: string): string | null {
  let dir = from;
  for (;;) {
    const key = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (lock.packages[key] !== undefined) return key;
    if (dir === '') return null;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

/** Lock keys (`node_modules/a`, `node_modules/a/node_modules/b`) of `roots` and everything they depend on. */
export function packageClosure(roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = roots.map((name) => locate(name, ''));
  while (todo.length > 0) {
    const key = todo.pop();
    if (key == null || seen.has(key)) continue;
    seen.add(key);
    const entry = lock.packages[key] ?? {};
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) todo.push(locate(name, key));
  }
  return seen;
}

/** The project's production dependencies (what electron-builder ships: dependencies and optionalDependencies, not devDependencies). */
export const productionRoots = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.optionalDependencies ?? {})];

/** Files of the installed package at lock key `key`, relative to the project (`/` separators), without its own nested packages; none when not installed here. */
export function packageFiles(key: string): string[] {
  const files: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(child);
      } else if (entry.isFile()) files.push(child);
    }
  };
  try {
    if (!statSync(join(root, key)).isDirectory()) return [];
  } catch {
    return []; // an optional package for another platform
  }
  walk(key);
  return files.map((file) => file.split(sep).join('/'));
}
