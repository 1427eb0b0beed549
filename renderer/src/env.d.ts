import type { LabApi } from '../../electron/preload/api';

declare global {
  interface Window {
    /** Present in the desktop app; absent when the UI runs in an ordinary browser. */
    lab?: LabApi;
  }
}
