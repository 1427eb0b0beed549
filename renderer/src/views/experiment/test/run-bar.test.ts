// Issue 14, 3: the Experiment view's run bar (Train and what it trains on) sits at the top of the
// view, sticky there, so at rest it covers none of the hyper-parameter hints (at the bottom it hid
// their last row, and a focused field's note). Layout is checked in a real browser by the
// end-to-end scenario; here: where it is and how it sticks.
import { render, screen } from '@testing-library/svelte';
import { expect, test } from 'vitest';
import ExperimentView from '../ExperimentView.svelte';
import { scriptedSession } from '../../../test-support/scripted-trainer';

test('the run bar comes before the Network and Hyper-parameters cards, sticky at the top', async () => {
  const { session } = await scriptedSession({});
  render(ExperimentView, { session });
  const view = screen.getByTestId('view-experiment');
  const train = screen.getByRole('button', { name: 'Train' });
  const bar = train.closest('[data-run-bar]') as HTMLElement;
  expect(bar).toBeTruthy();
  const hyper = screen.getByRole('heading', { name: 'Hyper-parameters' });
  const network = screen.getByRole('heading', { name: 'Network' });
  expect(bar.compareDocumentPosition(network) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  expect(bar.compareDocumentPosition(hyper) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  // Its place in the view: right under the title.
  expect(view.querySelector('h2')?.nextElementSibling).toBe(bar);
});
