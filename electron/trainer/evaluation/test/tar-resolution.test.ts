// Issue 14, 3: `lab eval` marks TAR @ FAR by the app's rule (tar-resolution.ts, shared with the Evaluate view).
import { describe, expect, test } from 'vitest';
import { formatEvaluation, type EvaluationResult } from '../evaluate-run';

function result(mismatchedPairs: number): EvaluationResult {
  return {
    runId: 'r1',
    step: 10,
    pairsSource: 'generated',
    data: { name: 'faces', source: '/data/faces', hash: '0123456789abcdef', identities: 40, images: 400 },
    overlap: { checked: true, identities: 0, identityNames: [], images: 0 },
    verification: {
      matchedPairs: mismatchedPairs,
      mismatchedPairs,
      tenFold: { mean: 0.8, standardError: 0.01, foldAccuracies: [0.8, 0.8] },
      auc: 0.9,
      eer: 0.2,
      tarAtFar: [
        { far: 0.001, tar: 0.3 },
        { far: 0.01, tar: 0.5 },
        { far: 0.1, tar: 0.7 },
      ],
    },
    rank1: { accuracy: 0.5, correct: 5, probes: 10 },
    notes: [],
  } as unknown as EvaluationResult;
}

describe('lab eval: TAR @ FAR lines', () => {
  test('too few mismatched pairs to place the FAR: not resolved, with how many are needed', () => {
    const text = formatEvaluation(result(780));
    expect(text).toContain('TAR @ FAR 0.10%: not resolved (needs at least 1,000 mismatched pairs: at this FAR, 780 allow 0.78 false accepts, less than one)');
    expect(text).toContain('TAR @ FAR 1.00%: 50.00% (rough: at this FAR, 780 mismatched pairs allow only 7.8 false accepts)');
    expect(text).toContain('TAR @ FAR 10.00%: 70.00%\n');
  });

  test('enough mismatched pairs: plain numbers', () => {
    const text = formatEvaluation(result(20_000));
    expect(text).toContain('TAR @ FAR 0.10%: 30.00%\n');
    expect(text).not.toMatch(/rough|not resolved/);
  });
});
