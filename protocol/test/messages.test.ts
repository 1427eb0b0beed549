import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  COMMAND_NAMES,
  PROTOCOL_VERSION,
  parseClientMessage,
  parseServerMessage,
  type ClientMessage,
  type LayerStats,
} from '../index';

const command = (body: Record<string, unknown>, id = 7) => ({ type: 'command', id, command: body });

function ok(raw: unknown): ClientMessage {
  const parsed = parseClientMessage(raw);
  if (!parsed.ok) throw new Error(`expected a valid message, got: ${parsed.error}`);
  return parsed.message;
}

function refused(raw: unknown): { error: string; id?: number } {
  const parsed = parseClientMessage(raw);
  if (parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.message)}`);
  return parsed;
}

describe('parseClientMessage: valid messages', () => {
  it('accepts every command in its minimal form', () => {
    const minimal: Record<string, Record<string, unknown>> = {
      start: { config: { model: 'lightcnn9', lr: 0.01 } },
      resumeRun: { runId: '2024-05-01T10-00-00_lightcnn9' },
      inspectRun: { runId: '2024-05-01T10-00-00_imported', data: { kind: 'synthetic' } },
      pause: {},
      resume: {},
      stop: {},
      subscribe: { layers: ['conv1.act'] },
      setProbes: { images: null },
      setProbeRate: { intervalMs: 250 },
      probeNow: {},
      setStatsWindow: { steps: 50 },
      setSaturationThreshold: { fraction: 0.01 },
      getRun: { runId: 'run-1' },
      listRuns: {},
      status: {},
      labInfo: {},
      describeModel: { config: { model: 'tiny' } },
      importDataset: { source: { kind: 'synthetic' } },
      datasetFaces: { data: 'synthetic:20x10' },
      evaluateRun: { runId: 'run-1' },
      getEvaluation: { runId: 'run-1' },
      exportRun: { runId: 'run-1', destination: { kind: 'grant', grant: 'a'.repeat(32) } },
      listSnapshots: { runId: 'run-1' },
      loadSnapshot: { runId: 'run-1', step: 10 },
      renameRun: { runId: 'run-1', displayName: 'ReLU baseline' },
      setRunNotes: { runId: 'run-1', notes: 'notes' },
      deleteRun: { runId: 'run-1' },
      importCheckpoint: { source: { kind: 'grant', grant: 'b'.repeat(32) } },
      exportRunFor: { runId: 'run-1', format: 'onnx', destination: { kind: 'typed', path: '/tmp/out' } },
    };
    expect([...COMMAND_NAMES].sort()).toEqual(Object.keys(minimal).sort());
    for (const [name, fields] of Object.entries(minimal)) {
      expect(ok(command({ name, ...fields }))).toMatchObject({ type: 'command', id: 7, command: { name } });
    }
  });

  it('fills subscription defaults and keeps a full map request', () => {
    expect(ok(command({ name: 'subscribe', layers: [] }))).toEqual({
      type: 'command',
      id: 7,
      command: { name: 'subscribe', layers: [], preActivation: [], fullMap: null },
    });
    const full = { layer: 'conv1.act', filter: 3, probe: 0 };
    expect(ok(command({ name: 'subscribe', layers: ['a'], preActivation: ['a'], fullMap: full }))).toMatchObject({
      command: { fullMap: full, preActivation: ['a'] },
    });
  });

  it('accepts resume overrides, acks and JSON text', () => {
    expect(ok(command({ name: 'resumeRun', runId: 'r', overrides: { lr: 0.001, clipNorm: 0, epochs: 3, maxSteps: 0 } }))).toBeTruthy();
    expect(ok({ type: 'ack', channel: 'frame:conv1.act' })).toEqual({ type: 'ack', channel: 'frame:conv1.act' });
    expect(ok(JSON.stringify(command({ name: 'status' }, 0)))).toMatchObject({ id: 0, command: { name: 'status' } });
    expect(ok(command({ name: 'setProbes', images: [0, 5, 9] }))).toMatchObject({ command: { images: [0, 5, 9] } });
  });
});

describe('parseClientMessage: refusals name what is wrong', () => {
  it('refuses what is not a message object', () => {
    expect(refused(null).error).toMatch(/JSON object, got null/);
    expect(refused([1]).error).toMatch(/got an array/);
    expect(refused(42).error).toMatch(/got number/);
    expect(refused('{nope').error).toMatch(/not JSON/);
  });

  it('refuses unknown and missing types', () => {
    expect(refused({ type: 'hello' }).error).toBe('type: unknown type "hello" (expected one of: command, ack)');
    expect(refused({ channel: 'x' }).error).toMatch(/^type: missing type/);
  });

  it('refuses an unknown command and keeps the id for the reply', () => {
    const result = refused(command({ name: 'explode' }, 12));
    expect(result.error).toMatch(/^command\.name: unknown name "explode" \(expected one of: start, resumeRun/);
    expect(result.id).toBe(12);
  });

  it('refuses extra keys, wrong types and out-of-range values, naming the field', () => {
    expect(refused(command({ name: 'pause', force: true })).error).toMatch(/^command: Unrecognized key: "force"/);
    expect(refused({ type: 'command', id: 1, command: { name: 'status' }, extra: 1 }).error).toMatch(/Unrecognized key: "extra"/);
    expect(refused({ type: 'ack', channel: 'progress', id: 1 }).error).toMatch(/Unrecognized key/);
    expect(refused(command({ name: 'start', config: 'fast' })).error).toMatch(/^command\.config: /);
    expect(refused(command({ name: 'start', config: [1] })).error).toMatch(/^command\.config: /);
    expect(refused(command({ name: 'setProbeRate', intervalMs: 10 })).error).toMatch(/^command\.intervalMs: .*50/);
    expect(refused(command({ name: 'setProbeRate', intervalMs: 100.5 })).error).toMatch(/^command\.intervalMs: .*int/);
    expect(refused(command({ name: 'setStatsWindow', steps: 10_001 })).error).toMatch(/^command\.steps: /);
    expect(refused(command({ name: 'setProbes', images: [] })).error).toMatch(/^command\.images: /);
    expect(refused(command({ name: 'setProbes', images: Array.from({ length: 17 }, (_, i) => i) })).error).toMatch(/^command\.images: /);
    expect(refused(command({ name: 'setProbes', images: [1, -1] })).error).toMatch(/^command\.images\.1: /);
    expect(refused(command({ name: 'resumeRun', runId: 'r', overrides: { lr: 0 } })).error).toMatch(/^command\.overrides\.lr: /);
    expect(refused(command({ name: 'resumeRun', runId: 'r', overrides: { momentum: 0.9 } })).error).toMatch(/^command\.overrides: Unrecognized key/);
    expect(refused(command({ name: 'subscribe', layers: [''] })).error).toMatch(/^command\.layers\.0: /);
    expect(refused(command({ name: 'subscribe', layers: ['x'.repeat(129)] })).error).toMatch(/^command\.layers\.0: /);
    expect(refused(command({ name: 'subscribe', layers: Array.from({ length: 257 }, (_, i) => `l${i}`) })).error).toMatch(/^command\.layers: /);
    expect(refused(command({ name: 'subscribe', layers: [], fullMap: { layer: 'a', filter: -1, probe: 0 } })).error).toMatch(
      /^command\.fullMap\.filter: /,
    );
    expect(refused({ type: 'command', id: -1, command: { name: 'status' } }).error).toMatch(/^id: /);
    expect(refused({ type: 'command', id: 1.5, command: { name: 'status' } }).id).toBeUndefined();
    expect(refused({ type: 'ack', channel: '' }).error).toMatch(/^channel: /);
  });

  it('refuses run ids that could leave the runs folder', () => {
    for (const runId of ['', '.', '..', '../etc', 'a/b', 'a\\b', 'x'.repeat(201), 'run id']) {
      expect(refused(command({ name: 'getRun', runId })).error, runId).toMatch(/^command\.runId: /);
    }
    expect(ok(command({ name: 'getRun', runId: 'a..b' }))).toBeTruthy();
    expect(ok(command({ name: 'getRun', runId: 'x'.repeat(200) }))).toBeTruthy();
  });

  it('never throws, whatever it is given', () => {
    const cyclic: Record<string, unknown> = { type: 'command' };
    cyclic.command = cyclic;
    for (const raw of [undefined, Symbol('s'), () => 1, cyclic, { type: 'command', id: 1, command: null }, Object.create(null)]) {
      expect(() => parseClientMessage(raw)).not.toThrow();
      expect(parseClientMessage(raw).ok).toBe(false);
    }
  });
});

describe('parseServerMessage', () => {
  const layerStats: LayerStats = {
    layer: 'conv1.act',
    activation: 'relu',
    rule: 'zero',
    filterSpace: 'output',
    filters: 48,
    units: 48 * 32 * 32,
    deadFilters: 2,
    deadUnits: 300,
    deadFilterIndices: [3, 17],
    neverFiredFilters: 1,
    neverFiredUnits: 120,
    died: 2,
    revived: 0,
    mean: 0.4,
    std: 0.7,
    zeroFraction: 0.55,
    saturatedFraction: null,
    negativeFraction: null,
    gradOutputMeanAbs: 1e-3,
    gradWeightMeanAbs: 2e-4,
    weightNorm: 3.2,
    updateRatio: 1e-3,
  };

  it('accepts every kind of server message', () => {
    const messages = [
      { type: 'welcome', protocol: PROTOCOL_VERSION, lab: '0.1.0', pid: 123 },
      { type: 'reply', id: 1, ok: true, result: { runId: 'r' } },
      { type: 'reply', id: 2, ok: false, error: { message: 'no run', code: 'not-found' } },
      { type: 'error', message: 'type: unknown type "x"' },
      { type: 'event', event: { type: 'started', runId: 'r', step: 0, totalSteps: 100, backend: 'cpu', resumed: false } },
      { type: 'event', event: { type: 'epoch', step: 10, epoch: 1, trainLoss: 2.3, trainAccuracy: 0.1, valLoss: null, valAccuracy: null } },
      { type: 'event', event: { type: 'checkpoint', step: 10, file: 'checkpoints/step-10' } },
      { type: 'event', event: { type: 'state', state: 'paused' } },
      { type: 'event', event: { type: 'warning', message: 'slow backend' } },
      { type: 'event', event: { type: 'probes', images: [0, 10], labels: ['s1', 's2'], intervalMs: 250 } },
      {
        type: 'event',
        event: {
          type: 'layers',
          layers: [
            { layer: 'conv1.act', unit: 'conv1', activation: 'mfm', rule: 'pieces', channels: 48, preActivationChannels: 96, height: 64, width: 64 },
          ],
        },
      },
      {
        type: 'progress',
        channel: 'progress',
        items: [{ step: 1, epoch: 0, loss: null, accuracy: 0, lr: 0.01, gradNorm: 1, imagesPerSecond: 100, stepMs: 80, at: 1764150000000 }],
      },
      { type: 'layerStats', channel: 'layerStats', step: 5, epoch: 0, window: 50, layers: [layerStats, { ...layerStats, rule: 'cannot-die', deadFilters: null, preluSlopes: [0.25] }] },
    ];
    for (const message of messages) {
      const parsed = parseServerMessage(message);
      expect(parsed, JSON.stringify(message)).toEqual({ ok: true, message });
    }
  });

  it('refuses malformed server messages with the field named', () => {
    const bad = parseServerMessage({ type: 'event', event: { type: 'state', state: 'sleeping' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/^event\.state: /);
    const noCode = parseServerMessage({ type: 'reply', id: 1, ok: false, error: { message: 'x' } });
    expect(noCode.ok).toBe(false);
    if (!noCode.ok) expect(noCode.error).toMatch(/^error\.code: /);
  });
});

describe('the protocol module', () => {
  it("imports nothing the renderer cannot bundle: zod, its own modules and the models' pure lists", () => {
    // The models' pure lists (activations, architectures and their blocks, initialiser names) import nothing but each other.
    const PURE_MODELS = ['../models/activations/registry', '../models/lightcnn-architectures', '../models/initializer-names'];
    const folder = fileURLToPath(new URL('..', import.meta.url));
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(folder, file), 'utf8');
      // Type-only imports leave nothing in a bundle.
      const imports = [...source.matchAll(/^(?:import|export)(?!\s+type\b)[^;]*?from '([^']+)'/gm)].map((match) => match[1] ?? '');
      for (const name of imports) expect(name === 'zod' || /^\.\/[\w-]+$/.test(name) || PURE_MODELS.includes(name), `${file} imports ${name}`).toBe(true);
    }
  });

  it('is protocol version 4 (3 + the histograms stream and the activations\' descriptions)', () => {
    expect(PROTOCOL_VERSION).toBe(4);
  });
});

describe('workbench commands', () => {
  it('fill their defaults', () => {
    expect(ok(command({ name: 'importDataset', source: { kind: 'synthetic' } }))).toMatchObject({
      command: { source: { kind: 'synthetic', identities: 20, imagesPerIdentity: 10 }, inputSize: 128 },
    });
    expect(ok(command({ name: 'datasetFaces', data: '/faces' }))).toMatchObject({ command: { identityOffset: 0, identityLimit: 24, perIdentity: 6, size: 64 } });
    expect(ok(command({ name: 'evaluateRun', runId: 'r' }))).toMatchObject({ command: { hardest: 8 } });
  });

  it('refuse a catalog download whose terms were not accepted, and a grant that is not 32 hex digits', () => {
    const terms = parseClientMessage(command({ name: 'importDataset', source: { kind: 'catalog', id: 'orl', acceptTerms: false } }));
    expect(terms.ok).toBe(false);
    const grant = parseClientMessage(command({ name: 'exportRun', runId: 'r', destination: { kind: 'grant', grant: '../../etc/passwd' } }));
    expect(grant).toMatchObject({ ok: false, id: 7 });
    if (!grant.ok) expect(grant.error).toMatch(/grant/);
  });
});
