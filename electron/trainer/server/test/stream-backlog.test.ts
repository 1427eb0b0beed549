// What a viewer that stops acking gets later: the newest layer stats only (each replaces the
// last), but every histograms item it missed, within a bound (its live history would
// otherwise have gaps, and lose the first-layer filters that come with every tenth item).
import { expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import type { ServerMessage } from '#protocol/messages';
import type { Connection } from '../connection';
import { LabHost } from '../lab-host';

/** A connection whose viewer reads every message but acks only when told to. */
function slowViewer(id: string) {
  const received: ServerMessage[] = [];
  const listeners: Array<(message: unknown) => void> = [];
  const connection: Connection = {
    id,
    label: id,
    bufferedBytes: 0,
    closed: false,
    sendJson: (message) => received.push(message as ServerMessage),
    sendBinary: () => {},
    close: () => {},
    onMessage: (listener) => void listeners.push(listener),
    onClose: () => {},
  } as Connection;
  let nextId = 1;
  return {
    connection,
    received,
    send: (message: unknown) => listeners.forEach((l) => l(message)),
    command: (command: Record<string, unknown>) => listeners.forEach((l) => l({ type: 'command', id: nextId++, command })),
    ack: (channel: string) => listeners.forEach((l) => l({ type: 'ack', channel })),
  };
}

test('histograms a viewer has not acked accumulate, oldest first; layer stats are replaced', async () => {
  const host = new LabHost({ dataDir: await tempDir(), backend: 'cpu', prefetch: 0 });
  const viewer = slowViewer('slow-1');
  host.addConnection(viewer.connection);
  viewer.command({ name: 'start', config: { data: 'synthetic:6x6', model: 'tiny', inputSize: 16, batch: 4, epochs: 3, maxSteps: 16, optimizer: 'adam', lr: 0.001, seed: 4 } });
  for (let i = 0; i < 500 && !viewer.received.some((m) => m.type === 'reply'); i++) await new Promise((r) => setTimeout(r, 10));
  await host.idle();
  const of = <T extends ServerMessage['type']>(type: T) => viewer.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  // Not acked: one message per channel so far.
  expect(of('histograms').map((m) => m.items.map((i) => i.step))).toEqual([[1]]);
  expect(of('layerStats').map((m) => m.step)).toEqual([1]);
  viewer.ack('histograms');
  viewer.ack('layerStats');
  // Then every histograms item missed (steps 5, 10, 15 and the last, 16), but only the newest layer stats.
  expect(of('histograms').map((m) => m.items.map((i) => i.step))).toEqual([[1], [5, 10, 15, 16]]);
  expect(of('histograms')[1]!.items.map((i) => i.filters !== null)).toEqual([false, false, false, true]);
  expect(of('layerStats').map((m) => m.step)).toEqual([1, 16]);
  await host.close();
}, 60_000);
