// The lab's protocol, shared by the trainer and the renderer: JSON messages
// (messages.ts) and binary activation frames (frames.ts).
export * from './messages';
export * from './frames';
export * from './workbench';
export * from './run-record';
export * from './metrics-rows';
