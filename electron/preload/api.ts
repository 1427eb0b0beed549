// The typed surface the preload exposes as `window.lab`. Both ends import it.
export interface LabApi {
  /** The versions of the runtime the app runs on, for the About line. */
  readonly versions: { readonly electron: string; readonly chrome: string; readonly node: string };
  /**
   * Asks main for a MessagePort to the trainer. It arrives as a window message
   * `{type: 'lab:port'}` carrying the port (contextBridge cannot pass ports), which
   * renderer/src/lib/lab-client.ts `connectInElectron` waits for.
   */
  connectTrainer(): void;
  /** Called when the trainer process exits (a crash: `code` != 0), with its last error output. */
  onTrainerExit(listener: (info: { code: number; lastError: string }) => void): void;
}

/** The window message that carries the trainer's port into the page. */
export const LAB_PORT_MESSAGE = 'lab:port';
