// Issue 14, 5.8 (d, e): `lab data inspect`'s report groups skipped files by reason
// (counts and examples, not one line per file cut at 50) and names the images whose
// name and content disagree or whose size is not the usual one.
import { describe, expect, test } from 'vitest';
import { openDataset } from '../../../../datasets';
import { makeIdentityFolders, makeImage, tempDir, writeFiles } from '../../../../datasets/test/fixtures';
import { describeDataset } from '../open-dataset';

describe('the import report on the command line', () => {
  test('77 files with one reason are one line with a count and three examples; misnamed and odd-sized images by name', async () => {
    const root = await tempDir();
    await makeIdentityFolders(root, 2, 3, ['jpeg']);
    const files: Record<string, Buffer | string> = {
      'person1/face.txt': await makeImage('jpeg', 40),
      'person2/big.jpg': await makeImage('jpeg', 42, 96, 96),
      'person2/.DS_Store': 'x',
    };
    for (let i = 0; i < 77; i++) files[`person${1 + (i % 2)}/note${String(i).padStart(2, '0')}.txt`] = `note ${i}\n`;
    await writeFiles(root, files);
    const dataset = await openDataset(root, { dataDir: await tempDir('fcl-data-'), inputSize: 32 });
    const text = describeDataset(dataset, 32);
    const lines = text.split('\n');
    const notImage = "not an image the lab can read (its content is not JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF or PGM/PPM, whatever its name says)";
    const at = lines.indexOf('Skipped:     78 files, for 2 reasons');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 7)).toEqual([
      `  77 x ${notImage}:`,
      '      person1/note00.txt',
      '      person1/note02.txt',
      '      person1/note04.txt',
      '      … and 74 more',
      '  person2/.DS_Store: hidden or system file',
    ]);
    expect(text.split(notImage)).toHaveLength(2); // said once, not 77 times
    expect(text).toContain("Misnamed:    1 image whose name and content disagree (imported by their content)\n  person1/face.txt: named .txt, not an image's extension, but holds a JPEG image; imported by its content");
    expect(text).toContain('Other sizes: 1 image not of the usual 48x56 (7 images)\n  person2/big.jpg: 96x96, not the usual 48x56');
  });
});
