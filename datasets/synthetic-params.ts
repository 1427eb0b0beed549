// The parameters of a synthetic face, drawn from the Rng: the fixed geometry of
// each identity, and the variation of each image of it. No pixels here: the
// drawing is in synthetic-draw.ts, and synthetic.ts ties the two together.
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
import { Rng } from './random';

// Keys that keep these streams apart from any other use of the same seed.
const GEOMETRY_STREAM = 0x5f1d;
const IMAGE_STREAM = 0x1a6e;

/**
 * The stream of one image: drawVariation takes its parameters from the start of
 * it, and the pixel noise is drawn from what follows.
 */
export function imageRng(seed: number, identity: number, image: number): Rng {
  return Rng.derive(seed, IMAGE_STREAM, identity, image);
}

// -- geometry of one identity -------------------------------------------------
// Units: the image spans [-1, 1] in x and y (y grows downwards) at pose scale 1;
// the face's own frame is centred horizontally on the face.

export const Hair = { Short: 0, Long: 1, Receding: 2, Fringe: 3, SidePart: 4 } as const;
export type Hair = (typeof Hair)[keyof typeof Hair];
const HAIR_STYLES = 5;

export interface Identity {
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

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

export function drawIdentity(seed: number, identity: number): Identity {
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

export interface Variation {
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

export function drawVariation(r: Rng, id: Identity): Variation {
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
