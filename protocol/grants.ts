// Grants: how a path the user chose in a native dialog reaches the trainer without the page
// ever holding it. Main makes a random id and tells the trainer "id -> path, purpose" on the
// trainer's parent port (parent-port.ts); the page gets only the id (workbench.ts' PathRef)
// and a label. The shapes both ends share live here; main's side (making ids, answering the
// page) is electron/main/grants.ts, the trainer's (keeping and resolving them)
// electron/trainer/server/grants.ts.
//
// zod and other protocol files only, no node: modules. The id's schema is workbench.ts' (a
// viewer's PathRef names a grant by it).
import { z } from 'zod';
import { grantIdSchema } from './workbench';

export { grantIdSchema };

/** True when `value` has a grant id's shape: 128 random bits as 32 lowercase hex digits. */
export function isGrantId(value: unknown): value is string {
  return grantIdSchema.safeParse(value).success;
}

/** What the path was chosen for: an open dialog's path is read, a save dialog's written. */
export const grantPurposeSchema = z.enum(['read', 'write'], { error: "a grant's purpose is 'read' or 'write'" });
export type GrantPurpose = z.infer<typeof grantPurposeSchema>;

/**
 * Main → trainer, on the parent port: the path behind a grant id. The path is a dialog's, so
 * absolute; whether it is absolute depends on the platform's rules, which the trainer checks
 * with node:path (this file cannot import it).
 */
export const grantMessageSchema = z.object({
  type: z.literal('grant'),
  grant: grantIdSchema,
  path: z.string({ error: 'a granted path must be a string' }).min(1, 'a granted path must not be empty'),
  purpose: grantPurposeSchema,
});
export type GrantMessage = z.infer<typeof grantMessageSchema>;
