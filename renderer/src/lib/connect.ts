// One way in for the app: a MessagePort through the preload in the desktop app, the
// page's own WebSocket in serve mode (an ordinary browser).
import type { LabClient } from '#protocol/client/lab-client';
import { connectFromLocation, connectInElectron } from '#protocol/client/connect';

export function connectToTrainer(win: Window): Promise<LabClient> {
  return win.lab ? connectInElectron(win as unknown as Parameters<typeof connectInElectron>[0]) : connectFromLocation(win.location);
}
