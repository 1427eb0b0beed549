// Whether a run can really be resumed, for getRun (Run detail's Resume button): checked the way
// `lab runs` checks it (runResumePoint: the newest checkpoint that verifies), not taken from
// run.json. Verifying reads and hashes a whole checkpoint (a LightCNN-9 with Adam's moments is
// about 66 MB), which is slow from a cold disk (figures: bench/NOTES.md, "Figures behind design
// choices"), so it is done for the one run opened, never for every run in listRuns.
import type { ResumeCheck } from '#protocol/workbench';
import { runResumePoint } from '../../runs/run-store';

/** Where a resume of the run in `dir` would start, or why it cannot; null for a finished run (it cannot be resumed anyway). */
export async function resumeCheck(dir: string, state: string): Promise<ResumeCheck | null> {
  if (state === 'finished') return null;
  const point = await runResumePoint(dir);
  const damaged = 'unusable' in point ? point.unusable.map((u) => ({ step: u.step, reason: u.reason })) : [];
  switch (point.kind) {
    case 'start':
      return { kind: 'start' };
    case 'checkpoint':
      return { kind: 'checkpoint', step: point.step, damaged };
    case 'none':
      return { kind: 'none', damaged };
  }
}
