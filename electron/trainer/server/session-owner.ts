// Which training session the trainer owns: at most one run trains at a time, a second start is refused (even while the
// first is still opening), and the last run after it ended is kept with its compute core so that viewers can still ask
// for the maps of its final weights (issue 14, 2.1) until the next run starts or the host closes.
import { GpuDeviceError } from '../../../models/webgpu-device';
import type { RunOutcome } from '../training/session';
import type { ModelInfo, ProbeSettings } from '../training/compute-core';
import type { MapSubscription } from '../probes/run-probes';
import { CommandError } from './workbench/types';

/** What the owner needs of a session (a TrainingSession is one, and an InspectionSession). */
export interface OwnedSession {
  readonly run: { readonly id: string };
  /** It has sent its end state (it may still be releasing its lock and core). */
  readonly hasEnded: boolean;
  /** What it does to its run, for the busy message ("run X is <activity>"); default 'training'. */
  readonly activity?: string;
  /** Its work: training, or an inspection pass; resolves when it has ended. */
  train(): Promise<RunOutcome>;
  dispose(): void;
}

/**
 * What the lab host asks of the session it owns: a TrainingSession, or an InspectionSession
 * (inspection/inspection-session.ts), which speaks the same events without training.
 */
export interface LabSession extends OwnedSession {
  readonly model: ModelInfo;
  readonly totalSteps: number;
  pause(): void;
  resume(): void;
  stop(): void;
  setProbeImages(images: readonly number[] | null): Promise<void>;
  setProbeInterval(ms: number): Promise<void>;
  configureProbes(changes: Partial<ProbeSettings>): Promise<ProbeSettings>;
  subscriptionProblem(subscription: MapSubscription): string | null;
  subscribe(subscription: MapSubscription): Promise<void>;
  probeNow(): Promise<void>;
}

export class SessionOwner<S extends OwnedSession = LabSession> {
  private session: S | null = null;
  /** The last run after it ended, its compute core kept; freed when the next run starts or the host closes. */
  private ended: S | null = null;
  /** Set from the moment a start or resume is accepted until its session exists: a second one is refused meanwhile. */
  private starting = false;
  private trainingPromise: Promise<RunOutcome | undefined> | null = null;

  /** `log`: where a failed run is reported. */
  constructor(private readonly log?: (line: string) => void) {}

  /** The run training now. */
  get current(): S | null {
    return this.session;
  }

  /** The run whose maps viewers can ask for: the one training, else the last one ended. */
  get viewable(): S | null {
    return this.session ?? this.ended;
  }

  /** A run is training or starting. */
  get busy(): boolean {
    return this.session !== null || this.starting;
  }

  /** The latest run's training; it resolves when that run has ended (undefined if it failed), never rejects. */
  get training(): Promise<RunOutcome | undefined> | null {
    return this.trainingPromise;
  }

  /** The run training now, or a 'no-run' CommandError saying there is nothing to `what`. */
  need(what: string): S {
    if (!this.session) throw new CommandError(`nothing to ${what}: no run is training; start one or resume a stopped one`, 'no-run');
    return this.session;
  }

  /** Frees the ended run's model (before another run needs the memory, or at close). */
  releaseEnded(): void {
    this.ended?.dispose();
    this.ended = null;
  }

  /**
   * Opens a run and trains it, unless one is training or starting ('busy'). `prepare` runs once the new session is the
   * current one, before it trains. Resolves with the session once it trains.
   */
  async start(open: () => Promise<S>, prepare: (session: S) => Promise<void>): Promise<S> {
    // A run that has sent its end state still releases its lock and core for a moment: a
    // viewer that starts again on seeing that state waits for it rather than being refused.
    if (this.session?.hasEnded) await this.trainingPromise;
    if (this.session) throw new CommandError(`run ${this.session.run.id} is ${this.session.activity ?? 'training'}: stop it before starting another`, 'busy');
    if (this.starting) throw new CommandError('a run is starting: wait for it, then stop it before starting another', 'busy');
    this.starting = true;
    // The new run needs the memory (on wasm, one 4 GiB heap), and its events replace the old run's.
    this.releaseEnded();
    let session: S;
    try {
      session = await open();
    } finally {
      this.starting = false;
    }
    this.session = session;
    await prepare(session);
    // A run whose GPU (or GPU host) failed has no weights left to show: its core would answer every request for maps with the same error.
    let gpuGone = false;
    this.trainingPromise = session
      .train()
      .catch((error: unknown) => {
        gpuGone = error instanceof GpuDeviceError;
        this.log?.(`run ${session.run.id} failed: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      })
      .finally(() => {
        if (this.session === session) this.session = null;
        // Kept for its final maps unless the run never reached its end (or another run started meanwhile).
        if (session.hasEnded && !gpuGone && this.session === null && !this.starting && this.ended === null) this.ended = session;
        else session.dispose();
      });
    return session;
  }
}
