// Follow-up of issue 14, 5.8: the Data view's import report names the images worth a look
// (misnamed files, images of another size than usual), as the trainer now sends them.
import { render, screen, within } from '@testing-library/svelte';
import { expect, test } from 'vitest';
import ImportReport from '../ImportReport.svelte';

const notices = [
  { path: 'bob/face.png', kind: 'name' as const, note: 'named .png but holds a JPEG image' },
  { path: 'bob/big.pgm', kind: 'size' as const, note: '96x96, not the usual 92x112' },
  { path: 'ann/wide.pgm', kind: 'size' as const, note: '200x112, not the usual 92x112' },
];

test('images worth a look are counted by kind and listed by name, with the usual size', () => {
  render(ImportReport, { skipped: [], notices, noticesLeftOut: 0, usualSize: { width: 92, height: 112, images: 397 } });
  const section = screen.getByRole('region', { name: 'Images worth a look' });
  expect(section).toHaveTextContent('3 images are worth a look');
  expect(section).toHaveTextContent('1 misnamed (the name says another kind of file than the content); 2 of another size than the usual 92x112 (397 images)');
  const rows = within(section).getAllByRole('row').slice(1);
  expect(rows.map((row) => row.textContent)).toEqual([
    'bob/face.pngMisnamed: named .png but holds a JPEG image',
    'bob/big.pgmSize: 96x96, not the usual 92x112',
    'ann/wide.pgmSize: 200x112, not the usual 92x112',
  ]);
});

test('a long list folds away and says how many were left out of it', () => {
  const many = Array.from({ length: 12 }, (_, i) => ({ path: `p/${i}.pgm`, kind: 'size' as const, note: '10x10, not the usual 92x112' }));
  render(ImportReport, { skipped: [], notices: many, noticesLeftOut: 5, usualSize: { width: 92, height: 112, images: 400 } });
  const section = screen.getByTestId('import-notices');
  expect(section).toHaveTextContent('17 images are worth a look');
  expect(section).toHaveTextContent('(among the 12 listed)');
  expect(section).toHaveTextContent('The first 12 are listed; 5 more are left out of the list.');
  expect(within(section).getByText('Show the 12 images worth a look')).toBeInTheDocument();
});

test('nothing worth a look says so with the usual size; an older trainer (no notices) gets no section', () => {
  const { unmount } = render(ImportReport, { skipped: [], notices: [], usualSize: { width: 92, height: 112, images: 400 } });
  expect(screen.getByTestId('import-notices')).toHaveTextContent('Nothing else worth a look: every image is 92x112.');
  unmount();
  render(ImportReport, { skipped: [] });
  expect(screen.queryByTestId('import-notices')).toBeNull();
});
