import { describe, expect, it } from 'vitest';
import { DatasetError } from '../errors';
import { formatPairs, generatePairs, parsePairs, resolvePairs } from '../pairs';
import type { DatasetLayout, GeneratedPairs, Pair, PairsFile } from '../pairs';
import { layoutOf } from './layouts';
import { expectDatasetError } from './layouts';

const ORL = layoutOf(Array.from({ length: 40 }, () => 10));
const YALE = layoutOf(Array.from({ length: 15 }, (_, i) => (i === 6 ? 10 : 11)));
/** LFW-like: very uneven identities, one very large. */
const SKEWED = layoutOf(Array.from({ length: 120 }, (_, i) => (i === 3 ? 530 : 2 + ((i * 7) % 23))), { interleaved: true });


const m = (fold: number, identity: string, n1: number, n2: number): Pair => ({
  fold,
  matched: true,
  a: { identity, number: n1 },
  b: { identity, number: n2 },
});
const x = (fold: number, name1: string, n1: number, name2: string, n2: number): Pair => ({
  fold,
  matched: false,
  a: { identity: name1, number: n1 },
  b: { identity: name2, number: n2 },
});

// Lines as LFW writes them (tabs), plus some with spaces and a CRLF, as hand-edited files have.
const SNIPPET = [
  '2\t2',
  'Abel_Pacheco\t1\t4',
  'Akhmed_Zakayev   1 3',
  'Abdel_Madi_Shabneh\t1\tDean_Barker\t1',
  'Abdel_Madi_Shabneh 1 Giancarlo_Fisichella 1\r',
  '  Aaron_Peirsol\t1\t2  ',
  'Aaron_Peirsol\t3\t4',
  'AJ_Cook\t1\tMarsha_Thomason\t1',
  'Aaron_Sorkin\t2\tFrank_Keating\t1',
  '',
  '',
].join('\n');

const SNIPPET_PAIRS: Pair[] = [
  m(0, 'Abel_Pacheco', 1, 4),
  m(0, 'Akhmed_Zakayev', 1, 3),
  x(0, 'Abdel_Madi_Shabneh', 1, 'Dean_Barker', 1),
  x(0, 'Abdel_Madi_Shabneh', 1, 'Giancarlo_Fisichella', 1),
  m(1, 'Aaron_Peirsol', 1, 2),
  m(1, 'Aaron_Peirsol', 3, 4),
  x(1, 'AJ_Cook', 1, 'Marsha_Thomason', 1),
  x(1, 'Aaron_Sorkin', 2, 'Frank_Keating', 1),
];

describe('parsePairs', () => {
  it('reads LFW-format lines separated by tabs or spaces', () => {
    expect(parsePairs(SNIPPET)).toEqual({ folds: 2, perFold: 2, pairs: SNIPPET_PAIRS });
  });

  it('reads CRLF line ends, a byte-order mark, and a one-number header (pairsDevTrain.txt) as one fold', () => {
    const text = '\uFEFF2\r\nA\t1\t2\r\nB\t2\t3\r\nA\t1\tB\t1\r\nA\t2\tC\t1\r\n';
    expect(parsePairs(text)).toEqual({
      folds: 1,
      perFold: 2,
      pairs: [m(0, 'A', 1, 2), m(0, 'B', 2, 3), x(0, 'A', 1, 'B', 1), x(0, 'A', 2, 'C', 1)],
    });
  });

  it('names the line and what was expected when a line is malformed', () => {
    const lines = SNIPPET.split('\n');
    const withLine = (n: number, text: string): string => lines.map((l, i) => (i === n - 1 ? text : l)).join('\n');

    const e = expectDatasetError(() => parsePairs(withLine(3, 'Akhmed_Zakayev\t1\tBob\t3'), 'pairs.txt'), 'Line 3', 'matched pair', '4 fields');
    expect(e.path).toBe('pairs.txt');
    expect(e.message).toContain('fold 1, matched pair 2 of 2');
    expectDatasetError(() => parsePairs(withLine(4, 'Abdel_Madi_Shabneh\t1\t2')), 'Line 4', 'mismatched pair "name1 n1 name2 n2"', '3 fields');
    expectDatasetError(() => parsePairs(withLine(6, 'Aaron_Peirsol\t1\tx')), 'Line 6', 'image number', '"x"');
    expectDatasetError(() => parsePairs(withLine(6, 'Aaron_Peirsol\t0\t2')), 'Line 6', 'image number', '"0"');
    expectDatasetError(() => parsePairs(withLine(6, '')), 'Line 6', 'an empty line');
    expectDatasetError(() => parsePairs(withLine(8, 'AJ_Cook\t1\tAJ_Cook\t2')), 'Line 8', 'same identity "AJ_Cook"');
    expectDatasetError(() => parsePairs(withLine(2, 'Abel Pacheco\t1\t4')), 'Line 2', '4 fields');
    expectDatasetError(() => parsePairs(withLine(1, '10 300 x')), 'Line 1', 'header');
    expectDatasetError(() => parsePairs(withLine(1, 'ten\t300')), 'Line 1', 'header');
    expectDatasetError(() => parsePairs(`${SNIPPET.trimEnd()}\nA\t1\t2\n`), 'Line 10', 'end of the file after 8 pairs');
    expectDatasetError(() => parsePairs(lines.slice(0, 7).join('\n'), 'pairs.txt'), 'ends after line 7 with 6 pairs', 'promises 8', /: pairs\.txt\./);
    expectDatasetError(() => parsePairs('  \n\n'), 'empty');
  });
});

describe('parsePairs on a file that is not a pairs file (issue 14, 5.8 b)', () => {
  const secrets = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n';

  it('does not quote the first line of whatever file it was given', () => {
    const e = expectDatasetError(() => parsePairs(secrets, '/etc/passwd'), 'Line 1', 'header', 'does not look like a pairs file');
    expect(e.message).not.toMatch(/root|bash|x:0/);
    expect(e.message).toContain("a line that does not look like a pairs file's (31 characters, not shown)");
    for (const text of ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n', 'name,password\nalice,hunter2\n', '{"token": "s3cr3t"}\n', 'PASSWORD=12345\n', 'x\u001b]0;title\u0007 1 2\n']) {
      const error = expectDatasetError(() => parsePairs(text), 'Line 1');
      expect(error.message).not.toMatch(/OPENSSH|password|hunter2|token|s3cr3t|PASSWORD|12345|title/);
    }
  });

  it('quotes neither a later line nor a field of a line that does not look like a pairs file\'s', () => {
    const e1 = expectDatasetError(() => parsePairs(`1\t1\n${secrets}`), 'Line 2', 'matched pair');
    expect(e1.message).not.toMatch(/root|bash/);
    const e2 = expectDatasetError(() => parsePairs('1\t1\nuser:alice pass:hunter2 x\nA\t1\tB\t1\n'), 'Line 2', 'image number');
    expect(e2.message).not.toMatch(/alice|hunter2/);
  });

  it('still quotes lines that look like a pairs file\'s', () => {
    expectDatasetError(() => parsePairs('10 300 x\n'), 'Line 1', '"10 300 x"');
    expectDatasetError(() => parsePairs('1\t1\nAaron_Peirsol\t1\tx\nA\t1\tB\t1\n'), 'Line 2', '"x"');
    expectDatasetError(() => parsePairs('1\t1\nAaron_Peirsol\t1\t2\t3\t4\n'), 'Line 2');
  });
});

describe('formatPairs', () => {
  it('writes tab-separated lines with the header first', () => {
    const text = formatPairs(parsePairs(SNIPPET));
    expect(text.split('\n').slice(0, 4)).toEqual([
      '2\t2',
      'Abel_Pacheco\t1\t4',
      'Akhmed_Zakayev\t1\t3',
      'Abdel_Madi_Shabneh\t1\tDean_Barker\t1',
    ]);
    expect(text.endsWith('Frank_Keating\t1\n')).toBe(true);
    expect(parsePairs(text)).toEqual(parsePairs(SNIPPET));
  });

  it('refuses an identity name the format cannot represent, and suggests a name', () => {
    const file: PairsFile = { folds: 1, perFold: 1, pairs: [m(0, 'Aaron Eckhart', 1, 2), x(0, 'Aaron Eckhart', 1, 'B', 1)] };
    const e = expectDatasetError(() => formatPairs(file), '"Aaron Eckhart"', 'whitespace');
    expect(e.remedy).toContain('Aaron_Eckhart');
    expectDatasetError(() => formatPairs({ folds: 1, perFold: 1, pairs: [m(0, 'A', 1, 2), x(0, 'A', 1, 'B\tC', 1)] }), 'whitespace');
  });

  it('refuses pairs that do not fill folds x perFold', () => {
    expect(() => formatPairs({ folds: 1, perFold: 2, pairs: [m(0, 'A', 1, 2), x(0, 'A', 1, 'B', 1)] })).toThrow(RangeError);
  });
});

/** Checks every promise generatePairs makes about its output. */
function checkGenerated(layout: DatasetLayout, generated: GeneratedPairs): void {
  const { folds, perFold, pairs } = generated;
  expect(pairs.length).toBe(folds * 2 * perFold);
  const sizes = new Map<string, number>();
  for (const id of layout.imageIdentity) {
    const name = layout.identities[id] as string;
    sizes.set(name, (sizes.get(name) ?? 0) + 1);
  }
  const problems: string[] = [];
  const foldOf = new Map<string, number>();
  const seen = new Set<string>();
  const perKind = Array.from({ length: folds }, () => [0, 0]);
  pairs.forEach((pair, k) => {
    const where = `pair ${k} ${JSON.stringify(pair)}`;
    // File order: fold by fold, matched first.
    if (pair.fold !== Math.floor(k / (2 * perFold))) problems.push(`${where}: out of fold order`);
    if (pair.matched !== k % (2 * perFold) < perFold) problems.push(`${where}: matched/mismatched out of order`);
    perKind[pair.fold]![pair.matched ? 0 : 1]! += 1;
    for (const image of [pair.a, pair.b]) {
      const size = sizes.get(image.identity);
      if (size === undefined) problems.push(`${where}: unknown identity`);
      else if (!Number.isInteger(image.number) || image.number < 1 || image.number > size) problems.push(`${where}: bad number`);
      const fold = foldOf.get(image.identity);
      if (fold === undefined) foldOf.set(image.identity, pair.fold);
      else if (fold !== pair.fold) problems.push(`${where}: identity ${image.identity} also in fold ${fold}`);
    }
    if (pair.matched && (pair.a.identity !== pair.b.identity || pair.a.number >= pair.b.number)) {
      problems.push(`${where}: not a matched pair with n1 < n2`);
    }
    if (!pair.matched && pair.a.identity === pair.b.identity) problems.push(`${where}: mismatched pair of one identity`);
    const key = [`${pair.a.identity}/${pair.a.number}`, `${pair.b.identity}/${pair.b.number}`].sort().join(' ');
    if (seen.has(key)) problems.push(`${where}: duplicate`);
    seen.add(key);
  });
  expect(problems.slice(0, 5)).toEqual([]);
  for (const counts of perKind) expect(counts).toEqual([perFold, perFold]);
}

describe('generatePairs', () => {
  it('gives balanced, identity-disjoint folds on an ORL-shaped set, using every matched pair a fold has', () => {
    const generated = generatePairs(ORL, { seed: 1 });
    expect(generated.folds).toBe(10);
    // 4 identities per fold x C(10, 2) = 180 matched pairs per fold at most.
    expect(generated.perFold).toBe(180);
    checkGenerated(ORL, generated);
    expect(generated.notes).toHaveLength(1);
    expect(generated.notes[0]).toMatch(/180 matched and 180 mismatched .*fewer than LFW's 300.*only 180 distinct matched pairs/);
  });

  it('gives exactly what was asked when the dataset can supply it, with no notes', () => {
    const generated = generatePairs(ORL, { folds: 10, perFold: 50, seed: 2 });
    expect(generated.perFold).toBe(50);
    expect(generated.notes).toEqual([]);
    checkGenerated(ORL, generated);
  });

  it('lowers perFold to what every fold can supply on a Yale-shaped set, and says so', () => {
    const generated = generatePairs(YALE, { folds: 5, perFold: 200, seed: 3 });
    // 3 identities per fold; the fold with the 10-image identity has 55 + 55 + 45 = 155 matched pairs.
    expect(generated.perFold).toBe(155);
    expect(generated.notes).toHaveLength(1);
    expect(generated.notes[0]).toMatch(/Asked for 200 .* fold \d \(3 identities, 32 images\) has only 155 distinct matched pairs; each fold has 155/);
    checkGenerated(YALE, generated);
  });

  it('reaches LFW size on a large uneven set, with every fold fully used', () => {
    const generated = generatePairs(SKEWED, { seed: 4 });
    expect(generated.perFold).toBe(300);
    expect(generated.notes).toEqual([]);
    checkGenerated(SKEWED, generated);
    // Uniform choice of identities: the 530-image identity does not take most matched pairs of its fold.
    const big = SKEWED.identities[3] as string;
    const bigMatched = generated.pairs.filter((p) => p.matched && p.a.identity === big).length;
    expect(bigMatched).toBeLessThan(150);
  });

  it('handles the smallest possible folds (2 identities of 2 images each)', () => {
    const layout = layoutOf([2, 2, 2, 2]);
    const generated = generatePairs(layout, { folds: 2, seed: 5 });
    expect(generated.perFold).toBe(2);
    checkGenerated(layout, generated);
  });

  it('is reproducible from the seed, and another seed gives other pairs', () => {
    const a = formatPairs(generatePairs(ORL, { perFold: 100, seed: 7 }));
    const b = formatPairs(generatePairs(ORL, { perFold: 100, seed: 7 }));
    const c = formatPairs(generatePairs(ORL, { perFold: 100, seed: 8 }));
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('round-trips through formatPairs and parsePairs unchanged', () => {
    for (const [layout, folds] of [[ORL, 10], [YALE, 7], [SKEWED, 10]] as const) {
      const { notes: _notes, ...file } = generatePairs(layout, { folds, seed: 9 });
      const text = formatPairs(file);
      expect(parsePairs(text)).toEqual(file);
      expect(formatPairs(parsePairs(text))).toBe(text);
    }
  });

  it('refuses an identity with a single image, naming it', () => {
    const layout = layoutOf([...Array.from({ length: 30 }, () => 5), 1], {
      names: [...Array.from({ length: 30 }, (_, i) => `p${i}`), 'Lonely_Person'],
    });
    const e = expectDatasetError(() => generatePairs(layout, { seed: 1 }), '"Lonely_Person"', 'only 1 image', 'matched');
    expect(e.remedy).toMatch(/add at least one more image|remove it/i);
    expectDatasetError(() => generatePairs(layoutOf([5, 1, 5, 1, 1, 5]), { folds: 1, seed: 1 }), '"s2" (and 2 others: "s4", "s5") has only 1 image');
    const many = layoutOf([...Array.from({ length: 30 }, () => 5), ...Array.from({ length: 8 }, () => 1)]);
    expectDatasetError(() => generatePairs(many, { seed: 1 }), '"s31" (and 7 others, such as "s32", "s33", "s34", "s35", "s36")');
  });

  it('refuses too few identities for the folds, saying how many folds would work', () => {
    const e = expectDatasetError(() => generatePairs(YALE, { seed: 1 }), 'at least 20 identities', 'has 15');
    expect(e.remedy).toContain('at most 7 folds');
    expectDatasetError(() => generatePairs(layoutOf([4]), { folds: 1, seed: 1 }), 'at least 2 identities');
  });

  it('rejects a bad number of folds or pairs', () => {
    expectDatasetError(() => generatePairs(ORL, { folds: 0, seed: 1 }), 'folds');
    expectDatasetError(() => generatePairs(ORL, { folds: 2.5, seed: 1 }), 'folds');
    expectDatasetError(() => generatePairs(ORL, { perFold: 0, seed: 1 }), 'pairs per fold');
  });
});

describe('resolvePairs', () => {
  it('maps names and 1-based numbers to image indices of the dataset', () => {
    const layout = layoutOf([3, 4, 2], { interleaved: true, names: ['Ann', 'Bob', 'Cy'] });
    // Interleaved: Ann = images 0, 3, 6; Bob = 1, 4, 7, 8; Cy = 2, 5.
    const file = parsePairs('1\t2\nAnn\t1\t3\nBob\t2\t4\nAnn\t2\tCy\t2\nBob\t1\tCy\t1\n');
    const resolved = resolvePairs(file, layout);
    expect([...resolved.a]).toEqual([0, 4, 3, 1]);
    expect([...resolved.b]).toEqual([6, 8, 5, 2]);
    expect([...resolved.matched]).toEqual([1, 1, 0, 0]);
    expect([...resolved.fold]).toEqual([0, 0, 0, 0]);
  });

  it('agrees with generated pairs: each image has the identity and position the pair names', () => {
    const layout = layoutOf(Array.from({ length: 24 }, (_, i) => 2 + (i % 5)), { interleaved: true });
    const generated = generatePairs(layout, { folds: 4, seed: 6 });
    const resolved = resolvePairs(generated, layout);
    const position = (index: number): number => {
      const id = layout.imageIdentity[index];
      let n = 0;
      for (let i = 0; i <= index; i++) if (layout.imageIdentity[i] === id) n++;
      return n;
    };
    generated.pairs.forEach((pair, k) => {
      const a = resolved.a[k] as number;
      const b = resolved.b[k] as number;
      expect(layout.identities[layout.imageIdentity[a] as number]).toBe(pair.a.identity);
      expect(layout.identities[layout.imageIdentity[b] as number]).toBe(pair.b.identity);
      expect(position(a)).toBe(pair.a.number);
      expect(position(b)).toBe(pair.b.number);
      expect(resolved.matched[k]).toBe(pair.matched ? 1 : 0);
      expect(resolved.fold[k]).toBe(pair.fold);
    });
  });

  it('names the line and identity when a name or number is not in the dataset', () => {
    const layout = layoutOf([3, 4], { names: ['Ann', 'Bob'] });
    const unknown = parsePairs('1\t1\nAnn\t1\t2\nBob\t1\tZed\t1\n');
    const e = expectDatasetError(() => resolvePairs(unknown, layout, 'my_pairs.txt'), 'Line 3', 'identity "Zed" is not in this dataset');
    expect(e.path).toBe('my_pairs.txt');
    const tooHigh = parsePairs('1\t1\nAnn\t1\t4\nBob\t1\tAnn\t1\n');
    expectDatasetError(() => resolvePairs(tooHigh, layout), 'Line 2', '"Ann" has 3 images', 'no image number 4');
  });
});
