// labInfo in the app when Chromium gives only a software adapter (SwiftShader): automatic choice
// passes webgpu over, and the list still offers it, saying why it is slow, since a run that
// names webgpu trains on it. (Its own file: labInfo's answer is made once per process.)
import { expect, test } from 'vitest';
import { tempDir } from '../../../../datasets/test/fixtures';
import type { WebGpuAdapter } from '../../../../models/webgpu-adapter';
import { labInfo } from '../../server/workbench/lab-info';
import { GpuHostLink } from '../host-link';

const SWIFTSHADER: WebGpuAdapter = { vendor: 'google', architecture: 'swiftshader', device: 'SwiftShader Device (Subzero)', description: '', api: 'Chromium', featureLevel: 'core', software: "SwiftShader is Google's software Vulkan", maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27 };

test('a software adapter: not the automatic choice, still a choice by name, with its reason and adapter', async () => {
  let probes = 0;
  const link: GpuHostLink = new GpuHostLink({
    send: (request) => {
      probes++;
      setTimeout(() => link.receive({ type: 'gpu-host-probe', id: request.id, report: { ok: true, adapter: SWIFTSHADER } }, undefined), 1);
    },
  });
  const info = await labInfo({ dataDir: await tempDir(), gpuHost: link, pathInput: 'dialog', requestId: 1, training: false, emit: () => undefined, resolvePath: () => '', rememberDataset: () => undefined, mayUseDataset: () => true });
  expect(info.backend.name).not.toBe('webgpu');
  expect(info.backends.find((b) => b.name === 'webgpu')).toEqual({
    name: 'webgpu',
    canTrain: true,
    reason: expect.stringMatching(/^webgpu: only a software adapter, google swiftshader \(SwiftShader Device \(Subzero\)\), in Chromium \(SwiftShader is Google's software Vulkan\), slower than wasm, so not chosen automatically$/),
    adapter: expect.stringMatching(/\(a software adapter: SwiftShader is Google's software Vulkan\)$/),
  });
  expect(probes).toBe(1); // the choice and the list share one question to the host
  const context = { dataDir: await tempDir(), gpuHost: link, pathInput: 'dialog' as const, requestId: 2, training: false, emit: () => undefined, resolvePath: () => '', rememberDataset: () => undefined, mayUseDataset: () => true };
  await labInfo(context);
  expect(probes).toBe(1); // asked once per process...
  link.receive({ type: 'gpu-host-lost', reason: 'the GPU host page crashed' }, undefined);
  await labInfo(context);
  expect(probes).toBe(2); // ...until the host is lost: the next page may have another adapter
});
