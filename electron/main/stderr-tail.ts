// The last lines a process wrote to stderr, kept across chunks (a line can arrive in pieces,
// and a crash's message spans several lines), so a crash can be explained to the user.

export class LineTail {
  private lines: string[] = [];
  private partial = '';

  constructor(
    private readonly maxLines = 12,
    /** Longer lines are cut: one runaway line must not fill the message. */
    private readonly maxLineLength = 500,
  ) {}

  push(chunk: string): void {
    const pieces = (this.partial + chunk).split(/\r?\n/);
    this.partial = (pieces.pop() ?? '').slice(-4 * this.maxLineLength);
    for (const piece of pieces) this.add(piece);
  }

  private add(line: string): void {
    const trimmed = line.trimEnd();
    if (trimmed.trim() === '') return;
    this.lines.push(trimmed.length > this.maxLineLength ? `${trimmed.slice(0, this.maxLineLength)}…` : trimmed);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
  }

  /** The kept lines, the unfinished last one included, joined by newlines. */
  text(): string {
    const partial = this.partial.trimEnd();
    const lines = partial.trim() === '' ? this.lines : [...this.lines, partial.slice(0, this.maxLineLength)].slice(-this.maxLines);
    return lines.join('\n');
  }

  clear(): void {
    this.lines = [];
    this.partial = '';
  }
}
