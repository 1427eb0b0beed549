// One short training session, as the backend tests run it on each backend to compare: a tiny
// model on synthetic faces, conv1's maps watched, every event kept and the loss rows read out.
import type { TrainConfigInput } from '../config';
import { TrainingSession, type SessionOptions, type TrainEvent } from '../session';

export const TINY_RUN: TrainConfigInput = { data: 'synthetic:6x8', model: 'tiny', inputSize: 16, batch: 4, epochs: 2, optimizer: 'adam', lr: 0.002, seed: 3, activation: 'mfm', warmupSteps: 0 };

export type Of<T extends TrainEvent['type']> = Extract<TrainEvent, { type: T }>;

export interface RunSessionOptions {
  readonly dataDir: string;
  readonly maxSteps: number;
  /** Resume this run instead of starting one. */
  readonly resume?: string;
  /** The rest of the session's options: its backend, a core factory. */
  readonly session?: Omit<SessionOptions, 'dataDir' | 'onEvent'>;
  readonly onEvent?: (event: TrainEvent) => void;
}

/** Trains until `maxSteps`; returns the outcome, every event and the loss rows as [step, loss]. */
export async function runSession(options: RunSessionOptions) {
  const events: TrainEvent[] = [];
  const sessionOptions: SessionOptions = {
    prefetch: 0,
    probes: { intervalMs: 50 },
    ...options.session,
    dataDir: options.dataDir,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  };
  const session =
    options.resume === undefined
      ? await TrainingSession.start({ ...TINY_RUN, maxSteps: options.maxSteps }, sessionOptions)
      : await TrainingSession.resume(options.resume, { ...sessionOptions, overrides: { maxSteps: options.maxSteps } });
  try {
    await session.subscribe({ layers: new Set(['conv1.act']), preActivation: new Set(), fullMaps: [] });
    const outcome = await session.train();
    const losses = (events.filter((e) => e.type === 'progress') as Of<'progress'>[]).map((e) => [e.step, e.loss] as const);
    return { outcome, events, losses, runId: session.run.id };
  } finally {
    session.dispose();
  }
}
