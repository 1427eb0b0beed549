// Generating a verification pairs protocol for any imported dataset, seeded:
// identity-disjoint folds of matched and mismatched pairs, as in LFW's
// pairs.txt (see pairs-file.ts for the format), and the sampler that draws
// distinct pairs without replacement.

import { DatasetError } from './errors';
import type { Pair, PairsFile } from './pairs-file';
import { Rng } from './random';
import { imagesByIdentity } from './splits';
import type { DatasetLayout } from './splits';

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

/** LFW's number of pairs of each kind per fold. */
export const LFW_PAIRS_PER_FOLD = 300;

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
