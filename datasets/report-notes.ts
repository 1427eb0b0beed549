// What the import report says beyond "imported" and "skipped": the reasons files were
// skipped, grouped (one line per reason, with counts and examples, instead of one line
// per file), and the imported images worth a look, by name: those whose file name says
// another kind of file than their content, and those whose size differs from the
// dataset's usual size.
import type { SkippedFile } from './errors';
import type { ImageFormat } from './sniff';

// ---------------------------------------------------------------------------
// Skipped files, grouped by reason

export interface ReasonGroup {
  readonly reason: string;
  readonly count: number;
  /** The first paths with this reason, in the report's order. */
  readonly examples: readonly string[];
}

/** Skipped files grouped by their reason, most frequent first (ties: first met first), with up to `examples` paths each. */
export function groupByReason(skipped: readonly SkippedFile[], examples = 3): ReasonGroup[] {
  const groups = new Map<string, { count: number; examples: string[]; first: number }>();
  skipped.forEach((file, i) => {
    let group = groups.get(file.reason);
    if (group === undefined) {
      group = { count: 0, examples: [], first: i };
      groups.set(file.reason, group);
    }
    group.count++;
    if (group.examples.length < examples) group.examples.push(file.path);
  });
  return [...groups]
    .sort((a, b) => b[1].count - a[1].count || a[1].first - b[1].first)
    .map(([reason, group]) => ({ reason, count: group.count, examples: group.examples }));
}

// ---------------------------------------------------------------------------
// Imported images worth a look

/** An imported image the user may want to look at, and why. */
export interface ImageNotice {
  readonly path: string;
  /** name: the file name says another kind of file than the content; size: not the dataset's usual size. */
  readonly kind: 'name' | 'size';
  readonly note: string;
}

export interface ImageNotes {
  /** The size most images have, when at least half of them have it; else null (sizes vary: none is singled out). */
  readonly usualSize: { readonly width: number; readonly height: number; readonly images: number } | null;
  /** Name-and-content disagreements first, then sizes, each in the images' order. */
  readonly notices: readonly ImageNotice[];
}

/** The image format(s) an extension names, lower case, without the dot. */
const IMAGE_EXTENSIONS: Record<string, readonly ImageFormat[]> = {
  jpg: ['jpeg'],
  jpeg: ['jpeg'],
  jpe: ['jpeg'],
  jfif: ['jpeg'],
  png: ['png'],
  gif: ['gif'],
  webp: ['webp'],
  tif: ['tiff'],
  tiff: ['tiff'],
  avif: ['avif', 'heif'],
  heif: ['heif', 'avif'],
  heic: ['heif', 'avif'],
  pgm: ['pgm'],
  ppm: ['ppm'],
  pnm: ['pgm', 'ppm'],
};

/** Extensions that name image formats the lab cannot read: still images, by name. */
const OTHER_IMAGE_EXTENSIONS = new Set(['bmp', 'dib', 'pbm', 'svg', 'ico', 'jp2', 'jxl', 'psd', 'raw', 'cr2', 'nef', 'dng']);

/**
 * Extensions of well-known kinds of files that are not images. Only these count as
 * "not an image's extension": the Yale faces are named `subject01.glasses`, and an
 * unknown ending says nothing.
 */
const NON_IMAGE_EXTENSIONS = new Set([
  'txt', 'md', 'csv', 'tsv', 'json', 'xml', 'yaml', 'yml', 'html', 'htm', 'pdf', 'doc', 'docx', 'rtf', 'odt',
  'xls', 'xlsx', 'ppt', 'pptx', 'mp4', 'm4v', 'mov', 'avi', 'mkv', 'webm', 'wmv', 'flv', 'mpg', 'mpeg', 'mp3',
  'wav', 'flac', 'ogg', 'aac', 'm4a', 'zip', 'gz', 'tgz', 'tar', 'bz2', 'xz', '7z', 'rar', 'exe', 'dll', 'so',
  'js', 'ts', 'py', 'sh', 'bat', 'ini', 'cfg', 'log', 'mat', 'npy', 'npz', 'pkl', 'h5', 'db', 'sqlite',
]);

/** The extension of a path's last segment, lower case, or '' (a leading dot is a hidden file's name, not an extension). */
export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** Whether a file named `path` is named like an image (by its extension). */
export function namedLikeImage(path: string): boolean {
  const ext = extensionOf(path);
  return ext in IMAGE_EXTENSIONS || OTHER_IMAGE_EXTENSIONS.has(ext);
}

const FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: 'a JPEG image',
  png: 'a PNG image',
  gif: 'a GIF image',
  webp: 'a WebP image',
  tiff: 'a TIFF image',
  avif: 'an AVIF image',
  heif: 'a HEIF image',
  pgm: 'a PGM image',
  ppm: 'a PPM image',
};

/** Why the name of an image holding `format` disagrees with its content, or null when it does not. */
export function nameContentMismatch(path: string, format: ImageFormat): string | null {
  const ext = extensionOf(path);
  const holds = FORMAT_NAMES[format];
  const named = IMAGE_EXTENSIONS[ext];
  if (named !== undefined) return named.includes(format) ? null : `named .${ext} but holds ${holds}`;
  if (OTHER_IMAGE_EXTENSIONS.has(ext)) return `named .${ext} but holds ${holds}`;
  if (NON_IMAGE_EXTENSIONS.has(ext)) return `named .${ext}, not an image's extension, but holds ${holds}; imported by its content`;
  return null;
}

/** The notes on `images` (as the cache index holds them): names that disagree with content, sizes that differ from the usual one. */
export function imageNotes(images: readonly { readonly relPath: string; readonly format: ImageFormat | 'synthetic'; readonly width: number; readonly height: number }[]): ImageNotes {
  const notices: ImageNotice[] = [];
  for (const image of images) {
    if (image.format === 'synthetic') continue;
    const note = nameContentMismatch(image.relPath, image.format);
    if (note !== null) notices.push({ path: image.relPath, kind: 'name', note });
  }
  const counts = new Map<string, number>();
  for (const image of images) counts.set(`${image.width}x${image.height}`, (counts.get(`${image.width}x${image.height}`) ?? 0) + 1);
  let usual: [string, number] | null = null;
  for (const entry of counts) if (usual === null || entry[1] > usual[1]) usual = entry;
  if (usual === null || usual[1] * 2 < images.length) return { usualSize: null, notices };
  const [usualText, usualCount] = usual;
  const [width, height] = usualText.split('x').map(Number) as [number, number];
  for (const image of images) {
    if (image.width === width && image.height === height) continue;
    notices.push({ path: image.relPath, kind: 'size', note: `${image.width}x${image.height}, not the usual ${usualText}` });
  }
  return { usualSize: { width, height, images: usualCount }, notices };
}
