import { describe, expect, it } from 'vitest';
import { renderSyntheticFace, SYNTHETIC_DEFAULTS, syntheticIdentityName, type SyntheticOptions } from '../synthetic';

function options(overrides: Partial<SyntheticOptions> = {}): SyntheticOptions {
  return { ...SYNTHETIC_DEFAULTS, ...overrides };
}

/** faces[identity][image] */
function renderAll(opts: SyntheticOptions): Uint8Array[][] {
  return Array.from({ length: opts.identities }, (_, id) =>
    Array.from({ length: opts.imagesPerIdentity }, (_, k) => renderSyntheticFace(opts, id, k)),
  );
}

/** 3x3 box blur (edges averaged over what exists), to compare shapes rather than single pixels. */
function blur(image: Uint8Array, size: number): Float64Array {
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let sum = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= size || xx < 0 || xx >= size) continue;
          sum += image[yy * size + xx] as number;
          n++;
        }
      }
      out[y * size + x] = sum / n;
    }
  }
  return out;
}

/** Root-mean-square pixel difference. */
function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    sum += d * d;
  }
  return Math.sqrt(sum / a.length);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe('syntheticIdentityName', () => {
  it('labels every identity as synthetic, numbered from 1', () => {
    expect(syntheticIdentityName(0)).toBe('synthetic-001');
    expect(syntheticIdentityName(6)).toBe('synthetic-007');
    expect(syntheticIdentityName(1234)).toBe('synthetic-1235');
    expect(() => syntheticIdentityName(-1)).toThrow(RangeError);
    expect(() => syntheticIdentityName(1.5)).toThrow(RangeError);
  });
});

describe('renderSyntheticFace', () => {
  it('draws size*size grey bytes at the sizes the lab uses', () => {
    for (const size of [32, 36, 64, 72, 128, 144]) {
      const face = renderSyntheticFace(options({ size }), 0, 0);
      expect(face).toBeInstanceOf(Uint8Array);
      expect(face.length).toBe(size * size);
    }
  });

  it('is deterministic: the same seed gives identical bytes, another seed different ones', () => {
    const a = options({ seed: 7, size: 64 });
    for (const [id, k] of [[0, 0], [3, 5], [19, 11]] as const) {
      expect(sameBytes(renderSyntheticFace(a, id, k), renderSyntheticFace({ ...a }, id, k))).toBe(true);
      expect(sameBytes(renderSyntheticFace(a, id, k), renderSyntheticFace({ ...a, seed: 8 }, id, k))).toBe(false);
    }
  });

  it('draws different images of one identity, and different identities', () => {
    const opts = options({ size: 64 });
    expect(sameBytes(renderSyntheticFace(opts, 2, 0), renderSyntheticFace(opts, 2, 1))).toBe(false);
    expect(sameBytes(renderSyntheticFace(opts, 2, 0), renderSyntheticFace(opts, 3, 0))).toBe(false);
  });

  it('leaves existing images unchanged when more identities or images are asked for', () => {
    const small = options({ identities: 3, imagesPerIdentity: 4, size: 48, seed: 5 });
    const large = options({ identities: 40, imagesPerIdentity: 30, size: 48, seed: 5 });
    for (let id = 0; id < small.identities; id++) {
      for (let k = 0; k < small.imagesPerIdentity; k++) {
        expect(sameBytes(renderSyntheticFace(small, id, k), renderSyntheticFace(large, id, k))).toBe(true);
      }
    }
  });

  it('spans a sensible range of grey: neither blank nor saturated', () => {
    const opts = options({ size: 64, identities: 10, imagesPerIdentity: 6 });
    for (const faces of renderAll(opts)) {
      for (const face of faces) {
        let min = 255;
        let max = 0;
        let sum = 0;
        let clipped = 0;
        for (const v of face) {
          if (v < min) min = v;
          if (v > max) max = v;
          sum += v;
          if (v === 0 || v === 255) clipped++;
        }
        const mean = sum / face.length;
        const sd = Math.sqrt(face.reduce((s, v) => s + (v - mean) ** 2, 0) / face.length);
        expect(max - min).toBeGreaterThan(100);
        expect(sd).toBeGreaterThan(12);
        expect(mean).toBeGreaterThan(30);
        expect(mean).toBeLessThan(225);
        expect(clipped / face.length).toBeLessThan(0.05);
        expect(new Set(face).size).toBeGreaterThan(64);
      }
    }
  });

  it.each([32, 64])('keeps images of one identity closer than images of different identities at %i px', (size) => {
    const opts = options({ size, identities: 10, imagesPerIdentity: 12 });
    const faces = renderAll(opts).map((images) => images.map((image) => blur(image, size)));
    let within = 0;
    let withinCount = 0;
    let between = 0;
    let betweenCount = 0;
    for (let i = 0; i < faces.length; i++) {
      for (let k = 0; k < opts.imagesPerIdentity; k++) {
        for (let j = i; j < faces.length; j++) {
          for (let l = i === j ? k + 1 : 0; l < opts.imagesPerIdentity; l++) {
            const d = distance(faces[i]![k]!, faces[j]![l]!);
            if (i === j) {
              within += d;
              withinCount++;
            } else {
              between += d;
              betweenCount++;
            }
          }
        }
      }
    }
    within /= withinCount;
    between /= betweenCount;
    console.log(`synthetic faces at ${size} px, mean RMS distance: within identity ${within.toFixed(1)}, between ${between.toFixed(1)}`);
    expect(within).toBeLessThan(between);
    // ...but not trivially: images of one person vary (pose, light, expression, background).
    expect(within).toBeGreaterThan(between * 0.5);
  });

  it('can be told apart by a nearest-neighbour classifier on raw 32x32 pixels, well above chance', () => {
    const identities = 10;
    const opts = options({ size: 32, identities, imagesPerIdentity: 12 });
    const faces = renderAll(opts);
    // Even images train, odd images test.
    let correct = 0;
    let total = 0;
    for (let i = 0; i < identities; i++) {
      for (let k = 1; k < opts.imagesPerIdentity; k += 2) {
        let best = Infinity;
        let guess = -1;
        for (let j = 0; j < identities; j++) {
          for (let l = 0; l < opts.imagesPerIdentity; l += 2) {
            const d = distance(faces[i]![k]!, faces[j]![l]!);
            if (d < best) {
              best = d;
              guess = j;
            }
          }
        }
        if (guess === i) correct++;
        total++;
      }
    }
    const accuracy = correct / total;
    console.log(`synthetic faces: 1-NN on raw 32x32 pixels, ${identities} identities, 6 train / 6 test images each: ${(accuracy * 100).toFixed(1)}% (chance ${100 / identities}%)`);
    expect(accuracy).toBeGreaterThan((3 * 1) / identities);
  });

  it('refuses options and indices it cannot draw', () => {
    const opts = options({ size: 32 });
    expect(() => renderSyntheticFace(opts, opts.identities, 0)).toThrow(RangeError);
    expect(() => renderSyntheticFace(opts, -1, 0)).toThrow(RangeError);
    expect(() => renderSyntheticFace(opts, 0, opts.imagesPerIdentity)).toThrow(RangeError);
    expect(() => renderSyntheticFace(opts, 0.5, 0)).toThrow(RangeError);
    expect(() => renderSyntheticFace({ ...opts, size: 0 }, 0, 0)).toThrow(/size/);
    expect(() => renderSyntheticFace({ ...opts, size: 31.5 }, 0, 0)).toThrow(/size/);
    expect(() => renderSyntheticFace({ ...opts, identities: 0 }, 0, 0)).toThrow(/identities/);
    expect(() => renderSyntheticFace({ ...opts, seed: Number.NaN }, 0, 0)).toThrow(/seed/);
  });
});
