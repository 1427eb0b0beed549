// Per-viewer flow control on its own: one un-acked message per channel; what comes meanwhile is replaced, or
// accumulated (progress, histograms) within a bound, and goes on the viewer's ack.
import { describe, expect, test } from 'vitest';
import type { HistogramsMessage, ProgressItem, ServerMessage } from '#protocol/messages';
import type { Connection } from '../connection';
import { MAX_PENDING_HISTOGRAMS, MAX_PENDING_PROGRESS, ViewerStreams, merge, type Streamed } from '../viewer-streams';

function recorder() {
  const sent: Array<ServerMessage | ArrayBuffer> = [];
  const connection = { sendJson: (m: unknown) => sent.push(m as ServerMessage), sendBinary: (f: ArrayBuffer) => sent.push(f) } as unknown as Connection;
  return { sent, streams: new ViewerStreams(connection) };
}

const progress = (...steps: number[]): Streamed => ({ kind: 'json', message: { type: 'progress', channel: 'progress', items: steps.map((step) => ({ step }) as ProgressItem) } });
const histograms = (...steps: number[]): Streamed => ({
  kind: 'json',
  message: { type: 'histograms', channel: 'histograms', items: steps.map((step) => ({ step }) as HistogramsMessage['items'][number]) },
});
const layerStats = (step: number): Streamed => ({ kind: 'json', message: { type: 'layerStats', channel: 'layerStats', step, epoch: 0, window: 1, layers: [] } });
const frame = (byte: number): Streamed => ({ kind: 'binary', frame: new Uint8Array([byte]).buffer });
const steps = (m: ServerMessage | ArrayBuffer | undefined) => (m && !(m instanceof ArrayBuffer) && 'items' in m ? m.items.map((i) => i.step) : null);

describe('ViewerStreams', () => {
  test('the first message of a channel goes at once; later ones wait for the ack, replaced by the newest', () => {
    const { sent, streams } = recorder();
    streams.stream('layerStats', layerStats(1));
    streams.stream('layerStats', layerStats(2));
    streams.stream('layerStats', layerStats(3));
    expect(sent.map((m) => (m as ServerMessage & { step: number }).step)).toEqual([1]);
    streams.acked('layerStats');
    expect(sent.map((m) => (m as ServerMessage & { step: number }).step)).toEqual([1, 3]);
    // Acked with nothing pending: the next goes at once.
    streams.acked('layerStats');
    streams.stream('layerStats', layerStats(4));
    expect(sent.map((m) => (m as ServerMessage & { step: number }).step)).toEqual([1, 3, 4]);
  });

  test('channels are independent; an ack of a channel never streamed is ignored', () => {
    const { sent, streams } = recorder();
    streams.acked('progress');
    streams.stream('progress', progress(1));
    streams.stream('full:a', frame(1));
    streams.stream('full:a', frame(2));
    streams.stream('progress', progress(2));
    expect(sent.length).toBe(2);
    streams.acked('full:a');
    expect(new Uint8Array(sent[2] as ArrayBuffer)).toEqual(new Uint8Array([2]));
    expect(sent.length).toBe(3);
    streams.acked('progress');
    expect(steps(sent[3])).toEqual([2]);
  });

  test('progress missed while un-acked accumulates, oldest first, and goes as one message', () => {
    const { sent, streams } = recorder();
    for (let step = 1; step <= 5; step++) streams.stream('progress', progress(step));
    streams.acked('progress');
    expect(sent.map(steps)).toEqual([[1], [2, 3, 4, 5]]);
    // Still awaiting the second one's ack.
    streams.stream('progress', progress(6));
    expect(sent.length).toBe(2);
  });
});

describe('merge', () => {
  test('progress keeps the newest MAX_PENDING_PROGRESS items', () => {
    let pending = progress(0);
    for (let step = 1; step < MAX_PENDING_PROGRESS + 10; step++) pending = merge(pending, progress(step));
    const items = steps(pending.kind === 'json' ? pending.message : undefined)!;
    expect(items.length).toBe(MAX_PENDING_PROGRESS);
    expect(items[0]).toBe(10);
    expect(items.at(-1)).toBe(MAX_PENDING_PROGRESS + 9);
  });

  test('histograms keep the newest MAX_PENDING_HISTOGRAMS items', () => {
    const merged = merge(histograms(...Array.from({ length: MAX_PENDING_HISTOGRAMS }, (_, i) => i)), histograms(100, 101));
    const items = steps(merged.kind === 'json' ? merged.message : undefined)!;
    expect(items.length).toBe(MAX_PENDING_HISTOGRAMS);
    expect(items.slice(-3)).toEqual([MAX_PENDING_HISTOGRAMS - 1, 100, 101]);
    expect(items[0]).toBe(2);
  });

  test('anything else, or two different kinds, is replaced by the newest', () => {
    expect(merge(layerStats(1), layerStats(2))).toEqual(layerStats(2));
    const f = frame(9);
    expect(merge(frame(1), f)).toBe(f);
    expect(merge(progress(1), histograms(2))).toEqual(histograms(2));
    expect(merge(frame(1), progress(2))).toEqual(progress(2));
  });
});
