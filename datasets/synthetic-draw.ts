// Drawing a synthetic face: its identity's geometry and its image's variation
// (synthetic-params.ts) rasterised into grey bytes, with the pixel noise.
//
// Each pixel is mapped back into the face's own coordinate frame, where every
// part is a shape with an (approximate) signed distance; a shape covers a pixel
// by a smoothstep over one pixel of that distance, so edges are anti-aliased at
// any size. Parts are composited back to front.
import type { Rng } from './random';
import { clamp, Hair } from './synthetic-params';
import type { Identity, Variation } from './synthetic-params';

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

/**
 * The face of identity `id` in image variation `v`: `size * size` grey bytes,
 * row-major, top row first. The pixel noise is drawn from `rng`, the image's
 * stream, after the variation.
 */
export function drawFace(id: Identity, v: Variation, size: number, rng: Rng): Uint8Array {
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
