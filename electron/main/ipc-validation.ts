// Checks on every IPC message main receives: who sent it, and what it carries. The page is
// treated as untrusted input (a compromised renderer can send anything on any channel).
import { z } from 'zod';
import { isAppPageUrl, type AppLocation } from './policy';

/** What main knows about the sender of an IPC message. */
export interface SenderFacts {
  /** The sender is the web contents of one of the app's own windows. */
  readonly isOurWindow: boolean;
  /** The URL of the frame that sent it (null when the frame is gone). */
  readonly frameUrl: string | null;
  /** The frame is its page's main frame (not an iframe). */
  readonly isMainFrame: boolean;
}

/** Only the main frame of our own window, showing one of our own pages, may call main. */
export function senderAllowed(facts: SenderFacts, location: AppLocation): boolean {
  return facts.isOurWindow && facts.isMainFrame && facts.frameUrl !== null && isAppPageUrl(facts.frameUrl, location);
}

export const datasetKindSchema = z.enum(['folder', 'archive']);

/**
 * Longest suggested export name: a run id (at most 200 characters, protocol/messages.ts)
 * plus ".tar.gz", within every file system's 255. The user can still type what they like.
 */
export const MAX_SUGGESTED_NAME = 220;

/**
 * A plain file name to pre-fill a save dialog with: letters, digits, spaces and `._-+()`
 * (every run id qualifies). No separators, so it cannot name another folder; not `.` or
 * `..`; no space at either end and no dot at the end (Windows drops those silently).
 */
export const suggestedNameSchema = z
  .string()
  .min(1, 'the suggested name is empty')
  .max(MAX_SUGGESTED_NAME, `the suggested name is longer than ${MAX_SUGGESTED_NAME} characters`)
  .regex(/^[A-Za-z0-9 ._()+-]+$/, 'the suggested name may hold only letters, digits, spaces and . _ - + ( )')
  .refine((name) => name !== '.' && name !== '..', 'the suggested name cannot be "." or ".."')
  .refine((name) => name.trim() === name && !name.endsWith('.'), 'the suggested name may not start or end with a space, nor end with a dot');

/**
 * Validates a handler's arguments as a tuple: the exact number of arguments, each by its
 * schema. Throws an Error whose message says what was wrong (the page sees it).
 */
export function parseArgs<const T extends readonly z.ZodType[]>(channel: string, args: readonly unknown[], schemas: T): { [K in keyof T]: z.infer<T[K]> } {
  if (args.length !== schemas.length) throw new Error(`${channel} takes ${schemas.length} argument${schemas.length === 1 ? '' : 's'}, got ${args.length}`);
  return schemas.map((schema, i) => {
    const result = schema.safeParse(args[i]);
    if (!result.success) throw new Error(`${channel}: ${result.error.issues.map((issue) => issue.message).join('; ')}`);
    return result.data;
  }) as { [K in keyof T]: z.infer<T[K]> };
}
