// The one error the client throws: every failure, the trainer's or the connection's, carries a code.

/** An error with a machine-readable code: a reply's error code, or a connection failure. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'LabError';
  }
}
