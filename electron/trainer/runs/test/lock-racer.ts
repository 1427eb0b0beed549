// A separate process for the run-lock race test (run-lock.test.ts): forked with
// `--import tsx`, it takes a run's lock when told to, says whether it won, and holds
// the lock until told to let it go, so that no loser can take it afterwards.
import { acquireRunLock, type ReleaseLock } from '../run-lock';

type Command = { readonly type: 'race'; readonly dir: string; readonly runId: string; readonly at: number } | { readonly type: 'release' };

let held: ReleaseLock | undefined;

process.on('message', (command: Command) => {
  void (async () => {
    if (command.type === 'race') {
      // Everyone starts at the same moment, not when its message happened to arrive.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, command.at - Date.now())));
      try {
        held = await acquireRunLock(command.dir, command.runId);
        process.send?.({ type: 'result', pid: process.pid, won: true });
      } catch (error) {
        const e = error as { kind?: string; message?: string };
        process.send?.({ type: 'result', pid: process.pid, won: false, kind: e.kind ?? null, message: e.message ?? String(error) });
      }
    } else {
      await held?.();
      held = undefined;
      process.send?.({ type: 'released', pid: process.pid });
    }
  })();
});

// The parent disconnects when the test is over.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', pid: process.pid });
