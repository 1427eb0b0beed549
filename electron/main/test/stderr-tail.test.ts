// The last stderr lines of the trainer, for the crash message (stderr-tail.ts).
import { expect, test } from 'vitest';
import { LineTail } from '../stderr-tail';

test('keeps the last lines across chunks, joining a line split between chunks', () => {
  const tail = new LineTail(3);
  tail.push('one\ntw');
  tail.push('o\nthree\r\n\n   \nfour\nRangeError: out of ');
  tail.push('memory');
  expect(tail.text()).toBe('three\nfour\nRangeError: out of memory');
  tail.push('\n');
  expect(tail.text()).toBe('three\nfour\nRangeError: out of memory');
});

test('cuts runaway lines and forgets everything on clear', () => {
  const tail = new LineTail(2, 10);
  tail.push(`${'x'.repeat(50)}\nshort\n`);
  expect(tail.text()).toBe(`${'x'.repeat(10)}…\nshort`);
  tail.push('y'.repeat(1000));
  expect(tail.text().split('\n')[1]).toHaveLength(10);
  tail.clear();
  expect(tail.text()).toBe('');
});
