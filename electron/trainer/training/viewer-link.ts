// What a session does for its viewers, written once for the two sessions that own the lab in
// turn (server/session-owner.ts's LabSession): a TrainingSession (training/session.ts) and an
// InspectionSession (inspection/inspection-session.ts). It holds the viewers' commands (pause,
// resume, stop: the session's loop looks at them between steps and holds while paused), the
// probe faces and their labels, the core's probe settings, and the ended flag (from then on
// every request for maps is answered at once from the final weights); every command that may
// need the paused loop to act wakes it.
//
// What differs between the sessions stays in them and is passed in here: which faces are the
// default (each session picks them and calls setFaces), the step frames are sent at (training's
// step, the pass's batch), when a change of faces is announced at once, whether frames are
// due on a timer (only training's weights change: its step loop passes `now` false), what the
// pause and the end say (training records its state in run.json, and captures at pause), and
// that an inspection ignores a viewer's statistics window (the pass's window is the whole pass).
import { batchArrays, type BatchSource } from '../../../datasets/batches';
import type { FaceDataset } from '../../../datasets';
import { checkProbeImages, subscriptionProblem, type MapSubscription } from '../probes/run-probes';
import type { BatchData, ComputeCore, ProbeSettings } from './compute-core';
import type { TrainEvent } from './session';

/** What a session works with that the probes need: a training run's Prepared, a pass's Opened. */
export interface ViewerParts {
  readonly core: ComputeCore;
  /** Names the probe faces (their identities). */
  readonly dataset: Pick<FaceDataset, 'identities' | 'imageIdentity'>;
  /** Where the probe faces' pixels come from, cropped to the input size. */
  readonly source: BatchSource;
  readonly config: { readonly inputSize: number };
}

/** Where the sessions differ. */
export interface ViewerHooks {
  /** The step frames are sent at: training's step, an inspection pass's batch. */
  readonly step: () => number;
  /** Whether a change of faces is announced ('probes') at once; before then the session's train() announces them after 'started'. */
  readonly announced: () => boolean;
  readonly emit: (event: TrainEvent) => void;
}

export class ViewerLink {
  private paused = false;
  private stopRequested = false;
  /** The probe faces (dataset image indices). */
  private images: readonly number[] = [];
  private settings: ProbeSettings;
  private isEnded = false;
  private wake: (() => void) | undefined;
  /** Set by every command that may need the paused loop to act; cleared when it looks. */
  private woken = false;

  /** `settings`: the core's probe settings when the session opens (it answers them on every change). */
  constructor(
    private readonly parts: ViewerParts,
    settings: ProbeSettings,
    private readonly hooks: ViewerHooks,
  ) {
    this.settings = settings;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.notify();
  }

  stop(): void {
    this.stopRequested = true;
    this.notify();
  }

  /** A viewer asked to stop: the session ends when its loop next looks. */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Paused, and no stop asked for: the session's loop holds (holdWhilePaused). */
  get holding(): boolean {
    return this.paused && !this.stopRequested;
  }

  /** The session has ended: its weights are final and every request for maps is answered at once from them. */
  get ended(): boolean {
    return this.isEnded;
  }

  end(): void {
    this.isEnded = true;
  }

  /** Sets the probe faces (dataset image indices; the session chooses the default ones). */
  async setFaces(chosen: readonly number[]): Promise<void> {
    const { core, source, config } = this.parts;
    checkProbeImages(chosen, source.labels.length);
    await core.setProbeFaces(await centreCrops(source, chosen, config.inputSize));
    this.images = [...chosen];
    if (this.hooks.announced()) this.emitProbes();
    this.notify(); // paused: the new faces' maps now
    if (this.isEnded) await this.emitFrames(true);
  }

  async setProbeInterval(ms: number): Promise<void> {
    await this.configureProbes({ intervalMs: ms });
    this.emitProbes();
  }

  /** Changes the core's probe settings as given (an inspection session leaves the window out before it asks). */
  async configureProbes(changes: Partial<ProbeSettings>): Promise<ProbeSettings> {
    this.settings = await this.parts.core.configureProbes(changes);
    return this.settings;
  }

  /** Why this subscription cannot be served (an unknown layer, filter or probe), or null. */
  subscriptionProblem(subscription: MapSubscription): string | null {
    return subscriptionProblem(this.parts.core.model.layers, this.images.length, subscription);
  }

  /** What the viewers watch; frames follow after the next step (or at once when paused or ended). */
  async subscribe(subscription: MapSubscription): Promise<void> {
    await this.parts.core.subscribe(subscription);
    this.notify();
    if (this.isEnded) await this.emitFrames(true);
  }

  /** Activation maps now: after the current step, or at once when paused or ended. */
  async probeNow(): Promise<void> {
    await this.parts.core.requestCapture();
    this.notify();
    if (this.isEnded) await this.emitFrames(true);
  }

  /** Ends the session and sends the maps of its final weights; a failure throws (the session words the warning). */
  async finalMaps(): Promise<void> {
    this.end();
    await this.parts.core.requestCapture();
    await this.emitFrames(true);
  }

  /** Maps when due, or at once (`now`: a capture a viewer asked for, if pending); whether any came. */
  async emitFrames(now: boolean): Promise<boolean> {
    const step = this.hooks.step();
    const { frames, warnings } = await this.parts.core.frames(step, { now });
    if (frames.length > 0) this.hooks.emit({ type: 'frames', step, frames });
    for (const message of warnings) this.hooks.emit({ type: 'warning', message });
    return frames.length > 0;
  }

  /** The probe faces and their identities' names. */
  probeList(): { probes: number[]; labels: string[] } {
    const { dataset } = this.parts;
    const labels = this.images.map((i) => dataset.identities[dataset.imageIdentity[i] as number] ?? '');
    return { probes: [...this.images], labels };
  }

  emitProbes(): void {
    const { probes, labels } = this.probeList();
    this.hooks.emit({ type: 'probes', images: probes, labels, intervalMs: this.settings.intervalMs });
  }

  /** Returns on resume or stop. Paused, a viewer may still ask for maps (a new subscription, a probe face, a filter): they are sent at once. */
  async holdWhilePaused(): Promise<void> {
    while (this.holding) {
      this.woken = false;
      if (await this.emitFrames(true)) continue;
      if (!this.woken) await new Promise<void>((wake) => (this.wake = wake));
      this.wake = undefined;
    }
  }

  /** Wakes the paused loop; remembered when it is not waiting (it may be awaiting the core). */
  private notify(): void {
    this.woken = true;
    this.wake?.();
  }
}

/** The centre crops of `images`, as one batch of arrays. */
async function centreCrops(source: BatchSource, images: readonly number[], inputSize: number): Promise<BatchData> {
  const iterator = batchArrays(source, { indices: Int32Array.from(images), batchSize: images.length, inputSize, augment: false, shuffle: false, seed: 0, prefetch: 0 });
  try {
    for await (const batch of iterator) return batch;
  } finally {
    await iterator.close();
  }
  throw new Error('the probe faces gave no batch');
}
