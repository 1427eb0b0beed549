// Files the packaged app loads by path from a thread or process of its own: their unpacked copies.
//
// In the packaged app the code and node_modules sit inside `resources/app.asar`, an archive
// that only Electron's patched fs and module loader can read. Files electron-builder.yml
// lists under `asarUnpack` are also written, as real files, beside it, under
// `resources/app.asar.unpacked/` at the same relative path. Anything that is handed a file
// path to open without Electron's asar support in between (a worker_threads script in the
// utility process, the files that script then reads, a path passed to another process,
// dlopen) must get the unpacked copy. Plain Node (the CLI, tests) has no `.asar` in its paths
// and gets its path back unchanged.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The first path segment that names an asar archive: `…/app.asar` followed by a separator. */
const ASAR_SEGMENT = /\.asar(?=[\\/])/;

/**
 * `path` inside an asar archive mapped to its twin in the archive's `.asar.unpacked` folder
 * when that twin exists; otherwise `path` itself (not in an archive, not unpacked, or plain
 * Node). An existing twin is only ever a file electron-builder unpacked, so the two hold the
 * same bytes.
 */
export function unpackedPath(path: string): string {
  if (!ASAR_SEGMENT.test(path)) return path;
  const twin = path.replace(ASAR_SEGMENT, '.asar.unpacked');
  return existsSync(twin) ? twin : path;
}

/** unpackedPath for a file: URL (a worker script's URL, resolved against import.meta.url); other URLs come back as they are. */
export function unpackedUrl(url: URL): URL {
  if (url.protocol !== 'file:') return url;
  const path = fileURLToPath(url);
  const mapped = unpackedPath(path);
  return mapped === path ? url : pathToFileURL(mapped);
}
