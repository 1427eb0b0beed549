// The one error the client throws: every failure, the trainer's or the connection's, carries a code.
import type { ConfigIssue } from '../train-config';

/** An error with a machine-readable code: a reply's error code, or a connection failure. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** A refused training config's problems by field (a reply's `issues`); empty otherwise. */
    readonly issues: readonly ConfigIssue[] = [],
  ) {
    super(message);
    this.name = 'LabError';
  }
}
