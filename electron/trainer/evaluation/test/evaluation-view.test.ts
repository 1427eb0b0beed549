// The Evaluate view's arithmetic: the hardest pairs and the ROC curve thinned for drawing.
import { describe, expect, test } from 'vitest';
import { evaluationView, hardestPairIndices, savedEvaluationSchema, thinRoc } from '../evaluation-view';
import { auc, rocCurve, tarAtFar } from '../metrics';

/** A seeded LFW-sized score set: 3000 matched ~ N(0.6, 0.15), 3000 mismatched ~ N(0.2, 0.15). */
function lfwLike(): { scores: Float32Array; matched: Uint8Array } {
  let s = 12345;
  const uniform = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) + 0.5) / 2 ** 32;
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const scores = new Float32Array(6000);
  const matched = new Uint8Array(6000);
  for (let i = 0; i < 6000; i++) {
    matched[i] = i % 2 === 0 ? 1 : 0;
    scores[i] = Math.max(-1, Math.min(1, (matched[i] ? 0.6 : 0.2) + 0.15 * normal()));
  }
  return { scores, matched };
}

describe('hardestPairIndices', () => {
  const scores = Float32Array.from([0.9, 0.1, 0.5, 0.5, -0.2, 0.7, 0.5]);
  const matched = Uint8Array.from([1, 1, 0, 0, 0, 1, 0]);
  test('false matches: mismatched pairs, highest first, ties by pair index', () => {
    expect(hardestPairIndices(scores, matched, 'false-match', 3)).toEqual([2, 3, 6]);
  });
  test('false non-matches: matched pairs, lowest first; fewer when there are fewer', () => {
    expect(hardestPairIndices(scores, matched, 'false-non-match', 8)).toEqual([1, 5, 0]);
    expect(hardestPairIndices(scores, matched, 'false-non-match', 0)).toEqual([]);
  });
});

describe('thinRoc', () => {
  test('a short curve is kept whole', () => {
    expect(thinRoc([0, 0.5, 1], [0, 0.8, 1])).toEqual({ far: [0, 0.5, 1], tar: [0, 0.8, 1] });
  });

  test('an LFW-sized curve: at most 400 points, far ascending, the ends kept, the shape and the low-FAR end too', () => {
    const { scores, matched } = lfwLike();
    const roc = rocCurve(scores, matched);
    expect(roc.fpr.length).toBeGreaterThan(5000);
    const thin = thinRoc(roc.fpr, roc.tpr);
    expect(thin.far.length).toBeLessThanOrEqual(400);
    expect(thin.far.length).toBeGreaterThan(300);
    expect([thin.far[0], thin.tar[0], thin.far.at(-1), thin.tar.at(-1)]).toEqual([0, 0, 1, 1]);
    for (let i = 1; i < thin.far.length; i++) {
      expect(thin.far[i]!).toBeGreaterThanOrEqual(thin.far[i - 1]!);
      expect(thin.tar[i]!).toBeGreaterThanOrEqual(thin.tar[i - 1]!);
    }
    // Every kept point is a point of the curve.
    const points = new Set(Array.from(roc.fpr, (f, i) => `${f},${roc.tpr[i]}`));
    for (let i = 0; i < thin.far.length; i++) expect(points.has(`${thin.far[i]},${thin.tar[i]}`)).toBe(true);
    // The shape: the area under the thinned curve is the full one's within 0.002.
    const thinned = { fpr: Float64Array.from(thin.far), tpr: Float64Array.from(thin.tar), thresholds: new Float64Array(thin.far.length) };
    expect(Math.abs(auc(thinned) - auc(roc))).toBeLessThan(0.002);
    // The low-FAR end a log axis shows: TAR at FAR 0.1% and 1% read off the thinned curve are close to the real ones.
    for (const far of [0.001, 0.01]) expect(Math.abs(tarAtFar(thinned, far) - tarAtFar(roc, far))).toBeLessThan(0.03);
    expect(thin.far.filter((f) => f > 0 && f < 0.01).length).toBeGreaterThan(20);
  });

  test('a budget is a budget', () => {
    const { scores, matched } = lfwLike();
    const roc = rocCurve(scores, matched);
    for (const max of [2, 3, 10, 57]) {
      const thin = thinRoc(roc.fpr, roc.tpr, max);
      expect(thin.far.length).toBeLessThanOrEqual(max);
      expect([thin.far[0], thin.far.at(-1)]).toEqual([0, 1]);
    }
  });
});

describe('the saved form: evaluated dataset and overlap', () => {
  const older = {
    format: 2,
    runId: 'r1',
    step: 4,
    pairsSource: 'generated',
    verification: {
      pairs: 2,
      matchedPairs: 1,
      mismatchedPairs: 1,
      roc: { fpr: [0, 1], tpr: [0, 1] },
      auc: 0.5,
      eer: 0.5,
      tarAtFar: [{ far: 0.01, tar: 0 }],
      tenFold: { foldAccuracies: [0.5, 0.5], mean: 0.5, standardError: 0 },
    },
    rank1: { accuracy: 0.5, correct: 1, probes: 2 },
    notes: [],
    histogram: { edges: [0, 1], matched: [1], mismatched: [1] },
    hardest: { falseMatches: [], falseNonMatches: [] },
  };

  test('a file written before evaluations on other datasets still reads, and its view has neither', () => {
    const view = evaluationView(savedEvaluationSchema.parse(older));
    expect(view.data).toBeUndefined();
    expect(view.overlap).toBeUndefined();
    expect(view.notes).toEqual([]);
  });

  test('a file with them gives them to the view', () => {
    const data = { name: 'lfw', source: '/data/lfw', hash: '0123456789abcdef', identities: 5749, images: 13233 };
    const overlap = { checked: true, identities: 2, identityNames: ['Aaron_Eckhart', 'Zico'], images: 3 };
    const view = evaluationView(savedEvaluationSchema.parse({ ...older, data, overlap }));
    expect(view.data).toEqual(data);
    expect(view.overlap).toEqual(overlap);
  });
});
