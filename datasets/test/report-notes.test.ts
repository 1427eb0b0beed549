// Issue 14, 5.8 (d, e): the import report groups skipped files by reason, and names
// the images whose name and content disagree and those of an unusual size.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { importDataset } from '../import';
import { extensionOf, groupByReason, imageNotes, nameContentMismatch } from '../report-notes';
import { describeContent } from '../sniff';
import { makeIdentityFolders, makeImage, tempDir, writeFiles } from './fixtures';

describe('groupByReason', () => {
  test('one group per reason, most frequent first, counts and the first examples', () => {
    const skipped = [
      ...Array.from({ length: 77 }, (_, i) => ({ path: `p/${i}.txt`, reason: 'not an image' })),
      { path: 'a/.DS_Store', reason: 'hidden or system file' },
      { path: 'b/Thumbs.db', reason: 'hidden or system file' },
      { path: 'c/tiny.png', reason: 'too small' },
    ];
    expect(groupByReason(skipped, 3)).toEqual([
      { reason: 'not an image', count: 77, examples: ['p/0.txt', 'p/1.txt', 'p/2.txt'] },
      { reason: 'hidden or system file', count: 2, examples: ['a/.DS_Store', 'b/Thumbs.db'] },
      { reason: 'too small', count: 1, examples: ['c/tiny.png'] },
    ]);
  });
});

describe('names and content', () => {
  test('an image whose extension is a non-image one, or another format\'s, disagrees; an unknown ending (Yale\'s) does not', () => {
    expect(nameContentMismatch('s1/face.txt', 'jpeg')).toBe("named .txt, not an image's extension, but holds a JPEG image; imported by its content");
    expect(nameContentMismatch('s1/face.MP4', 'png')).toMatch(/^named \.mp4, not an image's extension/);
    expect(nameContentMismatch('s1/face.png', 'jpeg')).toBe('named .png but holds a JPEG image');
    expect(nameContentMismatch('s1/face.bmp', 'jpeg')).toBe('named .bmp but holds a JPEG image');
    expect(nameContentMismatch('s1/face.JPG', 'jpeg')).toBeNull();
    expect(nameContentMismatch('s1/face.pnm', 'pgm')).toBeNull();
    expect(nameContentMismatch('s1/face.heic', 'avif')).toBeNull();
    expect(nameContentMismatch('yalefaces/subject01.glasses', 'gif')).toBeNull();
    expect(nameContentMismatch('orl/s1/1', 'pgm')).toBeNull();
    expect(extensionOf('a.b/.hidden')).toBe('');
  });

  test('what a file that is not an image looks like', () => {
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypisom\0\0\x02\0isomiso2mp41', 'latin1')]);
    expect(describeContent(mp4)).toBe('an MP4 or QuickTime video');
    expect(describeContent(Buffer.from('%PDF-1.7\n'))).toBe('a PDF document');
    expect(describeContent(Buffer.from('hello, world\n'))).toBe('text');
    expect(describeContent(Buffer.from('<!DOCTYPE html><html>'))).toBe('text (HTML or XML)');
    expect(describeContent(Buffer.from([0x00, 0x01, 0x02, 0xfe, 0x80, 0x00]))).toBeNull();
  });
});

describe('sizes', () => {
  const image = (relPath: string, width: number, height: number) => ({ relPath, format: 'pgm' as const, width, height });

  test('images not of the usual size are named, with their size', () => {
    const notes = imageNotes([image('a/1.pgm', 92, 112), image('a/2.pgm', 92, 112), image('b/1.pgm', 640, 480), image('b/2.pgm', 92, 112)]);
    expect(notes.usualSize).toEqual({ width: 92, height: 112, images: 3 });
    expect(notes.notices).toEqual([{ path: 'b/1.pgm', kind: 'size', note: '640x480, not the usual 92x112' }]);
  });

  test('when no size has half the images, none is usual and none singled out', () => {
    const notes = imageNotes([image('a', 10, 10), image('b', 20, 20), image('c', 30, 30)]);
    expect(notes).toEqual({ usualSize: null, notices: [] });
  });
});

describe('the import report', () => {
  test('names misnamed images, files named like images that are not, and images of another size', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 2, 3, ['jpeg']);
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypisom\0\0\x02\0isomiso2mp41', 'latin1'), Buffer.alloc(200)]);
    await writeFiles(root, {
      'person1/face.txt': await makeImage('jpeg', 40),
      'person2/face.png': await makeImage('jpeg', 41),
      'person2/clip.jpg': mp4,
      'person2/big.jpg': await makeImage('jpeg', 42, 96, 96),
    });
    await writeFile(join(root, 'person1', 'notes.jpeg'), 'a note, not a face\n');
    const dataset = await importDataset(root, { dataDir: await tempDir('fcl-data-'), inputSize: 32 });
    const r = dataset.report;
    expect(r.skipped).toEqual([
      { path: 'person1/notes.jpeg', reason: 'named like an image (.jpeg) but its content is not an image: it looks like text' },
      { path: 'person2/clip.jpg', reason: 'named like an image (.jpg) but its content is not an image: it looks like an MP4 or QuickTime video' },
    ]);
    expect(r.usualSize).toEqual({ width: 48, height: 56, images: 8 });
    expect(r.notices).toEqual([
      { path: 'person1/face.txt', kind: 'name', note: "named .txt, not an image's extension, but holds a JPEG image; imported by its content" },
      { path: 'person2/face.png', kind: 'name', note: 'named .png but holds a JPEG image' },
      { path: 'person2/big.jpg', kind: 'size', note: '96x96, not the usual 48x56' },
    ]);
  });
});
