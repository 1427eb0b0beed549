// The GPU host's message checks: what main, the trainer and the page accept from each other.
import { describe, expect, test } from 'vitest';
import type { WebGpuAdapter } from '../../models/webgpu-adapter';
import { readHostReport, readMainGpuMessage, readTrainerGpuRequest } from '../gpu-host';

const GPU: WebGpuAdapter = { vendor: 'amd', architecture: 'rdna-3', device: '', description: '', api: 'Chromium', featureLevel: 'core', software: null, maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 30 };

describe('host messages', () => {
  test('a report: an adapter of exactly the known fields, or a reason and a hint', () => {
    expect(readHostReport({ ok: true, adapter: { ...GPU, extra: 'dropped' } })).toEqual({ ok: true, adapter: GPU });
    expect(readHostReport({ ok: false, reason: 'no WebGPU', hint: 'update the driver', stack: 'dropped' })).toEqual({ ok: false, reason: 'no WebGPU', hint: 'update the driver' });
    expect(readHostReport({ ok: true, adapter: { ...GPU, maxBufferSize: -1 } })).toBe("the adapter's buffer limits must be non-negative numbers");
    expect(readHostReport({ ok: true, adapter: { ...GPU, software: 3 } })).toBe("the adapter's software must be a string or null");
    expect(readHostReport({ ok: true, adapter: { ...GPU, vendor: 'x'.repeat(2001) } })).toBe("the adapter's vendor must be a string");
    expect(readHostReport({ ok: false, reason: 'no WebGPU' })).toBe('a failed GPU host report needs a reason and a hint (strings)');
    expect(readHostReport({ ok: 'yes' })).toBe("a GPU host report's ok must be true or false");
    expect(readHostReport(null)).toBe('a GPU host report must be an object');
  });

  test('the trainer\'s requests', () => {
    expect(readTrainerGpuRequest({ type: 'gpu-core', id: 3, extra: 1 })).toEqual({ type: 'gpu-core', id: 3 });
    expect(readTrainerGpuRequest({ type: 'gpu-host-probe', id: 0 })).toEqual({ type: 'gpu-host-probe', id: 0 });
    expect(readTrainerGpuRequest({ type: 'gpu-core', id: 1.5 })).toBe('a gpu-core request needs a non-negative integer id');
    expect(readTrainerGpuRequest({ type: 'error', message: 'x' })).toBeNull();
    expect(readTrainerGpuRequest(undefined)).toBeNull();
  });

  test('main\'s answers', () => {
    expect(readMainGpuMessage({ type: 'gpu-host-lost', reason: 'crashed' })).toEqual({ type: 'gpu-host-lost', reason: 'crashed' });
    expect(readMainGpuMessage({ type: 'gpu-host-lost' })).toBe('gpu-host-lost needs a reason');
    expect(readMainGpuMessage({ type: 'gpu-core', id: 2 })).toEqual({ type: 'gpu-core', id: 2 });
    expect(readMainGpuMessage({ type: 'gpu-core', id: 2, error: 'no host' })).toEqual({ type: 'gpu-core', id: 2, error: 'no host' });
    expect(readMainGpuMessage({ type: 'gpu-core', id: 2, error: {} })).toBe('a gpu-core error must be a string');
    expect(readMainGpuMessage({ type: 'gpu-host-probe', id: 4, report: { ok: true, adapter: GPU } })).toEqual({ type: 'gpu-host-probe', id: 4, report: { ok: true, adapter: GPU } });
    expect(readMainGpuMessage({ type: 'gpu-host-probe', id: 4, report: {} })).toBe("a GPU host report's ok must be true or false");
    expect(readMainGpuMessage({ type: 'connect' })).toBeNull();
  });
});
