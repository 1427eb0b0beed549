import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, expect, test, vi } from 'vitest';
import RunDetail from '../RunDetail.svelte';
import { scriptedSession } from '../../../test-support/scripted-trainer';
import { getRunReply, RELU_ID, snapshotReply } from './fixtures';

afterEach(() => {
  delete (window as { lab?: unknown }).lab;
});

async function detail() {
  const { session } = await scriptedSession({
    getRun: ({ runId }) => getRunReply(runId),
    getEvaluation: () => null,
    listSnapshots: () => ({ snapshots: [] }),
    loadSnapshot: ({ step }) => snapshotReply(step),
  });
  render(RunDetail, { session, runId: RELU_ID, onBack: () => {} });
  await screen.findByTestId('chart-loss');
}

const chartName = (id: string) => within(screen.getByTestId(id)).getByRole('img').getAttribute('aria-label') ?? '';

// issue 14, 4: smoothing on loss and accuracy, log scale on loss, in Run detail.
test('the smoothing slider smooths the loss and accuracy charts (not the learning rate)', async () => {
  await detail();
  expect(chartName('chart-loss')).not.toContain('smoothed');
  await fireEvent.input(screen.getByRole('slider', { name: 'Smoothing' }), { target: { value: '0.9' } });
  expect(chartName('chart-loss')).toContain('smoothed (weight 0.90)');
  expect(chartName('chart-accuracy')).toContain('smoothed (weight 0.90)');
  expect(chartName('chart-lr')).not.toContain('smoothed');
});

test('the log toggle puts loss on a log scale and keeps the chance line', async () => {
  await detail();
  await fireEvent.click(screen.getByRole('checkbox', { name: 'Log scale (loss)' }));
  expect(chartName('chart-loss')).toContain('log scale');
  expect(chartName('chart-loss')).toContain('reference: chance (ln 20 = 3.00)');
  expect(chartName('chart-accuracy')).not.toContain('log scale');
});

test("issue 14, 4: Save metrics as CSV downloads the run's metrics rows", async () => {
  const blobs = new Map<string, Blob>();
  const saved: { name: string; blob: Blob }[] = [];
  const create = vi.spyOn(URL, 'createObjectURL').mockImplementation((b) => {
    const url = `blob:test/${blobs.size}`;
    blobs.set(url, b as Blob);
    return url;
  });
  const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
    saved.push({ name: this.download, blob: blobs.get(this.href) as Blob });
  });
  try {
    await detail();
    await fireEvent.click(screen.getByRole('button', { name: 'Save metrics as CSV' }));
    expect(saved).toHaveLength(1);
    expect(saved[0]?.name).toBe(`${RELU_ID}-metrics.csv`.replace(/[^A-Za-z0-9._-]+/g, '-'));
    const lines = (await saved[0]!.blob.text()).trim().split('\n');
    expect(lines[0]).toBe('kind,step,epoch,loss,accuracy,lr,train_loss,train_accuracy,val_loss,val_accuracy');
    expect(lines.filter((l) => l.startsWith('step,'))).toHaveLength(40);
    expect(lines.some((l) => l.startsWith('epoch,'))).toBe(true);
  } finally {
    create.mockRestore();
    click.mockRestore();
  }
});
