// Grants: how a path the user chose in a native dialog reaches the trainer without the page
// ever holding it. Main makes a random id, tells the trainer "id -> path, purpose" on the
// trainer's parent port, and gives the page only the id and a label
// (electron/trainer/server/grants.ts is the other side; the message and the id's shape are
// protocol/grants.ts).
import { randomBytes } from 'node:crypto';
import { basename, isAbsolute } from 'node:path';
import { isGrantId, type GrantMessage, type GrantPurpose } from '#protocol/grants';
import type { FileChoice } from '../preload/api';

export type { GrantMessage, GrantPurpose };

/** 128 random bits as 32 hex digits: unguessable, so a page cannot name a path it was not given. */
export function newGrantId(random: (size: number) => Buffer = randomBytes): string {
  const id = random(16).toString('hex');
  if (!isGrantId(id)) throw new Error('the random source gave no 16 bytes');
  return id;
}

/** What to post to the trainer and what to answer the page, for a path a dialog returned. */
export function grantFor(path: string, purpose: GrantPurpose, random?: (size: number) => Buffer): { message: GrantMessage; choice: FileChoice } {
  // Dialogs return absolute paths; anything else is a bug, not something to pass on.
  if (!isAbsolute(path)) throw new Error('a dialog returned a relative path');
  const grant = newGrantId(random);
  // A root folder ("/" or "C:\") has no base name: show the path itself.
  const label = basename(path) || path;
  return { message: { type: 'grant', grant, path, purpose }, choice: { grant, label } };
}
