import { describe, expect, it } from 'vitest';
import { inlineCode } from '../inline-code';
import { runLength } from '../config-fields';

describe('inline code', () => {
  it('splits text on backtick pairs', () => {
    expect(inlineCode('run `lab summary` now')).toEqual([
      { text: 'run ', code: false },
      { text: 'lab summary', code: true },
      { text: ' now', code: false },
    ]);
    expect(inlineCode('`a` and `b`')).toEqual([
      { text: 'a', code: true },
      { text: ' and ', code: false },
      { text: 'b', code: true },
    ]);
    expect(inlineCode('no code')).toEqual([{ text: 'no code', code: false }]);
  });

  it('keeps an unmatched backtick as text', () => {
    expect(inlineCode('a `b` c `d')).toEqual([
      { text: 'a ', code: false },
      { text: 'b', code: true },
      { text: ' c `d', code: false },
    ]);
  });
});

describe('run length', () => {
  it('counts whole batches of the training images, capped by max steps', () => {
    expect(runLength({ images: 400, holdOut: 0.2, batch: 16, epochs: 10, maxSteps: 0 })).toEqual({ trainImages: 320, perEpoch: 20, epochs: 10, batch: 16, total: 200, capped: false });
    expect(runLength({ images: 400, holdOut: 0.2, batch: 16, epochs: 10, maxSteps: 150 })).toMatchObject({ total: 150, capped: true });
    expect(runLength({ images: 400, holdOut: 0.2, batch: 16, epochs: 10, maxSteps: 500 })).toMatchObject({ total: 200, capped: false });
    // Fewer training images than a batch: one (partial) batch per epoch, as the trainer does.
    expect(runLength({ images: 20, holdOut: 0.2, batch: 64, epochs: 3, maxSteps: 0 })).toMatchObject({ trainImages: 16, perEpoch: 1, total: 3 });
    expect(runLength({ images: 20, holdOut: 0.2, batch: 0, epochs: 3, maxSteps: 0 })).toBeNull();
  });
});
