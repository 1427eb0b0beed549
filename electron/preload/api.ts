// The typed surface the preload exposes as `window.lab`. Both ends import it.
export interface LabApi {
  /** The versions of the runtime the app runs on, for the About line. */
  readonly versions: { readonly electron: string; readonly chrome: string; readonly node: string };
}
