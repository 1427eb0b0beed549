// The GPU host broker (gpu-host.ts) with fakes for the window, the channels and the trainer:
// the first probe opens the hidden window and is answered once the page has reported (or
// after the start timeout, or the load failure); cores get one end of a fresh channel each,
// the page the other; a host that cannot compute refuses cores, saying why; every way the
// host can go tells the trainer at once and the next probe opens a fresh window; only the
// host's own page is heard; malformed requests are logged, never answered.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { GpuHostReport, MainGpuMessage } from '#protocol/gpu-host';
import { createGpuHostBroker, HOST_START_MS, type GpuHostBroker, type HostWindowEvents, type TrainerLink } from '../gpu-host';
import type { AppLocation } from '../policy';

const rendererDir = resolve('/opt/Face CNN Lab/resources/app.asar/out/renderer');
const location: AppLocation = { rendererDir, devServerUrl: null };
const hostUrl = pathToFileURL(join(rendererDir, 'gpu-host.html')).href;

class FakePort {
  closed = false;
  constructor(readonly name: string) {}
  close(): void {
    this.closed = true;
  }
}

/** A web contents: an identity for the sender check. */
class FakeContents {
  constructor(readonly name: string) {}
}

class FakeHostWindow {
  readonly contents: FakeContents;
  readonly ports: FakePort[] = [];
  destroyed = false;
  constructor(
    readonly events: HostWindowEvents,
    index: number,
  ) {
    this.contents = new FakeContents(`host ${index}`);
  }
  givePort(port: FakePort): void {
    this.ports.push(port);
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    // As Electron's: destroying a window emits its 'closed'.
    this.events.closed();
  }
}

class FakeTrainer implements TrainerLink<FakePort> {
  readonly got: Array<{ message: MainGpuMessage; transfer: FakePort[] }> = [];
  alive = true;
  post(message: MainGpuMessage, transfer: FakePort[] = []): boolean {
    if (!this.alive) return false;
    this.got.push({ message, transfer });
    return true;
  }
  get messages(): MainGpuMessage[] {
    return this.got.map((g) => g.message);
  }
}

const ADAPTER = {
  vendor: 'nvidia',
  architecture: 'ampere',
  device: 'NVIDIA GeForce RTX 3060',
  description: '',
  api: 'Chromium',
  featureLevel: 'core',
  software: null,
  maxBufferSize: 2 ** 31,
  maxStorageBufferBindingSize: 2 ** 30,
} as const;
const OK: GpuHostReport = { ok: true, adapter: ADAPTER };
const NO_WEBGPU: GpuHostReport = { ok: false, reason: 'this page has no WebGPU (navigator.gpu)', hint: 'update the GPU driver' };

let opened: FakeHostWindow[];
let channels: Array<{ port1: FakePort; port2: FakePort }>;
let logged: string[];
let broker: GpuHostBroker<FakeContents, FakePort>;
let trainer: FakeTrainer;

beforeEach(() => {
  opened = [];
  channels = [];
  logged = [];
  broker = createGpuHostBroker<FakeContents, FakePort>({
    location,
    openWindow: (events) => {
      const window = new FakeHostWindow(events, opened.length);
      opened.push(window);
      return window;
    },
    newChannel: () => {
      const channel = { port1: new FakePort(`port1 #${channels.length}`), port2: new FakePort(`port2 #${channels.length}`) };
      channels.push(channel);
      return channel;
    },
    log: (line) => logged.push(line),
  });
  trainer = new FakeTrainer();
});
afterEach(() => {
  vi.useRealTimers();
});

/** An IPC event from `window`'s page (its main frame, at the host page's URL unless said). */
const from = (window: { contents: FakeContents } | FakeContents, frame: { url: string; parent: unknown } | null = { url: hostUrl, parent: null }) => ({
  sender: window instanceof FakeContents ? window : window.contents,
  senderFrame: frame,
});

const probe = (id: number, link: FakeTrainer = trainer) => broker.trainerMessage({ type: 'gpu-host-probe', id }, link);
const core = (id: number, link: FakeTrainer = trainer) => broker.trainerMessage({ type: 'gpu-core', id }, link);

/** Opens the host and lets its page report `report`. */
function started(report: GpuHostReport = OK): FakeHostWindow {
  probe(1);
  const window = opened.at(-1)!;
  broker.pageReport(from(window), report);
  return window;
}

describe('probing', () => {
  test('the first probe opens the hidden window once, and is answered when the page has reported', () => {
    expect(probe(1)).toBe(true);
    expect(opened).toHaveLength(1);
    expect(probe(2)).toBe(true);
    expect(opened).toHaveLength(1);
    expect(trainer.messages).toEqual([]);
    broker.pageReport(from(opened[0]!), OK);
    expect(trainer.messages).toEqual([
      { type: 'gpu-host-probe', id: 1, report: OK },
      { type: 'gpu-host-probe', id: 2, report: OK },
    ]);
    // A probe while the host is open gets the same report at once, and no second window.
    probe(3);
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-host-probe', id: 3, report: OK });
    expect(opened).toHaveLength(1);
    expect(broker.contents).toBe(opened[0]!.contents);
    expect(logged).toEqual(['WebGPU on nvidia ampere (NVIDIA GeForce RTX 3060), in Chromium']);
  });

  test('a page that has no WebGPU is reported as it says, with its reason and hint; its window goes and the answer stays', () => {
    const window = started(NO_WEBGPU);
    expect(trainer.messages).toEqual([{ type: 'gpu-host-probe', id: 1, report: NO_WEBGPU }]);
    expect(logged).toEqual([`no usable WebGPU: ${NO_WEBGPU.reason}`]);
    expect(window.destroyed).toBe(true);
    probe(2);
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-host-probe', id: 2, report: NO_WEBGPU });
    expect(opened).toHaveLength(1);
  });

  test('a page that does not report within 30 s: the probe is answered so, the window goes, and the answer stays', () => {
    vi.useFakeTimers();
    probe(1);
    vi.advanceTimersByTime(HOST_START_MS - 1);
    expect(trainer.messages).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(trainer.messages).toEqual([
      { type: 'gpu-host-probe', id: 1, report: { ok: false, reason: 'the GPU host page did not start within 30 s', hint: expect.stringMatching(/CPU backends.*start the app again/) } },
    ]);
    expect(opened[0]!.destroyed).toBe(true);
    // A late report from that page changes nothing; later probes get the same answer without another 30 s wait.
    broker.pageReport(from(opened[0]!), OK);
    probe(2);
    expect(trainer.messages.at(-1)).toMatchObject({ type: 'gpu-host-probe', id: 2, report: { ok: false, reason: 'the GPU host page did not start within 30 s' } });
    expect(opened).toHaveLength(1);
  });

  test('a page that reports in time is not answered twice by the timer', () => {
    vi.useFakeTimers();
    started();
    vi.advanceTimersByTime(HOST_START_MS * 2);
    expect(trainer.messages).toHaveLength(1);
    expect(opened[0]!.destroyed).toBe(false);
  });

  test('a window that cannot open: the probe is answered so at once', () => {
    const failing = createGpuHostBroker<FakeContents, FakePort>({
      location,
      openWindow: () => {
        throw new Error('no display');
      },
      newChannel: () => channels[0]!,
      log: (line) => logged.push(line),
    });
    failing.trainerMessage({ type: 'gpu-host-probe', id: 1 }, trainer);
    expect(trainer.messages).toEqual([{ type: 'gpu-host-probe', id: 1, report: { ok: false, reason: 'the GPU host window did not open (no display)', hint: expect.stringMatching(/CPU backends/) } }]);
    expect(logged).toEqual(['the GPU host window did not open (no display)']);
  });

  test('a page that fails to load: the probe is answered with the failure and the way out', () => {
    probe(1);
    opened[0]!.events.loadFailed('ERR_FILE_NOT_FOUND, error -6, loading file:///x/gpu-host.html');
    expect(trainer.messages).toEqual([
      { type: 'gpu-host-probe', id: 1, report: { ok: false, reason: 'the GPU host page did not load (ERR_FILE_NOT_FOUND, error -6, loading file:///x/gpu-host.html)', hint: expect.stringMatching(/install it again/) } },
    ]);
    expect(opened[0]!.destroyed).toBe(true);
  });
});

describe('compute cores', () => {
  test('each core gets a fresh channel: one end to the page, the other to the trainer with the answer', () => {
    const window = started();
    core(7);
    core(8);
    expect(channels).toHaveLength(2);
    expect(window.ports).toEqual([channels[0]!.port2, channels[1]!.port2]);
    expect(trainer.got.slice(1)).toEqual([
      { message: { type: 'gpu-core', id: 7 }, transfer: [channels[0]!.port1] },
      { message: { type: 'gpu-core', id: 8 }, transfer: [channels[1]!.port1] },
    ]);
  });

  test('a core asked for while the page is starting waits for its report', () => {
    probe(1);
    core(2);
    expect(channels).toHaveLength(0);
    broker.pageReport(from(opened[0]!), OK);
    expect(trainer.got[1]).toEqual({ message: { type: 'gpu-core', id: 2 }, transfer: [channels[0]!.port1] });
  });

  test('a host with no usable WebGPU refuses cores, saying why and the way out; no channel is made', () => {
    started(NO_WEBGPU);
    core(2);
    expect(channels).toHaveLength(0);
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-core', id: 2, error: `the GPU host cannot compute: ${NO_WEBGPU.reason} (${NO_WEBGPU.hint})` });
  });

  test('a core asked for after the host was lost is refused with the loss, and opens nothing', () => {
    const window = started();
    window.events.pageGone('oom', 0);
    core(2);
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-core', id: 2, error: expect.stringMatching(/^the GPU host is gone \(the GPU host page crashed \(reason: oom, exit code 0\)\): start the run again/) });
    expect(opened).toHaveLength(1);
    // Never probed at all: a bug in the trainer, said so.
    const other = createGpuHostBroker<FakeContents, FakePort>({ location, openWindow: () => { throw new Error('no window should open'); }, newChannel: () => { throw new Error('no channel'); }, log: () => undefined });
    const lone = new FakeTrainer();
    other.trainerMessage({ type: 'gpu-core', id: 1 }, lone);
    expect(lone.messages).toEqual([{ type: 'gpu-core', id: 1, error: expect.stringMatching(/must probe it before asking for a core/) }]);
  });

  test('the end meant for a trainer that has exited is closed rather than kept', () => {
    started();
    trainer.alive = false;
    core(2);
    expect(channels[0]!.port1.closed).toBe(true);
  });
});

describe('when the host goes', () => {
  const ways: Array<[string, (window: FakeHostWindow) => void, RegExp]> = [
    ['its page crashed', (w) => w.events.pageGone('oom', 133), /^the GPU host page crashed \(reason: oom, exit code 133\)$/],
    ['its window was closed', (w) => w.events.closed(), /^the GPU host window was closed$/],
    ["Chromium's GPU process ended", () => broker.gpuProcessGone('crashed', 139), /^Chromium's GPU process ended \(reason: crashed, exit code 139\)$/],
    ['its page lost its device', (w) => broker.pageLost(from(w), 'the GPU device was lost (destroyed: gone)'), /^the GPU device was lost \(destroyed: gone\)$/],
  ];

  test.each(ways)('%s: the trainer hears why at once, the window goes, and the next probe opens a fresh one', (_how, go, reason) => {
    const window = started();
    core(2);
    go(window);
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-host-lost', reason: expect.stringMatching(reason) });
    expect(trainer.messages.filter((m) => m.type === 'gpu-host-lost')).toHaveLength(1);
    expect(window.destroyed).toBe(true);
    expect(broker.contents).toBeNull();
    expect(logged.at(-1)).toMatch(/a new GPU host opens on the trainer's next request/);
    probe(3);
    expect(opened).toHaveLength(2);
    broker.pageReport(from(opened[1]!), OK);
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-host-probe', id: 3, report: OK });
  });

  test('a host lost while starting answers its waiting probes with the loss', () => {
    probe(1);
    opened[0]!.events.pageGone('crashed', 11);
    expect(trainer.messages).toEqual([
      { type: 'gpu-host-lost', reason: 'the GPU host page crashed (reason: crashed, exit code 11)' },
      { type: 'gpu-host-probe', id: 1, report: { ok: false, reason: 'the GPU host page crashed (reason: crashed, exit code 11)', hint: expect.stringMatching(/fresh GPU host/) } },
    ]);
  });

  test("a dropped window's late events change nothing: the fresh host stays", () => {
    const first = started();
    first.events.pageGone('oom', 0);
    probe(2);
    const second = opened[1]!;
    first.events.closed();
    first.events.pageGone('crashed', 1);
    first.events.loadFailed('late');
    broker.pageReport(from(second), OK);
    expect(second.destroyed).toBe(false);
    expect(trainer.messages.filter((m) => m.type === 'gpu-host-lost')).toHaveLength(1);
  });

  test('a GPU process restart gives a host that failed to start another chance', () => {
    vi.useFakeTimers();
    probe(1);
    vi.advanceTimersByTime(HOST_START_MS);
    broker.gpuProcessGone('crashed', 1);
    probe(2);
    expect(opened).toHaveLength(2);
  });

  test('a trainer that exits takes its waiting probes with it, and a host nobody uses is closed (the next trainer gets a fresh device)', () => {
    const window = started();
    trainer.alive = false;
    broker.trainerGone(trainer);
    expect(window.destroyed).toBe(true);
    // Its window closing is no loss to tell anyone about.
    expect(trainer.got).toHaveLength(1);
    const next = new FakeTrainer();
    probe(1, next);
    expect(opened).toHaveLength(2);
    broker.pageReport(from(opened[1]!), OK);
    expect(next.messages).toEqual([{ type: 'gpu-host-probe', id: 1, report: OK }]);
  });

  test('a trainer that exits while another still uses the host leaves it open', () => {
    const other = new FakeTrainer();
    const window = started();
    probe(5, other);
    broker.trainerGone(trainer);
    expect(window.destroyed).toBe(false);
    window.events.pageGone('oom', 0);
    expect(other.messages.at(-1)).toMatchObject({ type: 'gpu-host-lost' });
    expect(trainer.messages.filter((m) => m.type === 'gpu-host-lost')).toHaveLength(0);
  });
});

describe('who is heard', () => {
  test("only the host window's own page: a report from any other web contents, or a subframe, or another page, is refused", () => {
    probe(1);
    const window = opened[0]!;
    broker.pageReport(from(new FakeContents('the main window')), OK);
    broker.pageReport(from(window, { url: hostUrl, parent: {} }), OK);
    broker.pageReport(from(window, { url: 'https://evil.example/', parent: null }), OK);
    broker.pageReport(from(window, null), OK);
    broker.pageLost(from(new FakeContents('the main window')), 'fake loss');
    expect(trainer.messages).toEqual([]);
    expect(window.destroyed).toBe(false);
    expect(logged).toEqual([
      'refused the GPU host report: not sent by the GPU host window',
      `refused the GPU host report: sent by a frame at ${hostUrl}`,
      'refused the GPU host report: sent by a frame at https://evil.example/',
      'refused the GPU host report: sent by a frame at (gone)',
      'refused the GPU host loss: not sent by the GPU host window',
    ]);
    broker.pageReport(from(window), OK);
    expect(trainer.messages).toHaveLength(1);
  });

  test('a malformed report is taken as a failed one (the trainer is not left waiting 30 s): the window goes and a later report is refused', () => {
    probe(1);
    const window = opened[0]!;
    broker.pageReport(from(window), { ok: true, adapter: { ...ADAPTER, api: 'Glide' } });
    expect(trainer.messages).toEqual([
      { type: 'gpu-host-probe', id: 1, report: { ok: false, reason: expect.stringMatching(/^the GPU host page sent a malformed report \(the adapter's api must be one of/), hint: expect.stringMatching(/a bug/) } },
    ]);
    expect(window.destroyed).toBe(true); // a page that cannot compute is not kept open
    broker.pageReport(from(window), OK);
    expect(logged.at(-1)).toBe('refused the GPU host report: not sent by the GPU host window');
    probe(2);
    expect(opened).toHaveLength(1); // the failure is the answer until Chromium's GPU process restarts
    expect(trainer.messages.at(-1)).toMatchObject({ report: { ok: false } });
  });

  test('a loss with no reason (or not a string) still ends the host, in words', () => {
    const window = started();
    broker.pageLost(from(window), { toString: () => 'sneaky' });
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-host-lost', reason: 'the GPU host lost its device (it did not say why)' });
  });

  test('malformed trainer requests are logged, not answered; other messages are not the broker’s', () => {
    expect(broker.trainerMessage({ type: 'gpu-host-probe' }, trainer)).toBe(true);
    expect(broker.trainerMessage({ type: 'gpu-core', id: -1 }, trainer)).toBe(true);
    expect(broker.trainerMessage({ type: 'gpu-core', id: 1.5 }, trainer)).toBe(true);
    expect(trainer.messages).toEqual([]);
    expect(opened).toHaveLength(0);
    expect(logged).toEqual(['the trainer sent a malformed GPU request: a gpu-host-probe request needs a non-negative integer id', expect.stringMatching(/gpu-core/), expect.stringMatching(/gpu-core/)]);
    for (const other of [{ type: 'ready', pid: 1 }, { type: 'fatal' }, null, 'gpu-core', 42, { type: 'toString' }]) expect(broker.trainerMessage(other, trainer)).toBe(false);
    expect(trainer.messages).toEqual([]);
  });
});

describe('close (quit)', () => {
  test('closes the window, tells its user, answers waiting and later probes that the app is quitting, and opens nothing more', () => {
    vi.useFakeTimers();
    const window = started();
    probe(2);
    broker.close();
    expect(window.destroyed).toBe(true);
    expect(trainer.messages.at(-1)).toEqual({ type: 'gpu-host-lost', reason: 'the app is quitting' });
    probe(3);
    core(4);
    expect(trainer.messages.slice(-2)).toEqual([
      { type: 'gpu-host-probe', id: 3, report: { ok: false, reason: 'the app is quitting', hint: expect.any(String) } },
      { type: 'gpu-core', id: 4, error: expect.stringMatching(/the app is quitting/) },
    ]);
    expect(opened).toHaveLength(1);
    broker.close();
  });

  test('a probe waiting on a starting host is answered; its timer no longer fires', () => {
    vi.useFakeTimers();
    probe(1);
    broker.close();
    expect(trainer.messages).toEqual([
      { type: 'gpu-host-lost', reason: 'the app is quitting' },
      { type: 'gpu-host-probe', id: 1, report: expect.objectContaining({ ok: false, reason: 'the app is quitting' }) },
    ]);
    vi.advanceTimersByTime(HOST_START_MS);
    expect(trainer.messages).toHaveLength(2);
  });
});
