// What the lab knows of a WebGPU adapter, and says of it: which are software (never chosen by
// themselves: slower than wasm), and how to name one. No Node imports: the same facts serve
// Dawn in Node (backend-webgpu.ts) and Chromium's WebGPU in a page.

/** The native API under WebGPU; in a browser page Chromium chooses it and does not say which. */
export type GpuApi = 'Vulkan' | 'Metal' | 'D3D12' | 'OpenGL' | 'OpenGL ES' | 'Chromium';

/** One adapter as the probe found it. */
export interface WebGpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  api: GpuApi;
  featureLevel: 'core' | 'compatibility';
  /** Why it is a software adapter (e.g. "llvmpipe is Mesa's software rasteriser"), or null for a GPU. */
  software: string | null;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

const SOFTWARE: readonly [RegExp, string][] = [
  [/llvmpipe/i, "llvmpipe is Mesa's software rasteriser"],
  [/lavapipe/i, "lavapipe is Mesa's software Vulkan"],
  [/softpipe/i, "softpipe is Mesa's reference software rasteriser"],
  [/swiftshader/i, "SwiftShader is Google's software Vulkan"],
  [/microsoft basic render|\bwarp\b/i, "WARP is Windows' software rasteriser"],
];

/** Why this adapter is software (one phrase), or null when it is a GPU. */
export function softwareAdapterReason(info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean }): string | null {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  for (const [pattern, reason] of SOFTWARE) if (pattern.test(text)) return reason;
  if (info.isFallbackAdapter === true) return 'the adapter says it is a fallback (software) adapter';
  return null;
}

/** "NVIDIA ampere (NVIDIA GeForce RTX 3060), Vulkan" — what the user reads. */
export function describeAdapter(adapter: WebGpuAdapter): string {
  const name = [adapter.vendor, adapter.architecture].filter((s) => s !== '').join(' ');
  const device = adapter.device !== '' ? adapter.device : adapter.description;
  const who = name !== '' ? (device !== '' ? `${name} (${device})` : name) : device;
  const api = adapter.api === 'Chromium' ? 'in Chromium' : adapter.api;
  return `${who || 'unnamed adapter'}, ${api}${adapter.featureLevel === 'compatibility' ? ' at the compatibility feature level' : ''}`;
}

/** The limits that bound the lab's tensors, for `lab info`. */
export function adapterLimits(adapter: WebGpuAdapter): string {
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  return `max buffer ${mib(adapter.maxBufferSize)}, max storage binding ${mib(adapter.maxStorageBufferBindingSize)}`;
}
