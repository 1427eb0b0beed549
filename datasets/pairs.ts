// Verification pairs in the format of LFW's pairs.txt: read, written, generated for
// any imported dataset, and resolved to image indices.
//
//   10	300                      header: <folds> <pairs of each kind per fold>
//   Abel_Pacheco	1	4          per fold: <n> matched lines   name n1 n2
//   ...
//   AJ_Cook	1	Marsha_Thomason	1   then <n> mismatched lines  name1 n1 name2 n2
//
// Image numbers are 1-based positions among an identity's images. LFW's own
// pairsDevTrain.txt / pairsDevTest.txt have a one-number header (`1100`): one fold.

import { DatasetError } from './errors';
import { Rng } from './random';
import { imagesByIdentity } from './splits';
import type { DatasetLayout } from './splits';

export type { DatasetLayout } from './splits';

export interface PairImage {
  /** Identity name, as in the dataset (folder name, or the part of the file name the rule picks). */
  readonly identity: string;
  /** 1-based position of the image among that identity's images. */
  readonly number: number;
}

export interface Pair {
  /** 0-based fold index (fold 0 is the file's first fold). */
  readonly fold: number;
  /** True when both images show the same identity. */
  readonly matched: boolean;
  readonly a: PairImage;
  readonly b: PairImage;
}

export interface PairsFile {
  readonly folds: number;
  /** Matched pairs per fold, and as many mismatched pairs. */
  readonly perFold: number;
  /** In file order: fold by fold, each fold's matched pairs then its mismatched ones. */
  readonly pairs: Pair[];
}

export interface GeneratedPairs extends PairsFile {
  /** What the generator had to change from what was asked, in sentences for the user. */
  readonly notes: string[];
}

export interface GeneratePairsOptions {
  /** Identity-disjoint folds (default 10, as LFW). */
  readonly folds?: number;
  /** Matched pairs per fold, and as many mismatched; default as many as every fold can supply, up to 300. */
  readonly perFold?: number;
  readonly seed: number;
}

/** Pairs as image indices of the dataset, index k = the file's k-th pair. */
export interface ResolvedPairs {
  readonly a: Int32Array;
  readonly b: Int32Array;
  /** 1 for a matched pair, 0 for a mismatched one. */
  readonly matched: Uint8Array;
  /** 0-based fold of each pair. */
  readonly fold: Int32Array;
}

/** LFW's number of pairs of each kind per fold. */
export const LFW_PAIRS_PER_FOLD = 300;

const FORMAT_REMEDY =
  'A pairs file starts with a header "<folds> <n>", then for each fold n matched lines "name n1 n2" ' +
  'followed by n mismatched lines "name1 n1 name2 n2" (fields separated by tabs or spaces, image numbers from 1), ' +
  'as in LFW\'s pairs.txt. Identity names cannot contain spaces in this format.';

// ---------------------------------------------------------------------------
// Reading

/**
 * Parses a pairs file in LFW's `pairs.txt` format. Fields may be separated by any
 * whitespace; blank lines are allowed only at the end, so that pair k is always on
 * line k + 2. `sourceName` (a path or file name) is named in errors.
 */
export function parsePairs(text: string, sourceName?: string): PairsFile {
  const lines = (text.startsWith('\uFEFF') ? text.slice(1) : text).split(/\r\n|\n|\r/);
  let end = lines.length;
  while (end > 0 && (lines[end - 1] as string).trim() === '') end--;
  if (end === 0) {
    throw new DatasetError('The pairs file is empty', FORMAT_REMEDY, sourceName);
  }
  const fail = (lineNumber: number, reason: string): never => {
    throw new DatasetError(`Line ${lineNumber}: ${reason}`, FORMAT_REMEDY, sourceName);
  };

  const headerLine = lines[0] as string;
  const header = fieldsOf(headerLine);
  const headerOk = (header.length === 1 || header.length === 2) && header.every((f) => /^\d+$/.test(f) && Number(f) >= 1);
  if (!headerOk) {
    fail(1, `expected the header "<folds> <pairs per fold>" (e.g. "10 300") or "<pairs>", found ${describe(headerLine)}`);
  }
  const folds = header.length === 2 ? Number(header[0]) : 1;
  const perFold = Number(header[header.length - 1]);
  if (!Number.isSafeInteger(folds * 2 * perFold)) fail(1, `the header promises an impossible number of pairs: ${describe(headerLine)}`);
  const expected = folds * 2 * perFold;

  const pairs: Pair[] = [];
  for (let i = 1; i < end; i++) {
    const lineNumber = i + 1;
    const line = lines[i] as string;
    const k = i - 1;
    if (k >= expected) {
      fail(
        lineNumber,
        `expected the end of the file after ${expected} pairs (the header says ${folds} fold${folds === 1 ? '' : 's'} ` +
          `of ${perFold} matched and ${perFold} mismatched pairs), found ${describe(line)}`,
      );
    }
    const fold = Math.floor(k / (2 * perFold));
    const within = k % (2 * perFold);
    const matched = within < perFold;
    const place = `(fold ${fold + 1}, ${matched ? 'matched' : 'mismatched'} pair ${(within % perFold) + 1} of ${perFold})`;
    const fields = fieldsOf(line);
    const wanted = matched ? 3 : 4;
    if (fields.length !== wanted) {
      fail(
        lineNumber,
        `expected a ${matched ? 'matched pair "name n1 n2"' : 'mismatched pair "name1 n1 name2 n2"'} ${place}, ` +
          `found ${fields.length === 0 ? 'an empty line' : `${fields.length} field${fields.length === 1 ? '' : 's'}: ${describe(line)}`}`,
      );
    }
    const number = (index: number): number => {
      const field = fields[index] as string;
      const value = Number(field);
      if (!/^\d+$/.test(field) || !Number.isSafeInteger(value) || value < 1) {
        fail(lineNumber, `expected an image number (1, 2, ...) in field ${index + 1} ${place}, found "${field}"`);
      }
      return value;
    };
    if (matched) {
      const identity = fields[0] as string;
      pairs.push({ fold, matched, a: { identity, number: number(1) }, b: { identity, number: number(2) } });
    } else {
      const a = { identity: fields[0] as string, number: number(1) };
      const b = { identity: fields[2] as string, number: number(3) };
      if (a.identity === b.identity) {
        fail(lineNumber, `a mismatched pair ${place} names the same identity "${a.identity}" twice`);
      }
      pairs.push({ fold, matched, a, b });
    }
  }
  if (pairs.length < expected) {
    throw new DatasetError(
      `The pairs file ends after line ${end} with ${pairs.length} pair${pairs.length === 1 ? '' : 's'}, but its header (line 1: ${describe(headerLine)}) ` +
        `promises ${expected}`,
      'The file may be truncated: download or generate it again, or correct the header.',
      sourceName,
    );
  }
  return { folds, perFold, pairs };
}

// ---------------------------------------------------------------------------
// Writing

/**
 * Writes pairs in LFW's `pairs.txt` format, tab-separated, one trailing newline.
 * `parsePairs(formatPairs(x))` deep-equals `x` for anything `parsePairs` or
 * `generatePairs` returned. Throws a DatasetError for an identity name the format
 * cannot hold (empty, or containing whitespace), and a RangeError when `pairs`
 * does not match `folds` x `perFold`.
 */
export function formatPairs(parsed: PairsFile): string {
  const { folds, perFold, pairs } = parsed;
  if (!Number.isSafeInteger(folds) || folds < 1 || !Number.isSafeInteger(perFold) || perFold < 1) {
    throw new RangeError(`folds and perFold must be positive integers, got ${folds} and ${perFold}`);
  }
  const buckets = Array.from({ length: folds * 2 }, (): Pair[] => []);
  for (const pair of pairs) {
    if (!Number.isInteger(pair.fold) || pair.fold < 0 || pair.fold >= folds) {
      throw new RangeError(`A pair is in fold ${pair.fold}, but there are ${folds} folds (numbered from 0)`);
    }
    (buckets[pair.fold * 2 + (pair.matched ? 0 : 1)] as Pair[]).push(pair);
  }
  buckets.forEach((bucket, i) => {
    if (bucket.length !== perFold) {
      throw new RangeError(
        `Fold ${Math.floor(i / 2)} has ${bucket.length} ${i % 2 === 0 ? 'matched' : 'mismatched'} pairs, expected ${perFold}`,
      );
    }
  });

  const out: string[] = [`${folds}\t${perFold}`];
  for (const bucket of buckets) {
    for (const { matched, a, b } of bucket) {
      checkName(a.identity);
      checkName(b.identity);
      checkNumber(a.number);
      checkNumber(b.number);
      if (matched) {
        if (a.identity !== b.identity) {
          throw new RangeError(`A matched pair joins two identities, "${a.identity}" and "${b.identity}"`);
        }
        out.push(`${a.identity}\t${a.number}\t${b.number}`);
      } else {
        if (a.identity === b.identity) {
          throw new RangeError(`A mismatched pair names the same identity "${a.identity}" twice`);
        }
        out.push(`${a.identity}\t${a.number}\t${b.identity}\t${b.number}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

function checkName(name: string): void {
  if (name.length === 0) {
    throw new DatasetError(
      'An identity has an empty name, which LFW\'s pairs.txt format cannot represent',
      'Give every identity a name (its folder name, or the part of the file name the identity rule picks).',
    );
  }
  if (/\s/.test(name)) {
    throw new DatasetError(
      `Identity "${name}" has whitespace in its name, which LFW's pairs.txt format cannot represent`,
      `Rename it without spaces, as LFW does ("${name.trim().replace(/\s+/g, '_')}"): rename its folder, ` +
        'or change the identity rule of a flat folder, then write the pairs file again.',
    );
  }
}

function checkNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Image numbers start at 1, got ${n}`);
}

// ---------------------------------------------------------------------------
// Generating

// Keys that keep the random streams of the generator's steps apart.
const FOLD_STREAM = 0xf01d;
const MATCHED_STREAM = 0x3a7c;
const MISMATCHED_STREAM = 0x3155;

/**
 * Generates a pairs protocol for a dataset, seeded: `folds` identity-disjoint
 * folds (identities are dealt to folds first, with equal numbers of identities
 * and as equal numbers of images as a greedy deal gives; a fold's pairs use only
 * its own identities), each with `perFold` matched and `perFold` mismatched
 * pairs, no pair twice. Matched pairs pick an identity uniformly, then two of its
 * images; mismatched pairs pick two identities uniformly, then one image of each;
 * so large identities do not crowd out the rest. Within a fold, pairs are sorted
 * (by identity id, then image number), like LFW's file.
 *
 * When a fold cannot supply `perFold` distinct pairs of each kind, every fold
 * gets the largest number all folds can supply, and `notes` says so. Throws a
 * DatasetError when an identity has exactly 1 image (it cannot give a matched
 * pair) or when there are fewer than 2 identities per fold.
 */
export function generatePairs(layout: DatasetLayout, options: GeneratePairsOptions): GeneratedPairs {
  const folds = options.folds ?? 10;
  if (!Number.isSafeInteger(folds) || folds < 1) {
    throw new DatasetError(
      `The number of folds must be a whole number of at least 1, got ${folds}`,
      'Use 10 folds, as LFW does, or fewer for a small dataset.',
    );
  }
  const asked = options.perFold;
  if (asked !== undefined && (!Number.isSafeInteger(asked) || asked < 1)) {
    throw new DatasetError(
      `The number of pairs per fold must be a whole number of at least 1, got ${asked}`,
      `Leave it out to get as many as the dataset allows, up to ${LFW_PAIRS_PER_FOLD} (LFW's number).`,
    );
  }

  const groups = imagesByIdentity(layout);
  const single = groups.flatMap((images, id) => (images.length === 1 ? [layout.identities[id] as string] : []));
  if (single.length > 0) {
    const first = single[0] as string;
    const others = single.length - 1;
    const shown = single.slice(1, 6).map((n) => `"${n}"`).join(', ');
    const also =
      others === 0 ? '' : `(and ${others} other${others === 1 ? '' : 's'}${others > 5 ? ', such as' : ':'} ${shown}) `;
    throw new DatasetError(
      `Identity "${first}" ${also}has only 1 image, ` +
        'so it cannot form a matched verification pair',
      `Add at least one more image of ${others > 0 ? 'each such identity' : 'this identity'}, or remove ` +
        `${others > 0 ? 'them' : 'it'} from the dataset, then generate the pairs again.`,
    );
  }
  const ids: number[] = [];
  groups.forEach((images, id) => {
    if (images.length >= 2) ids.push(id);
  });
  if (ids.length < 2 * folds) {
    const most = Math.floor(ids.length / 2);
    throw new DatasetError(
      `${folds} identity-disjoint folds need at least ${2 * folds} identities with 2 or more images ` +
        `(2 per fold, for mismatched pairs); this dataset has ${ids.length}`,
      most >= 1
        ? `Use at most ${most} fold${most === 1 ? '' : 's'}, or add images of more people.`
        : 'Add images of more people: at least 2 identities with 2 or more images each.',
    );
  }

  // Deal identities to folds: shuffled, then largest first, one per fold per round,
  // each to the fold of this round with the fewest images so far.
  const sizeOf = (id: number): number => (groups[id] as Int32Array).length;
  const dealRng = Rng.derive(options.seed, FOLD_STREAM);
  dealRng.shuffle(ids);
  ids.sort((x, y) => sizeOf(y) - sizeOf(x));
  const members: number[][] = Array.from({ length: folds }, () => []);
  const imageTotals = new Float64Array(folds);
  for (let start = 0; start < ids.length; start += folds) {
    const open = dealRng.shuffle(Array.from({ length: folds }, (_, f) => f));
    for (const id of ids.slice(start, start + folds)) {
      let best = 0;
      for (let o = 1; o < open.length; o++) {
        if ((imageTotals[open[o] as number] as number) < (imageTotals[open[best] as number] as number)) best = o;
      }
      const fold = open.splice(best, 1)[0] as number;
      (members[fold] as number[]).push(id);
      imageTotals[fold] = (imageTotals[fold] as number) + sizeOf(id);
    }
  }
  for (const m of members) m.sort((x, y) => x - y);

  // How many distinct pairs of each kind each fold can give.
  let supply = Infinity;
  let limit = { fold: 0, kind: 'matched', count: 0 };
  members.forEach((m, fold) => {
    let sum = 0;
    let sumSquares = 0;
    let matchedSupply = 0;
    for (const id of m) {
      const n = sizeOf(id);
      sum += n;
      sumSquares += n * n;
      matchedSupply += (n * (n - 1)) / 2;
    }
    const mismatchedSupply = (sum * sum - sumSquares) / 2;
    for (const [kind, count] of [['matched', matchedSupply], ['mismatched', mismatchedSupply]] as const) {
      if (count < supply) {
        supply = count;
        limit = { fold, kind, count };
      }
    }
  });
  if (supply < 1) {
    // Unreachable after the checks above (each fold has 2 identities of 2+ images), kept as a guard.
    throw new DatasetError(
      `Fold ${limit.fold + 1} cannot supply a single ${limit.kind} pair`,
      `Use fewer folds, or add images: at least ${2 * folds} identities with 2 or more images each.`,
    );
  }

  const notes: string[] = [];
  const target = asked ?? LFW_PAIRS_PER_FOLD;
  const perFold = Math.min(target, supply);
  if (perFold < target) {
    const m = members[limit.fold] as number[];
    const images = m.reduce((s, id) => s + sizeOf(id), 0);
    const why =
      `fold ${limit.fold + 1} (${m.length} identities, ${images} images) has only ${limit.count} distinct ${limit.kind} pairs`;
    notes.push(
      asked === undefined
        ? `Each fold has ${perFold} matched and ${perFold} mismatched pairs, fewer than LFW's ${LFW_PAIRS_PER_FOLD}: ${why}.`
        : `Asked for ${asked} matched and ${asked} mismatched pairs per fold, but ${why}; ` +
            `each fold has ${perFold} of each kind instead.`,
    );
  }

  const name = (id: number): string => layout.identities[id] as string;
  const pairs: Pair[] = [];
  members.forEach((m, fold) => {
    const sizes = m.map(sizeOf);
    const matched = sampleMatched(sizes, perFold, Rng.derive(options.seed, MATCHED_STREAM, fold));
    const mismatched = sampleMismatched(sizes, perFold, Rng.derive(options.seed, MISMATCHED_STREAM, fold));
    for (const [x, i, y, j] of matched) {
      pairs.push({ fold, matched: true, a: { identity: name(m[x] as number), number: i + 1 }, b: { identity: name(m[y] as number), number: j + 1 } });
    }
    for (const [x, i, y, j] of mismatched) {
      pairs.push({ fold, matched: false, a: { identity: name(m[x] as number), number: i + 1 }, b: { identity: name(m[y] as number), number: j + 1 } });
    }
  });
  return { folds, perFold, pairs, notes };
}

/** A pair as (member x, image i of x, member y, image j of y), 0-based; x <= y. */
type Drawn = [number, number, number, number];

/** `count` distinct matched pairs: a uniform identity among those with unused pairs, then an unused pair of its images. */
function sampleMatched(sizes: readonly number[], count: number, rng: Rng): Drawn[] {
  const active = sizes.map((_, x) => x);
  const pools = sizes.map((n) => new Pool((n * (n - 1)) / 2));
  const out: Drawn[] = [];
  while (out.length < count) {
    const slot = rng.int(active.length);
    const x = active[slot] as number;
    const pool = pools[x] as Pool;
    const [i, j] = triangle(pool.take(rng));
    out.push([x, i, x, j]);
    if (pool.remaining === 0) {
      active[slot] = active[active.length - 1] as number;
      active.pop();
    }
  }
  return out.sort(compareDrawn);
}

/** `count` distinct mismatched pairs: a uniform pair of identities among those with unused pairs, then an unused image of each. */
function sampleMismatched(sizes: readonly number[], count: number, rng: Rng): Drawn[] {
  const k = sizes.length;
  const identityPairs = new Pool((k * (k - 1)) / 2);
  const pools = new Map<number, Pool>();
  const out: Drawn[] = [];
  while (out.length < count) {
    const position = identityPairs.pick(rng);
    const p = identityPairs.valueAt(position);
    const [x, y] = triangle(p);
    const ny = sizes[y] as number;
    let pool = pools.get(p);
    if (pool === undefined) {
      pool = new Pool((sizes[x] as number) * ny);
      pools.set(p, pool);
    }
    const v = pool.take(rng);
    out.push([x, Math.floor(v / ny), y, v % ny]);
    if (pool.remaining === 0) identityPairs.remove(position);
  }
  return out.sort(compareDrawn);
}

function compareDrawn(p: Drawn, q: Drawn): number {
  return p[0] - q[0] || p[1] - q[1] || p[2] - q[2] || p[3] - q[3];
}

/** The t-th pair (i, j), i < j, in the order (0,1), (0,2), (1,2), (0,3), ... */
function triangle(t: number): [number, number] {
  let j = Math.floor((1 + Math.sqrt(1 + 8 * t)) / 2);
  while ((j * (j - 1)) / 2 > t) j--;
  while (((j + 1) * j) / 2 <= t) j++;
  return [t - (j * (j - 1)) / 2, j];
}

/**
 * The numbers 0 .. size-1, drawn uniformly without replacement by a lazy
 * Fisher-Yates shuffle: memory grows with the draws, not with `size`.
 */
class Pool {
  private size: number;
  private readonly moved = new Map<number, number>();

  constructor(size: number) {
    this.size = size;
  }

  get remaining(): number {
    return this.size;
  }

  /** A uniformly chosen position among the remaining ones (see valueAt, remove). */
  pick(rng: Rng): number {
    if (this.size <= 0x1_0000_0000) return rng.int(this.size);
    return Math.min(this.size - 1, Math.floor((rng.next() + rng.next() / 0x1_0000_0000) * this.size));
  }

  valueAt(position: number): number {
    return this.moved.get(position) ?? position;
  }

  remove(position: number): void {
    const last = this.size - 1;
    if (position !== last) this.moved.set(position, this.valueAt(last));
    this.moved.delete(last);
    this.size = last;
  }

  /** Draws one remaining number and removes it. */
  take(rng: Rng): number {
    const position = this.pick(rng);
    const value = this.valueAt(position);
    this.remove(position);
    return value;
  }
}

// ---------------------------------------------------------------------------
// Resolving

/**
 * Image indices of each pair in `layout`. Throws a DatasetError naming the line
 * (pair k is on line k + 2 of the file) when an identity is not in the dataset or
 * has no image of that number. `sourceName` is named in errors.
 */
export function resolvePairs(parsed: PairsFile, layout: DatasetLayout, sourceName?: string): ResolvedPairs {
  const groups = imagesByIdentity(layout);
  const byName = new Map<string, number>();
  layout.identities.forEach((identity, id) => {
    if (byName.has(identity)) {
      throw new DatasetError(
        `Two identities of the dataset are both named "${identity}", so a pairs file cannot tell them apart`,
        'Give every identity its own name, then import the dataset again.',
      );
    }
    byName.set(identity, id);
  });
  const remedy =
    'Check that the pairs file was made for this dataset (identity names must equal its folder names, and ' +
    'image numbers count each identity\'s images in order from 1), or generate a pairs file for this dataset.';

  const count = parsed.pairs.length;
  const a = new Int32Array(count);
  const b = new Int32Array(count);
  const matched = new Uint8Array(count);
  const fold = new Int32Array(count);
  parsed.pairs.forEach((pair, k) => {
    const lineNumber = k + 2;
    const indexOf = (image: PairImage): number => {
      const id = byName.get(image.identity);
      if (id === undefined) {
        throw new DatasetError(`Line ${lineNumber}: identity "${image.identity}" is not in this dataset`, remedy, sourceName);
      }
      const images = groups[id] as Int32Array;
      const index = images[image.number - 1];
      if (index === undefined) {
        throw new DatasetError(
          `Line ${lineNumber}: identity "${image.identity}" has ${images.length} image${images.length === 1 ? '' : 's'}, ` +
            `so there is no image number ${image.number}`,
          remedy,
          sourceName,
        );
      }
      return index;
    };
    a[k] = indexOf(pair.a);
    b[k] = indexOf(pair.b);
    matched[k] = pair.matched ? 1 : 0;
    fold[k] = pair.fold;
  });
  return { a, b, matched, fold };
}

function fieldsOf(line: string): string[] {
  const trimmed = line.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

function describe(line: string): string {
  const shown = line.length > 80 ? `${line.slice(0, 77)}...` : line;
  return `"${shown.replace(/\t/g, '\\t')}"`;
}
