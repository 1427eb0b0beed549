// getRun's `resume` (protocol/workbench.ts ResumeCheck): whether the run can really be resumed,
// as the trainer found it on the run's checkpoints. Read leniently: an older trainer sends none
// (then run.json's state decides, run-records.ts canResume), and a malformed one is ignored.
import { resumeCheckSchema } from '#protocol/run-record';
import type { ResumeCheck } from '#protocol/workbench';

export function parseResumeCheck(reply: unknown): ResumeCheck | null {
  const raw = typeof reply === 'object' && reply !== null ? (reply as { resume?: unknown }).resume : undefined;
  const parsed = resumeCheckSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** "step 4: damaged (checksum mismatch); step 2: …" */
export function damagedText(damaged: readonly { step: number; reason: string }[]): string {
  return damaged.map((d) => `step ${d.step}: ${d.reason.replace(/^The checkpoint /, '').replace(/^is /, '')}`).join('; ');
}
