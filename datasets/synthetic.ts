// The built-in synthetic face set: procedurally drawn, face-like grey images for
// zero-setup offline demos and tests. Not real people, and always named so.
//
// Every identity has a fixed geometry (face shape, skin tone, eyes, brows, nose,
// mouth, ears, hair line and style, and sometimes glasses, a moustache or a
// beard), drawn from Rng.derive(seed, GEOMETRY, identity). Every image varies the
// pose (translation, in-plane rotation, a slight yaw imitated by an asymmetric
// horizontal squeeze), the scale, the lighting, the expression (smile or frown,
// open mouth, eye openness and blinks, raised brows, gaze), the background, the
// clothes, the exposure and the pixel noise, drawn from
// Rng.derive(seed, IMAGE, identity, image). So asking for more identities or more
// images never changes the ones already drawn.
//
// Drawing: each pixel is mapped back into the face's own coordinate frame, where
// every part is a shape with an (approximate) signed distance; a shape covers a
// pixel by a smoothstep over one pixel of that distance, so edges are
// anti-aliased at any size. Parts are composited back to front.
import { Rng } from './random';

export interface SyntheticOptions {
  /** How many different people. */
  identities: number;
  /** How many images of each. */
  imagesPerIdentity: number;
  /** Side of the square grey image, in pixels. */
  size: number;
  /** The same seed always draws the same faces, byte for byte. */
  seed: number;
}

export const SYNTHETIC_DEFAULTS: SyntheticOptions = Object.freeze({
  identities: 20,
  imagesPerIdentity: 12,
  size: 128,
  seed: 1,
});

/** Prefix of every synthetic identity's name, so it is never taken for a real person. */
export const SYNTHETIC_IDENTITY_PREFIX = 'synthetic-';

/** `synthetic-001` for identity 0: numbered from 1 like the images, padded to 3 digits. */
export function syntheticIdentityName(i: number): string {
  if (!Number.isInteger(i) || i < 0) throw new RangeError(`identity index must be a non-negative integer, not ${i}`);
  return `${SYNTHETIC_IDENTITY_PREFIX}${String(i + 1).padStart(3, '0')}`;
}

/**
 * Bumped whenever a change to the drawing changes the pixels for the same
 * options, so caches of rendered sets can tell a stale copy from a current one.
 */
export const SYNTHETIC_GENERATOR_VERSION = 1;

// Keys that keep these streams apart from any other use of the same seed.
const GEOMETRY_STREAM = 0x5f1d;
const IMAGE_STREAM = 0x1a6e;

/** Side lengths outside this range are refused: too small to show a face, or absurdly large. */
const MIN_SIZE = 8;
const MAX_SIZE = 4096;

// -- geometry of one identity -------------------------------------------------
// Units: the image spans [-1, 1] in x and y (y grows downwards) at pose scale 1;
// the face's own frame is centred horizontally on the face.

const Hair = { Short: 0, Long: 1, Receding: 2, Fringe: 3, SidePart: 4 } as const;
type Hair = (typeof Hair)[keyof typeof Hair];
const HAIR_STYLES = 5;

interface Identity {
  readonly faceRx: number;
  readonly faceRy: number;
  readonly faceCy: number;
  /** How much the face narrows towards the chin (0 = plain ellipse). */
  readonly jaw: number;
  /** How much it narrows towards the crown. */
  readonly crown: number;
  readonly skin: number;

  readonly eyeY: number;
  readonly eyeDx: number;
  readonly eyeRx: number;
  readonly eyeRy: number;
  /** Outer corners up (>0) or down, radians. */
  readonly eyeTilt: number;
  readonly irisR: number;
  readonly irisTone: number;

  readonly browGap: number;
  readonly browLen: number;
  readonly browThick: number;
  readonly browArch: number;
  readonly browTilt: number;
  readonly browTone: number;

  readonly noseY: number;
  readonly noseW: number;
  readonly noseTop: number;

  readonly mouthY: number;
  readonly mouthW: number;
  readonly lipThick: number;
  readonly lipTone: number;
  readonly baseSmile: number;

  readonly earRx: number;
  readonly earRy: number;
  readonly earY: number;

  readonly hairStyle: Hair;
  readonly hairTone: number;
  readonly hairThick: number;
  /** Hair line at the centre, as y in the face frame. */
  readonly hairLine: number;
  /** Where the hair line meets the ears (sideburns), as y in the face frame. */
  readonly hairSide: number;
  /** Shape of the hair line from the centre to the sides: 2 round, 8 square. */
  readonly hairPow: number;
  /** Slant of the hair line (a side part). */
  readonly hairSlant: number;
  /** Long hair: how far down it falls, and how far out beside the face. */
  readonly hairFall: number;
  readonly hairWidth: number;
  readonly hairStreak: number;
  /** Ragged ends of the hair at the hair line: depth and frequency. */
  readonly hairJag: number;
  readonly hairJagFreq: number;
  readonly hairPhase: number;

  readonly glasses: boolean;
  readonly glassesR: number;
  readonly moustache: boolean;
  readonly moustacheThick: number;
  readonly beard: boolean;
  readonly beardLine: number;
  readonly beardDensity: number;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function drawIdentity(seed: number, identity: number): Identity {
  const r = Rng.derive(seed, GEOMETRY_STREAM, identity);
  const faceRx = r.uniform(0.5, 0.66);
  const faceRy = r.uniform(0.7, 0.84);
  const faceCy = r.uniform(0.04, 0.1);
  const jaw = r.uniform(0.05, 0.42);
  const crown = r.uniform(0.0, 0.1);
  const skin = r.uniform(0.42, 0.84);

  const eyeY = faceCy + r.uniform(-0.14, -0.02);
  const eyeDx = faceRx * r.uniform(0.36, 0.5);
  const eyeRx = r.uniform(0.075, 0.11);
  const eyeRy = eyeRx * r.uniform(0.42, 0.64);
  const eyeTilt = r.uniform(-0.18, 0.18);
  const irisR = eyeRy * r.uniform(0.85, 1.1);
  const irisTone = r.uniform(0.08, 0.42);

  const browGap = r.uniform(0.06, 0.12);
  const browLen = eyeRx * r.uniform(1.1, 1.6);
  const browThick = r.uniform(0.012, 0.03);
  const browArch = r.uniform(-0.005, 0.04);
  const browTilt = r.uniform(-0.2, 0.2);

  const noseY = eyeY + r.uniform(0.25, 0.4);
  const noseW = r.uniform(0.055, 0.11);
  const noseTop = r.uniform(0.3, 0.8);

  const chin = faceCy + faceRy;
  const mouthY = Math.min(noseY + r.uniform(0.12, 0.22), chin - 0.18);
  const mouthW = r.uniform(0.13, 0.24);
  const lipThick = r.uniform(0.012, 0.03);
  const lipTone = skin * r.uniform(0.55, 0.8);
  const baseSmile = r.uniform(-0.012, 0.03);

  const earRx = r.uniform(0.05, 0.08);
  const earRy = r.uniform(0.1, 0.15);
  const earY = eyeY + r.uniform(0.04, 0.12);

  const hairStyle = r.int(HAIR_STYLES) as Hair;
  let hairTone = r.uniform(0.04, 0.78);
  // Keep the hair visible against the skin.
  if (Math.abs(hairTone - skin) < 0.22) hairTone = skin > 0.5 ? skin - 0.3 : Math.min(0.92, skin + 0.3);
  const hairThick = r.uniform(0.05, 0.16);
  const top = faceCy - faceRy;
  const hairSide = earY - earRy * r.uniform(0.2, 0.8);
  let hairLine: number;
  let hairPow: number;
  let hairSlant = 0;
  switch (hairStyle) {
    case Hair.Receding:
      hairLine = top + r.uniform(0.03, 0.1);
      hairPow = r.uniform(5, 9);
      break;
    case Hair.Fringe:
      hairLine = eyeY - browGap - r.uniform(0.05, 0.13);
      hairPow = r.uniform(3, 8);
      break;
    case Hair.SidePart:
      hairLine = top + r.uniform(0.2, 0.3);
      hairPow = r.uniform(2, 4);
      hairSlant = (r.next() < 0.5 ? -1 : 1) * r.uniform(0.12, 0.25);
      break;
    default:
      hairLine = top + r.uniform(0.2, 0.32);
      hairPow = r.uniform(2, 5);
  }
  const hairFall = hairStyle === Hair.Long ? r.uniform(0.75, 1.4) : 0;
  const hairWidth = hairStyle === Hair.Long ? r.uniform(0.08, 0.22) : 0;
  const hairStreak = r.uniform(0.01, 0.045);
  const hairPhase = r.uniform(0, Math.PI * 2);
  const hairJag = r.uniform(0, 0.035);
  const hairJagFreq = r.uniform(20, 45);
  const browTone = clamp(Math.min(hairTone, skin - 0.25) * r.uniform(0.8, 1.1), 0.03, 0.6);

  const glasses = r.next() < 0.2;
  const glassesR = eyeRx * r.uniform(1.35, 1.7);
  const moustache = r.next() < 0.18;
  const moustacheThick = r.uniform(0.02, 0.035);
  const beard = r.next() < 0.12 && hairTone < skin - 0.15;
  const beardLine = r.uniform(-0.02, 0.06);
  const beardDensity = r.uniform(0.35, 0.75);

  return {
    faceRx, faceRy, faceCy, jaw, crown, skin,
    eyeY, eyeDx, eyeRx, eyeRy, eyeTilt, irisR, irisTone,
    browGap, browLen, browThick, browArch, browTilt, browTone,
    noseY, noseW, noseTop,
    mouthY, mouthW, lipThick, lipTone, baseSmile,
    earRx, earRy, earY,
    hairStyle, hairTone, hairThick, hairLine, hairSide, hairPow, hairSlant, hairFall, hairWidth, hairStreak, hairJag, hairJagFreq, hairPhase,
    glasses, glassesR, moustache, moustacheThick, beard, beardLine, beardDensity,
  };
}

// -- variation of one image ---------------------------------------------------

interface Variation {
  readonly tx: number;
  readonly ty: number;
  readonly rotation: number;
  readonly scale: number;
  /** Positive turns the face towards the viewer's right. */
  readonly yaw: number;
  /** Direction towards the light (unit vector, z out of the image). */
  readonly lx: number;
  readonly ly: number;
  readonly lz: number;
  readonly ambient: number;
  /** A linear brightness ramp across the whole image. */
  readonly rampX: number;
  readonly rampY: number;
  readonly background: number;
  readonly clothes: number;
  readonly smile: number;
  readonly mouthOpen: number;
  readonly eyeOpen: number;
  readonly browRaise: number;
  readonly gazeX: number;
  readonly gazeY: number;
  readonly gain: number;
  readonly noise: number;
}

function drawVariation(r: Rng, id: Identity): Variation {
  const tx = clamp(r.normal() * 0.05, -0.12, 0.12);
  const ty = clamp(r.normal() * 0.05, -0.12, 0.12);
  const rotation = clamp(r.normal() * 0.08, -0.2, 0.2);
  const scale = r.uniform(0.94, 1.1);
  const yaw = clamp(r.normal() * 0.07, -0.16, 0.16);

  const azimuth = r.uniform(0, Math.PI * 2);
  const lateral = r.uniform(0, 0.9);
  const norm = Math.hypot(lateral, 1);
  const lx = (lateral * Math.cos(azimuth)) / norm;
  const ly = (lateral * Math.sin(azimuth)) / norm;
  const lz = 1 / norm;
  const ambient = r.uniform(0.35, 0.6);
  const ramp = r.uniform(0, 0.22);
  const rampX = ramp * Math.cos(azimuth);
  const rampY = ramp * Math.sin(azimuth);

  const background = r.uniform(0.18, 0.82);
  const clothes = r.uniform(0.08, 0.9);

  const smile = clamp(id.baseSmile + r.normal() * 0.025, -0.045, 0.075);
  const mouthOpen = r.next() < 0.3 ? r.uniform(0.006, 0.04) : 0;
  const blink = r.next() < 0.1;
  const eyeOpen = blink ? r.uniform(0.04, 0.2) : r.uniform(0.7, 1.15);
  const browRaise = clamp(r.normal() * 0.015, -0.03, 0.04);
  const gazeX = clamp(r.normal() * 0.25, -0.45, 0.45) * id.eyeRx;
  const gazeY = clamp(r.normal() * 0.12, -0.2, 0.2) * id.eyeRy;

  const gain = r.uniform(0.88, 1.1);
  const noise = r.uniform(0.004, 0.025);
  return {
    tx, ty, rotation, scale, yaw, lx, ly, lz, ambient, rampX, rampY, background, clothes,
    smile, mouthOpen, eyeOpen, browRaise, gazeX, gazeY, gain, noise,
  };
}

// -- shapes -------------------------------------------------------------------

/** Approximate signed distance to an axis-aligned ellipse (first order: f / |∇f|). */
function ellipseD(dx: number, dy: number, rx: number, ry: number): number {
  const ux = dx / rx;
  const uy = dy / ry;
  const k = Math.sqrt(ux * ux + uy * uy);
  const gx = ux / rx;
  const gy = uy / ry;
  const g = Math.sqrt(gx * gx + gy * gy);
  if (g < 1e-9) return -Math.min(rx, ry);
  return ((k - 1) * k) / g;
}

/**
 * A curved band, such as a lip, a brow or a closed eye: centre line
 * y = bend * u² over |u| = |dx / halfLength| <= 1, half thickness
 * thick * (1 - taper * u²).
 */
function bandD(dx: number, dy: number, halfLength: number, bend: number, thick: number, taper: number): number {
  const u = dx / halfLength;
  const uc = u > 1 ? 1 : u < -1 ? -1 : u;
  const centre = bend * uc * uc;
  const t = thick * (1 - taper * uc * uc);
  const across = Math.abs(dy - centre) - t;
  const along = Math.abs(dx) - halfLength;
  return across > along ? across : along;
}

/** Coverage of a shape at signed distance d, smoothed over one pixel of width px. */
function cover(d: number, px: number): number {
  const t = 0.5 - d / px;
  if (t <= 0) return 0;
  if (t >= 1) return 1;
  return t * t * (3 - 2 * t);
}

// -- rendering ----------------------------------------------------------------

function checkOptions(options: SyntheticOptions, identity: number, image: number): void {
  const { identities, imagesPerIdentity, size, seed } = options;
  if (!Number.isInteger(identities) || identities < 1) throw new RangeError(`identities must be a positive integer, not ${identities}`);
  if (!Number.isInteger(imagesPerIdentity) || imagesPerIdentity < 1) {
    throw new RangeError(`imagesPerIdentity must be a positive integer, not ${imagesPerIdentity}`);
  }
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) {
    throw new RangeError(`size must be an integer from ${MIN_SIZE} to ${MAX_SIZE}, not ${size}`);
  }
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, not ${seed}`);
  if (!Number.isInteger(identity) || identity < 0 || identity >= identities) {
    throw new RangeError(`identity must be an integer in [0, ${identities}), not ${identity}`);
  }
  if (!Number.isInteger(image) || image < 0 || image >= imagesPerIdentity) {
    throw new RangeError(`image must be an integer in [0, ${imagesPerIdentity}), not ${image}`);
  }
}

/**
 * One synthetic face: `size * size` grey bytes, row-major, top row first.
 * Deterministic in (options.seed, identity, image, size); the other options only
 * bound the indices.
 */
export function renderSyntheticFace(options: SyntheticOptions, identity: number, image: number): Uint8Array {
  checkOptions(options, identity, image);
  const id = drawIdentity(options.seed, identity);
  const rng = Rng.derive(options.seed, IMAGE_STREAM, identity, image);
  const v = drawVariation(rng, id);
  const size = options.size;
  const out = new Uint8Array(size * size);

  // Pose: image point q = t + scale * R(rotation) * yawWarp(p) for face point p.
  const cosR = Math.cos(-v.rotation);
  const sinR = Math.sin(-v.rotation);
  const invScale = 1 / v.scale;
  /** One pixel, in face units. */
  const px = 2 / (size * v.scale);
  const halfPx = px / 2;
  // Yaw: x' = x + yaw * R * (1 - (x / R)²) inside |x| < R: the middle of the face
  // shifts sideways, one half is squeezed, the other stretched, the outline stays.
  const yawR = (id.faceRx + id.earRx) * 1.1;
  const yawK = v.yaw / yawR;
  const yawShift = v.yaw * yawR;

  const { faceRx, faceRy, faceCy, jaw, crown } = id;
  const top = faceCy - faceRy;
  const chin = faceCy + faceRy;
  // Head "sphere" for shading: normals from an ellipsoid a little bigger than the face.
  const shadeRx = 1 / (faceRx + 0.12);
  const shadeRy = 1 / (faceRy + 0.12);

  // Expression-dependent geometry.
  const eyeRy = Math.max(id.eyeRy * v.eyeOpen, 0.004);
  const lidThick = Math.max(0.008, id.eyeRx * 0.1);
  const browY = id.eyeY - id.browGap - v.browRaise;
  const mouthBend = -v.smile; // corners up when smiling (y grows downwards)
  const lipThick = id.lipThick + v.mouthOpen * 0.6;
  const mouthHalf = id.mouthW * (1 + v.smile * 1.5);
  const eyeCos = Math.cos(id.eyeTilt);
  const eyeSin = Math.sin(id.eyeTilt);

  // Hair: an ellipse around the head, kept above the hair line.
  const hairRx = faceRx + id.hairThick * 0.6;
  const hairRy = faceRy + id.hairThick * 0.9;
  const hairCy = faceCy - id.hairThick * 0.4;
  const hairSideX = 1 / (faceRx * 0.97);
  const hairTop = hairCy - hairRy;
  const longHair = id.hairStyle === Hair.Long;
  const longBottom = faceCy + id.hairFall;
  const longRx = faceRx + id.hairWidth;

  // Neck and shoulders.
  const neckW = faceRx * 0.5;
  const shoulderCy = chin + 0.62;

  // Lighting of skin and hair, in [ambient, 1].
  const diffuse = 1 - v.ambient;
  const noseShadowSide = v.lx > 0 ? -1 : 1;

  // Pixel noise, drawn from the image's stream after all its parameters.
  const sigma = v.noise * 255;
  for (let row = 0; row < size; row++) {
    const qy = ((row + 0.5) / size) * 2 - 1;
    for (let col = 0; col < size; col++) {
      const qx = ((col + 0.5) / size) * 2 - 1;
      // Back into the face frame.
      const sx = (qx - v.tx) * invScale;
      const sy = (qy - v.ty) * invScale;
      const wx = cosR * sx - sinR * sy;
      const y = sinR * sx + cosR * sy;
      let x = wx;
      if (wx > -yawR && wx < yawR && yawK !== 0) {
        const c = wx - yawShift;
        const disc = 1 - 4 * yawK * c;
        if (disc > 0) {
          const inv = (2 * c) / (1 + Math.sqrt(disc));
          if (inv > -yawR && inv < yawR) x = inv;
        }
      }
      const ax = Math.abs(x);

      // Background with a ramp.
      let value = v.background * (1 + v.rampX * qx + v.rampY * qy);

      // Shading of the head at this point (used by skin and hair).
      const nx = x * shadeRx;
      const ny = (y - faceCy) * shadeRy;
      const nn = nx * nx + ny * ny;
      const nz = nn < 1 ? Math.sqrt(1 - nn) : 0;
      const lambert = nx * v.lx + ny * v.ly + nz * v.lz;
      const shade = v.ambient + diffuse * (lambert > 0 ? lambert : 0);

      // Shoulders (clothes).
      if (y > chin - 0.1) {
        const d = ellipseD(x, y - shoulderCy, 1.25, 0.62);
        const a = cover(d, px);
        if (a > 0) value += (v.clothes * (0.8 + 0.2 * shade) - value) * a;
      }

      // Long hair behind the head.
      if (longHair && y < longBottom + px && ax < longRx + px) {
        const dTop = ellipseD(x, y - hairCy, longRx, hairRy);
        const d = y < faceCy ? dTop : Math.max(ax - longRx, y - longBottom);
        const a = cover(d, px);
        if (a > 0) {
          const streak = id.hairStreak * Math.sin(x * 60 + id.hairPhase);
          value += ((id.hairTone + streak) * (0.55 + 0.3 * shade) - value) * a;
        }
      }

      // Neck, darker under the chin.
      if (y > faceCy && ax < neckW + px) {
        const d = Math.max(ax - neckW, faceCy - y);
        const a = cover(d, px);
        if (a > 0) {
          const under = clamp((y - chin) * 6, 0, 1);
          value += (id.skin * (0.55 + 0.25 * under) * (0.8 + 0.2 * shade) - value) * a;
        }
      }

      // Ears.
      if (ax > faceRx - id.earRx * 1.5 && ax < faceRx + id.earRx * 1.2 && Math.abs(y - id.earY) < id.earRy + px) {
        const d = ellipseD(ax - (faceRx - id.earRx * 0.15), y - id.earY, id.earRx, id.earRy);
        const a = cover(d, px);
        if (a > 0) {
          const inner = cover(ellipseD(ax - faceRx - id.earRx * 0.05, y - id.earY, id.earRx * 0.45, id.earRy * 0.6), px);
          value += (id.skin * shade * (0.85 - 0.2 * inner) - value) * a;
        }
      }

      // The face: an ellipse narrowing towards the chin (jaw) and the crown.
      const fy = (y - faceCy) / faceRy;
      const narrow = fy > 0 ? 1 - jaw * fy * fy : 1 - crown * fy * fy;
      const fRx = faceRx * narrow;
      const inFace = ax < fRx + faceRx * 0.2 && y > top - px && y < chin + px;
      let faceA = 0;
      let faceD = 1;
      if (inFace) {
        faceD = ellipseD(x, y - faceCy, fRx, faceRy);
        faceA = cover(faceD, px);
        if (faceA > 0) value += (id.skin * shade - value) * faceA;
      }

      if (faceA > 0) {
        // Beard: the lower face, below a line from the sideburns round under the nose.
        if (id.beard && y > id.noseY) {
          const line = id.mouthY - 0.05 + id.beardLine - 0.3 * ax * ax;
          const a = cover(line - y, 0.04 + px) * faceA;
          if (a > 0) value += (id.hairTone * (0.6 + 0.4 * shade) - value) * a * id.beardDensity;
        }

        // Nose: a shadow along one side, a soft shadow under the tip, and the nostrils.
        const noseTopY = id.eyeY + (id.noseY - id.eyeY) * id.noseTop;
        if (y > noseTopY - px && y < id.noseY + 0.06 && ax < id.noseW * 1.6) {
          const side = x * noseShadowSide;
          const ridge = bandD(y - (noseTopY + id.noseY) * 0.5, side - id.noseW * 0.45, (id.noseY - noseTopY) * 0.5, 0, 0.012, 0.3);
          const aRidge = cover(ridge, px * 2) * (0.1 + 0.25 * (1 - v.lz));
          const under = ellipseD(x, y - id.noseY - 0.012, id.noseW * 0.9, 0.022);
          const aUnder = cover(under, px * 2) * 0.2;
          const nostril = ellipseD(ax - id.noseW * 0.42, y - id.noseY, id.noseW * 0.26, id.noseW * 0.15);
          const aNostril = cover(nostril, px) * 0.65;
          const dark = Math.max(aRidge, aUnder, aNostril) * faceA;
          value *= 1 - dark;
        }

        // Mouth: lips, and the dark inside when open.
        if (ax < mouthHalf + px && Math.abs(y - id.mouthY) < lipThick + 0.1) {
          const dy = y - id.mouthY;
          const lips = bandD(x, dy, mouthHalf, mouthBend, lipThick, 0.85);
          const aLips = cover(lips, px);
          if (aLips > 0) value += (id.lipTone * shade - value) * aLips;
          const gap = bandD(x, dy, mouthHalf * 0.92, mouthBend, Math.max(v.mouthOpen * 0.5, 0.004), 0.9);
          const aGap = cover(gap, px);
          if (aGap > 0) value += (0.08 - value) * aGap;
        }

        // Moustache.
        if (id.moustache && ax < id.mouthW * 1.05 + px) {
          const my = (id.noseY + id.mouthY) * 0.5 + 0.01;
          const d = bandD(x, y - my, id.mouthW * 1.05, 0.035 - v.smile * 0.5, id.moustacheThick, 0.7);
          const a = cover(d, px);
          if (a > 0) value += (id.hairTone * 0.8 * (0.6 + 0.4 * shade) - value) * a;
        }

        // Eyes and brows, mirrored.
        const ex = ax - id.eyeDx;
        const mirror = x < 0 ? -1 : 1;
        if (Math.abs(ex) < id.browLen + 0.05 && y > browY - 0.1 && y < id.eyeY + id.eyeRy * 1.6 + 0.02) {
          // Tilt about the eye centre; outer corner is at ex > 0.
          const ey = y - id.eyeY;
          const tx = eyeCos * ex + eyeSin * ey;
          const ty = -eyeSin * ex + eyeCos * ey;
          // Socket shadow above the eye.
          const socket = ellipseD(tx, ty + id.eyeRy * 0.4, id.eyeRx * 1.45, id.eyeRy * 2.1);
          const aSocket = cover(socket, px * 4) * 0.12;
          value *= 1 - aSocket * faceA;
          // Eye white and iris, inside the opening.
          const eye = ellipseD(tx, ty, id.eyeRx, eyeRy);
          const aEye = cover(eye, px);
          if (aEye > 0) {
            value += (0.86 * (0.55 + 0.45 * shade) - value) * aEye;
            const ix = tx - v.gazeX * mirror;
            const iy = ty - v.gazeY;
            const iris = Math.max(Math.sqrt(ix * ix + iy * iy) - id.irisR, eye);
            const aIris = cover(iris, px);
            if (aIris > 0) value += (id.irisTone - value) * aIris;
            const pupil = Math.max(Math.sqrt(ix * ix + iy * iy) - id.irisR * 0.45, eye);
            const aPupil = cover(pupil, px);
            if (aPupil > 0) value += (0.03 - value) * aPupil;
          }
          // Upper lid line, and the lash line of a closed eye.
          const lid = Math.max(Math.abs(eye) - lidThick * 0.5, ty - lidThick * 0.3);
          const aLid = cover(lid, px);
          if (aLid > 0) value += (0.1 - value) * aLid;
          // Brow.
          const bx = ex - id.browLen * 0.15;
          const by = y - browY + id.browTilt * bx;
          const brow = bandD(bx, by, id.browLen, id.browArch, id.browThick, 0.6);
          const aBrow = cover(brow, px);
          if (aBrow > 0) value += (id.browTone - value) * aBrow;
        }
      }

      // Hair on top of the head, down to the hair line.
      if (y < id.hairSide + px && ax < hairRx + px) {
        const dOut = ellipseD(x, y - hairCy, hairRx, hairRy);
        // Above the hair line, or beside the face (the hair wraps round the head).
        let d = dOut;
        if (dOut < halfPx && faceD < halfPx) {
          const u = ax * hairSideX;
          const jag = id.hairJag * Math.abs(Math.sin(x * id.hairJagFreq + id.hairPhase));
          const line = id.hairLine + jag + id.hairSlant * x + (id.hairSide - id.hairLine) * (u >= 1 ? 1 : Math.pow(u, id.hairPow));
          const inner = Math.min(y - line, -faceD);
          if (inner > d) d = inner;
        }
        const a = cover(d, px);
        if (a > 0) {
          // Strands fanning out from the crown.
          const streak = id.hairStreak * Math.sin((x * 40) / (y - hairTop + 0.35) + id.hairPhase);
          value += ((id.hairTone + streak) * (0.5 + 0.5 * shade) - value) * a;
        }
      }

      // Glasses: two rings and a bridge.
      if (id.glasses && Math.abs(y - id.eyeY) < id.glassesR + px && ax < id.eyeDx + id.glassesR + px) {
        const ex = ax - id.eyeDx;
        const ey = y - id.eyeY;
        const ring = Math.abs(Math.sqrt(ex * ex + ey * ey) - id.glassesR) - 0.011;
        const bridge = bandD(x, ey + id.glassesR * 0.15, id.eyeDx - id.glassesR * 0.95, -0.02, 0.009, 0);
        const a = cover(Math.min(ring, bridge), px);
        if (a > 0) value += (0.06 - value) * a;
      }

      out[row * size + col] = toByte(value * v.gain, approxNormal(rng) * sigma);
    }
  }
  return out;
}

/**
 * Roughly standard normal from one 32-bit draw: the sum of its four bytes
 * (Irwin-Hall), centred and scaled. Ample for pixel noise, and much cheaper than
 * Box-Muller per pixel.
 */
function approxNormal(rng: Rng): number {
  const u = rng.nextUint32();
  const sum = (u & 0xff) + ((u >>> 8) & 0xff) + ((u >>> 16) & 0xff) + (u >>> 24);
  return (sum - 510) * IRWIN_HALL_4_SCALE;
}

/** 1 / standard deviation of the sum of four uniform bytes. */
const IRWIN_HALL_4_SCALE = 1 / Math.sqrt((4 * (256 * 256 - 1)) / 12);

function toByte(value: number, noise: number): number {
  const q = value * 255 + noise;
  return q <= 0 ? 0 : q >= 255 ? 255 : Math.round(q);
}
