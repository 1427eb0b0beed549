// IPC channel names, shared by main and the preload. Both bundles inline them at build time
// (a sandboxed preload cannot require a local module at run time), so this file holds only
// constants and must not import anything.
export const CHANNELS = {
  /** Renderer -> main (send): give this window a MessagePort to the trainer. */
  connect: 'lab:connect',
  /** Main -> renderer: the trainer's port (also the window message type the preload re-posts). */
  port: 'lab:port',
  /** Main -> renderer: the trainer process exited. */
  trainerExit: 'lab:trainer-exit',
  /** Renderer -> main (invoke): native dialogs that answer with a grant, and the restart. */
  chooseDataset: 'lab:choose-dataset',
  choosePairsFile: 'lab:choose-pairs-file',
  chooseExportPath: 'lab:choose-export-path',
  chooseCheckpoint: 'lab:choose-checkpoint',
  chooseExportFolder: 'lab:choose-export-folder',
  restartTrainer: 'lab:restart-trainer',
  /** Main -> GPU host page: a port for one compute core (also the window message type its preload re-posts). */
  gpuHostCore: 'lab:gpu-host-core',
  /** GPU host page -> main (send): what it found, once it has started WebGPU (a GpuHostReport). */
  gpuHostReport: 'lab:gpu-host-report',
  /** GPU host page -> main (send): its device was lost, with the reason. */
  gpuHostLost: 'lab:gpu-host-lost',
} as const;
