// One way in for the app: a MessagePort through the preload in the desktop app, the
// page's own WebSocket in serve mode (an ordinary browser).
import { connectFromLocation, connectInElectron, type LabClient } from './lab-client';

export function connectToTrainer(win: Window): Promise<LabClient> {
  return win.lab ? connectInElectron(win as unknown as Parameters<typeof connectInElectron>[0]) : connectFromLocation(win.location);
}
