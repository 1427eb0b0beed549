// Its own module, free of Node imports: the compute core throws it, and that core must also
// bundle for a browser page (the app's GPU host, compute-core.ts).

/** Why a run cannot go on, in words a user can act on. */
export class TrainingError extends Error {
  override readonly name = 'TrainingError';
}
