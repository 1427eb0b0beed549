import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { expect, test } from 'vitest';
import LineChart from '../LineChart.svelte';
import SmoothingControls from '../SmoothingControls.svelte';

// issue 14, 4: TensorBoard's smoothing and a log scale for loss.
const x = [1, 2, 3, 4];
const series = [{ label: 'train loss', values: [4, 2, 4, 2] }];
const chance = [{ label: 'chance (ln 40 = 3.69)', value: Math.log(40) }];

test('without smoothing the chart says the raw last value', () => {
  render(LineChart, { title: 'Loss', x, series, references: chance });
  const name = screen.getByRole('img').getAttribute('aria-label') ?? '';
  expect(name).toContain('train loss 2.000');
  expect(name).not.toContain('smoothed');
});

test('with smoothing the chart draws (and says) the debiased moving average', () => {
  render(LineChart, { title: 'Loss', x, series, references: chance, smoothing: 0.5 });
  // 0.5 EMA of 4,2,4,2: 2, 2, 3, 2.5; debiased by 1 − 0.5⁴ = 0.9375: 2.667 (the raw last is 2).
  expect(screen.getByRole('img')).toHaveAccessibleName(expect.stringMatching(/smoothed \(weight 0\.50\).*train loss 2\.667/));
});

test('on a log scale the chance line is still drawn and named', () => {
  render(LineChart, { title: 'Loss', x, series, references: chance, logY: true, smoothing: 0.6 });
  const img = screen.getByRole('img');
  expect(img).toHaveAccessibleName(expect.stringContaining('log scale'));
  expect(img).toHaveAccessibleName(expect.stringContaining('reference: chance (ln 40 = 3.69)'));
});

test('the controls: a labelled smoothing slider (off at 0) and a log-scale checkbox that a non-positive loss disables', async () => {
  const { component } = render(SmoothingControls, { smoothing: 0, logLoss: false, logAvailable: true });
  void component;
  const group = screen.getByRole('group', { name: 'Chart options' });
  const slider = within(group).getByRole('slider', { name: 'Smoothing' });
  expect(slider).toHaveAttribute('max', '0.99');
  expect(slider).toHaveAttribute('aria-valuetext', 'off');
  await fireEvent.input(slider, { target: { value: '0.6' } });
  expect(slider).toHaveAttribute('aria-valuetext', '0.60');
  expect(within(group).getByRole('checkbox', { name: 'Log scale (loss)' })).toBeEnabled();
});

test('the log toggle is disabled where a loss is 0 or less', () => {
  render(SmoothingControls, { logAvailable: false });
  expect(screen.getByRole('checkbox', { name: 'Log scale (loss)' })).toBeDisabled();
});
