// Verification pairs files in the format of LFW's pairs.txt: read (parsePairs),
// written (formatPairs) and resolved to the image indices of a dataset
// (resolvePairs). Generating pairs for a dataset is in pairs-generate.ts; import
// both from pairs.ts.
//
//   10	300                      header: <folds> <pairs of each kind per fold>
//   Abel_Pacheco	1	4          per fold: <n> matched lines   name n1 n2
//   ...
//   AJ_Cook	1	Marsha_Thomason	1   then <n> mismatched lines  name1 n1 name2 n2
//
// Image numbers are 1-based positions among an identity's images. LFW's own
// pairsDevTrain.txt / pairsDevTest.txt have a one-number header (`1100`): one fold.

import { DatasetError } from './errors';
import { imagesByIdentity } from './splits';
import type { DatasetLayout } from './splits';

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

/** Pairs as image indices of the dataset, index k = the file's k-th pair. */
export interface ResolvedPairs {
  readonly a: Int32Array;
  readonly b: Int32Array;
  /** 1 for a matched pair, 0 for a mismatched one. */
  readonly matched: Uint8Array;
  /** 0-based fold of each pair. */
  readonly fold: Int32Array;
}

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
    if (!looksLikePairsLine(headerLine)) {
      fail(1, `expected the header "<folds> <pairs per fold>" (e.g. "10 300") or "<pairs>", found ${describe(headerLine)}: this does not look like a pairs file`);
    }
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
        fail(lineNumber, `expected an image number (1, 2, ...) in field ${index + 1} ${place}, found ${looksLikePairsLine(line) ? `"${field}"` : 'something else (not shown: the line does not look like a pairs file\'s)'}`);
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

/**
 * Whether `line` has the shape of a line of a pairs file: 1 to 4 fields, at least one
 * of them a number, no control characters but tabs, no field with the punctuation of
 * other kinds of files (paths, key-value pairs, JSON, CSV, markup), short. Only such
 * lines are quoted in errors: a file given by mistake (a password file, a key, a
 * document) must not have its content copied into a message, a log or a bug report.
 */
export function looksLikePairsLine(line: string): boolean {
  if (line.length > 200 || /(?!\t)\p{Cc}/u.test(line)) return false;
  const fields = fieldsOf(line);
  if (fields.length < 1 || fields.length > 4) return false;
  if (!fields.some((field) => /^\d+$/.test(field))) return false;
  return fields.every((field) => !/[/\\:;,=<>{}[\]"|$@]/.test(field));
}

/** The line quoted when it looks like a pairs file's, else only its length. */
function describe(line: string): string {
  if (!looksLikePairsLine(line)) return `a line that does not look like a pairs file's (${line.length} characters, not shown)`;
  const shown = line.length > 80 ? `${line.slice(0, 77)}...` : line;
  return `"${shown.replace(/\t/g, '\\t')}"`;
}
