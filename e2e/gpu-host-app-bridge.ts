// What the test puts into the app's own GPU host page (renderer/gpu-host.html as the app's
// build makes it) before its script runs, in place of Electron: `window.gpuHost`, the bridge the
// GPU host preload exposes (here it keeps the reports for the test), and the hand-over of a
// core's port as the preload does it (a window message of type CHANNELS.gpuHostCore carrying
// the port), with this page's end of the channel carried to Node as in gpu-host-page.ts.
import { CHANNELS } from '../electron/preload/channels';
import type { GpuHostBridge } from '../electron/preload/gpu-host-api';
import type { GpuHostReport } from '#protocol/gpu-host';
import { decode, encode } from './page-codec';

interface PageWindow {
  gpuHost: GpuHostBridge;
  __reports: GpuHostReport[];
  __lost: string[];
  __toNode(message: unknown): Promise<void>;
  __appBridge: { open(): void; deliver(message: unknown): void };
  postMessage(message: unknown, targetOrigin: string, transfer: unknown[]): void;
}

const page = globalThis as unknown as PageWindow;
page.__reports = [];
page.__lost = [];
page.gpuHost = Object.freeze({
  report: (report: GpuHostReport) => void page.__reports.push(report),
  lost: (reason: string) => void page.__lost.push(reason),
});

let channel: InstanceType<typeof MessageChannel> | undefined;
page.__appBridge = {
  /** A new channel for a new core: one end handed to the page's script as main's preload hands it over. */
  open(): void {
    channel?.port1.close();
    channel = new MessageChannel();
    const port = channel.port1 as unknown as { onmessage: (event: { data: unknown }) => void };
    port.onmessage = (event) => void page.__toNode(encode(event.data));
    page.postMessage({ type: CHANNELS.gpuHostCore }, '*', [channel.port2]);
  },
  deliver(message: unknown): void {
    if (channel === undefined) throw new Error('open() a channel first');
    channel.port1.postMessage(decode(message));
  },
};
