import { fireEvent, render, screen } from '@testing-library/svelte';
import { expect, test, vi } from 'vitest';
import FormNumber from '../FormNumber.svelte';

// FormNumber is FormField with a number input: the label, hint and error wiring are FormField's.
test('a field: the label names the control, the hint describes it, an error is an alert that replaces the hint', async () => {
  const onchange = vi.fn();
  const { rerender } = render(FormNumber, { label: 'Batch size', value: 16, integer: true, min: 1, hint: 'images per step', onchange });
  const input = screen.getByLabelText('Batch size');
  expect(input).not.toHaveAttribute('aria-invalid');
  expect(input).toHaveAccessibleDescription('images per step');
  expect(screen.queryByRole('alert')).toBeNull();

  await fireEvent.change(input, { target: { value: '0' } });
  expect(onchange).not.toHaveBeenCalled();
  expect(input).toHaveAttribute('aria-invalid', 'true');
  expect(screen.getByRole('alert')).toHaveTextContent('must be at least 1');
  expect(input).toHaveAccessibleDescription('must be at least 1');

  await fireEvent.change(input, { target: { value: '32' } });
  expect(onchange).toHaveBeenCalledWith(32);
  expect(input).toHaveAccessibleDescription('images per step');

  // An error from elsewhere (the trainer refusing the value) is shown the same way.
  await rerender({ error: 'too big for this backend' });
  expect(input).toHaveAttribute('aria-invalid', 'true');
  expect(screen.getByRole('alert')).toHaveTextContent('too big for this backend');
});
