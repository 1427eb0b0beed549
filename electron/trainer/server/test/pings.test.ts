// Liveness pings on their own: a socket that answers stays, one that stops answering is reported silent.
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { startPings } from '../pings';

class FakeSocket extends EventEmitter {
  pings = 0;
  answers = true;
  ping(): void {
    this.pings++;
    if (this.answers) queueMicrotask(() => this.emit('pong'));
  }
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

test('a tracked socket that answers every ping is never silent; one that stops is silent at the next tick', async () => {
  const talker = new FakeSocket();
  const quitter = new FakeSocket();
  const clients = new Set([talker, quitter]);
  const silent: FakeSocket[] = [];
  const pings = startPings(() => clients, 1000, (s) => silent.push(s));
  pings.track(talker);
  pings.track(quitter);
  await vi.advanceTimersByTimeAsync(3000);
  expect([talker.pings, quitter.pings, silent.length]).toEqual([3, 3, 0]);
  quitter.answers = false;
  await vi.advanceTimersByTimeAsync(1000); // pinged, no answer
  expect(silent).toEqual([]);
  await vi.advanceTimersByTimeAsync(1000);
  expect(silent).toEqual([quitter]);
  expect(quitter.pings).toBe(4); // a silent socket is not pinged again
  clients.delete(quitter);
  await vi.advanceTimersByTimeAsync(5000);
  expect(silent).toEqual([quitter]);
  expect(talker.pings).toBe(10);
  pings.stop();
});

test('an untracked socket (one being refused) is pinged once, its answers ignored, then silent', async () => {
  const stranger = new FakeSocket();
  const silent: FakeSocket[] = [];
  const pings = startPings(() => [stranger], 1000, (s) => silent.push(s));
  await vi.advanceTimersByTimeAsync(1000);
  expect([stranger.pings, silent.length]).toEqual([1, 0]);
  await vi.advanceTimersByTimeAsync(1000);
  expect(silent).toEqual([stranger]);
  pings.stop();
});

test('stop ends the pings', async () => {
  const socket = new FakeSocket();
  const pings = startPings(() => [socket], 1000, () => {});
  pings.track(socket);
  await vi.advanceTimersByTimeAsync(2000);
  pings.stop();
  await vi.advanceTimersByTimeAsync(5000);
  expect(socket.pings).toBe(2);
});
