// The test page of the GPU host: the lab's compute core on Chromium's WebGPU
// (electron/trainer/gpu-host/page.ts), reached by the test through playwright instead of the
// app's MessagePort hand-over. Bundled for the browser by gpu-host.e2e.test.ts.
import { gpuDevice, serveGpuCore, startWebGpu } from '../electron/trainer/gpu-host/page';
import { decode, encode } from './page-codec';

interface PageWindow {
  __toNode(message: unknown): Promise<void>;
  __gpuHost: unknown;
}

let channel: InstanceType<typeof MessageChannel> | undefined;
const page = globalThis as unknown as PageWindow;
page.__gpuHost = {
  start: () => startWebGpu(),
  /** A new channel for a new core (one per run): the old one is closed. */
  open(): void {
    channel?.port2.close();
    channel = new MessageChannel();
    serveGpuCore(channel.port1);
    // The browser's MessagePort (typed as Node's here, which has no onmessage property).
    const port = channel.port2 as unknown as { onmessage: (event: { data: unknown }) => void };
    port.onmessage = (event) => void page.__toNode(encode(event.data));
  },
  deliver(message: unknown): void {
    if (channel === undefined) throw new Error('open() a channel first');
    channel.port2.postMessage(decode(message));
  },
  loseDevice(): void {
    gpuDevice().destroy();
  },
};
