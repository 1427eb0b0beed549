// Preloaded into `lab serve` by serve.ts (node --import; plain JavaScript, since it loads
// beside tsx's hooks rather than through them): the server stops when the test process that
// started it goes away, however it went (a killed vitest worker runs no 'exit' handlers).
// The IPC channel closes with the parent; SIGINT then stops the server the way Ctrl+C does
// (checkpointing a running run), and a last timer makes sure it ends.
if (process.channel) {
  // The channel must not keep the server alive once it has stopped on its own.
  process.channel.unref();
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), 20_000).unref();
    process.kill(process.pid, 'SIGINT');
  });
}
