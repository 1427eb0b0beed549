// Image formats recognised by their first bytes, never by the file name: Yale's
// files have no extension, and a text file named `.jpg` must not reach a decoder.

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif' | 'pgm' | 'ppm';

/** Formats recognised only to say why they cannot be read, and what to do instead. */
export type UnsupportedFormat = 'bmp' | 'pbm' | 'heic';

/** How many leading bytes `sniffFormat` needs at most. */
export const SNIFF_BYTES = 32;

const ascii = (bytes: Uint8Array, start: number, text: string): boolean => {
  if (bytes.length < start + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[start + i] !== text.charCodeAt(i)) return false;
  return true;
};

const isNetpbmSpace = (byte: number | undefined): boolean =>
  byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d || byte === 0x23; // space, tab, LF, CR, '#'

/** HEIF brands of HEVC-coded images and sequences (ISO/IEC 23008-12): HEIC. */
const HEVC_BRANDS = ['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx'];

export function sniffFormat(bytes: Uint8Array): ImageFormat | UnsupportedFormat | null {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(bytes, 0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (ascii(bytes, 0, 'GIF87a') || ascii(bytes, 0, 'GIF89a')) return 'gif';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return 'webp';
  if (ascii(bytes, 0, 'II*\0') || ascii(bytes, 0, 'MM\0*')) return 'tiff';
  if (ascii(bytes, 4, 'ftyp')) {
    // ISO-BMFF: the major brand says how the image is coded. sharp's prebuilt
    // libvips (sharp 0.35, libheif 1.23) reads HEIF with the AV1 codec only:
    // `sharp.format.heif.input.fileSuffix` is ['.avif'], `sharp.versions` lists aom
    // and no HEVC codec (libde265 is left out for patent reasons; saving with
    // compression 'hevc' fails with "Unsupported compression"). So HEIC photos
    // (iPhones) cannot be decoded by this build: say so instead of "damaged".
    if (ascii(bytes, 8, 'avif') || ascii(bytes, 8, 'avis')) return 'avif';
    if (HEVC_BRANDS.some((brand) => ascii(bytes, 8, brand))) return 'heic';
    // Generic HEIF brands: most often AV1 inside, which sharp reads; an HEVC one fails in the decoder and says so.
    if (ascii(bytes, 8, 'mif1') || ascii(bytes, 8, 'msf1')) return 'heif';
  }
  if (bytes[0] === 0x50 && isNetpbmSpace(bytes[2])) {
    if (bytes[1] === 0x35 || bytes[1] === 0x32) return 'pgm'; // P5 binary, P2 ASCII
    if (bytes[1] === 0x36 || bytes[1] === 0x33) return 'ppm'; // P6 binary, P3 ASCII
    if (bytes[1] === 0x34 || bytes[1] === 0x31) return 'pbm';
  }
  if (ascii(bytes, 0, 'BM') && bytes.length >= 26) return 'bmp';
  return null;
}

export function isSupported(format: ImageFormat | UnsupportedFormat | null): format is ImageFormat {
  return format !== null && format !== 'bmp' && format !== 'pbm' && format !== 'heic';
}

/**
 * What a file that is not an image seems to be, from its first bytes, for a
 * report ("an MP4 or QuickTime video", "text"), or null when nothing is recognised.
 */
export function describeContent(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return null;
  if (ascii(bytes, 4, 'ftyp')) return 'an MP4 or QuickTime video';
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'a Matroska or WebM video';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'AVI ')) return 'an AVI video';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WAVE')) return 'a WAV sound';
  if (ascii(bytes, 0, 'ID3') || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0)) return 'an MP3 sound';
  if (ascii(bytes, 0, '%PDF')) return 'a PDF document';
  if (ascii(bytes, 0, 'PK\x03\x04')) return 'a zip archive (or an Office document)';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'a gzip file';
  if (ascii(bytes, 0, '\x7fELF') || ascii(bytes, 0, 'MZ')) return 'a program';
  if (ascii(bytes, 0, '8BPS')) return 'a Photoshop document';
  const head = bytes.subarray(0, 512);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head);
  if (!/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text.slice(0, head.length >= 512 ? -4 : undefined))) {
    return /^\s*</.test(text) ? 'text (HTML or XML)' : 'text';
  }
  return null;
}
