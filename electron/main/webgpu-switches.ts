// Which Chromium switches give the GPU host page WebGPU. On Linux Chromium ships WebGPU behind
// --enable-unsafe-webgpu and needs its Vulkan feature for it (electron#40929, electron#41763);
// macOS and Windows have it by default. index.ts appends these before 'ready'.
//
// Pure: the platform, the environment and the switches already set come in, so it is tested
// for every platform on any.

/** One Chromium switch: `--name` or `--name=value`. */
export interface ChromiumSwitch {
  readonly name: string;
  readonly value?: string;
}

/**
 * FACE_CNN_LAB_WEBGPU=off appends nothing: the GPU host then finds no WebGPU on Linux and the
 * app trains on the CPU backends. The way out where Chromium's Vulkan misbehaves on a driver
 * (a black or flickering window).
 */
export const WEBGPU_ENV = 'FACE_CNN_LAB_WEBGPU';

/** A comma-separated feature list as its names (Chromium's own format; "Name<Trial" keeps its name before '<'). */
function features(list: string): string[] {
  return list
    .split(',')
    .map((feature) => feature.trim())
    .filter((feature) => feature !== '');
}

const featureName = (feature: string) => feature.split('<')[0] as string;

/**
 * The switches to append. `current(name)` is a switch's value as already set (by the user's
 * command line or earlier code; '' when unset): appending `enable-features` again would replace
 * the value, not add to it, so the features already asked for are kept in the one value given
 * here. A feature the user disabled (--disable-features=Vulkan) is not turned on behind their back.
 */
export function webGpuSwitches(platform: NodeJS.Platform, env: Readonly<Record<string, string | undefined>>, current: (name: string) => string): ChromiumSwitch[] {
  if (platform !== 'linux') return [];
  if (env[WEBGPU_ENV]?.trim().toLowerCase() === 'off') return [];
  const out: ChromiumSwitch[] = [{ name: 'enable-unsafe-webgpu' }];
  const enabled = features(current('enable-features'));
  const disabled = new Set(features(current('disable-features')).map(featureName));
  const names = new Set(enabled.map(featureName));
  if (!names.has('Vulkan') && !disabled.has('Vulkan')) out.push({ name: 'enable-features', value: [...enabled, 'Vulkan'].join(',') });
  return out;
}
