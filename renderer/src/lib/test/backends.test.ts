// The backend names and the short device name the window title takes from an adapter line.
import { describe, expect, test } from 'vitest';
import { adapterDevice, backendNameIn, canTrainOn } from '../backends';
import { TEST_LAB_INFO } from '../../test-support/scripted-trainer';

describe('adapterDevice', () => {
  test('takes the device from describeAdapter\'s "vendor arch (device), API" line', () => {
    expect(adapterDevice('NVIDIA ampere (NVIDIA GeForce RTX 3060), in Chromium')).toBe('NVIDIA GeForce RTX 3060');
    expect(adapterDevice('nvidia ampere (NVIDIA GeForce RTX 3060), Vulkan; max buffer 4096 MiB, max storage binding 2048 MiB')).toBe('NVIDIA GeForce RTX 3060');
  });

  test('keeps nested parentheses of the device, and falls back to the text before the first comma', () => {
    expect(adapterDevice('google angle (ANGLE (NVIDIA, GeForce (0x2504), D3D11)), in Chromium')).toBe('ANGLE (NVIDIA, GeForce (0x2504), D3D11)');
    expect(adapterDevice('apple metal-3, Metal')).toBe('apple metal-3');
    expect(adapterDevice('unnamed adapter, Vulkan')).toBe('unnamed adapter');
    expect(adapterDevice('Intel(R) UHD Graphics 620, Vulkan')).toBe('Intel(R) UHD Graphics 620');
    expect(adapterDevice('intel gen-12lp (Intel(R) UHD Graphics 620), D3D12')).toBe('Intel(R) UHD Graphics 620');
  });

  test('cuts a long device to fit a window title', () => {
    const device = adapterDevice(`amd rdna (${'Radeon '.repeat(12)}), Vulkan`);
    expect(device.length).toBeLessThanOrEqual(40);
    expect(device).toMatch(/^Radeon Radeon .*…$/);
  });
});

test('backendNameIn finds the backend in an older trainer\'s summary line', () => {
  expect(backendNameIn('training on wasm (WebAssembly, SIMD): tensorflow-gpu: not installed')).toBe('wasm');
  expect(backendNameIn('training on tensorflow-gpu (CUDA)')).toBe('tensorflow-gpu');
  expect(backendNameIn('cpu')).toBeNull();
});

test('canTrainOn: only a backend the trainer lists as one that can train; none on a trainer that lists none', () => {
  expect(canTrainOn(TEST_LAB_INFO, 'wasm')).toBe(true);
  expect(canTrainOn(TEST_LAB_INFO, 'tensorflow-gpu')).toBe(false);
  const { backends: _none, ...older } = TEST_LAB_INFO;
  expect(canTrainOn(older as typeof TEST_LAB_INFO, 'wasm')).toBe(false);
  expect(canTrainOn(null, 'wasm')).toBe(false);
});
