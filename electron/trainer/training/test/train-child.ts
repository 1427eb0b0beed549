// A training run in its own process, for the kill -9 test. It announces "ready"
// after step `holdAt` and then blocks, so the parent kills it at a known point
// (after a checkpoint, with later metric rows written but not yet checkpointed).
import { TrainingSession } from '../session';

const [dataDir, configJson, holdAt] = process.argv.slice(2);
if (!dataDir || !configJson || !holdAt) throw new Error('usage: train-child.ts <dataDir> <configJson> <holdAtStep>');
const session = await TrainingSession.start(JSON.parse(configJson), {
  dataDir,
  backend: 'cpu',
  prefetch: 0,
  onEvent: (event) => {
    if (event.type === 'progress' && event.step === Number(holdAt)) {
      process.stdout.write(`ready ${session.run.id}\n`, () => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000); // until killed
      });
    }
  },
});
await session.train();
