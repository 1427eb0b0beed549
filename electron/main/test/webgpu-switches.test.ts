// Chromium's switches for WebGPU (webgpu-switches.ts): on Linux WebGPU and Vulkan are turned
// on, keeping any features already asked for in the one enable-features value; nothing
// elsewhere; nothing when the user turned it off.
import { describe, expect, test } from 'vitest';
import { webGpuSwitches, WEBGPU_ENV } from '../webgpu-switches';

const unset = () => '';
const set = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('webGpuSwitches', () => {
  test('Linux: WebGPU behind --enable-unsafe-webgpu, and the Vulkan feature', () => {
    expect(webGpuSwitches('linux', {}, unset)).toEqual([{ name: 'enable-unsafe-webgpu' }, { name: 'enable-features', value: 'Vulkan' }]);
  });

  test('macOS and Windows have WebGPU already: nothing is appended', () => {
    for (const platform of ['darwin', 'win32'] as const) expect(webGpuSwitches(platform, {}, unset)).toEqual([]);
  });

  test('features already enabled are kept (appending enable-features again replaces its value)', () => {
    expect(webGpuSwitches('linux', {}, set({ 'enable-features': 'WaylandWindowDecorations, UseOzonePlatform' }))).toEqual([
      { name: 'enable-unsafe-webgpu' },
      { name: 'enable-features', value: 'WaylandWindowDecorations,UseOzonePlatform,Vulkan' },
    ]);
  });

  test('Vulkan already enabled (with a field trial or not): enable-features is left as it is', () => {
    expect(webGpuSwitches('linux', {}, set({ 'enable-features': 'Foo,Vulkan' }))).toEqual([{ name: 'enable-unsafe-webgpu' }]);
    expect(webGpuSwitches('linux', {}, set({ 'enable-features': 'Vulkan<Trial' }))).toEqual([{ name: 'enable-unsafe-webgpu' }]);
  });

  test('a user who disabled Vulkan keeps it disabled', () => {
    expect(webGpuSwitches('linux', {}, set({ 'disable-features': 'Bar,Vulkan' }))).toEqual([{ name: 'enable-unsafe-webgpu' }]);
  });

  test(`${WEBGPU_ENV}=off appends nothing (the app then trains on the CPU backends); other values change nothing`, () => {
    expect(webGpuSwitches('linux', { [WEBGPU_ENV]: 'off' }, unset)).toEqual([]);
    expect(webGpuSwitches('linux', { [WEBGPU_ENV]: ' OFF ' }, unset)).toEqual([]);
    expect(webGpuSwitches('linux', { [WEBGPU_ENV]: 'on' }, unset)).toHaveLength(2);
    expect(webGpuSwitches('linux', { [WEBGPU_ENV]: '' }, unset)).toHaveLength(2);
  });
});
