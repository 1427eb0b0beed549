// Text for the terminal. File names, identity folders, run records and error
// messages come from outside the program and may hold control characters: an
// ESC sequence can clear the screen or set the window title, a bidi override
// can reorder what a line appears to say. Everything the command line prints
// goes through `terminalSafe`, which shows such characters instead of sending
// them.
//
// Convention: C0 controls (all but newline; tab too, as no output aligns with
// it), DEL and C1 controls become `\xHH` (ESC -> `\x1B`), bidi overrides and
// isolates become `\uHHHH` (RLO -> `\u202E`), upper-case hex, as literal text.
// Backslashes are left alone so that Windows paths print as they are; a name
// that itself spells `\x1B` therefore reads the same as an escaped ESC.
import { formatWithOptions } from 'node:util';

// C0 but \n, DEL, C1 (U+0080-U+009F: some terminals take U+009B as CSI), bidi embeddings/overrides and isolates.
const UNSAFE = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

function hex(code: number, digits: number): string {
  return code.toString(16).toUpperCase().padStart(digits, '0');
}

/** `text` with every control character that a terminal would act on shown as an escape instead. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

/**
 * JSON text made safe the JSON way, so that it still parses to the same value:
 * JSON.stringify already writes C0 controls as \u00XX, but leaves DEL, C1 and
 * bidi characters raw (they can only stand inside strings, where \uXXXX is valid).
 */
export function jsonTerminalSafe(json: string): string {
  return json.replace(UNSAFE, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);
}

/** Writes to stdout, escaped. */
export function printOut(text: string): boolean {
  return process.stdout.write(terminalSafe(text));
}

/** Writes to stderr, escaped. */
export function printErr(text: string): boolean {
  return process.stderr.write(terminalSafe(text));
}

/**
 * Routes console.log/info/debug (stdout) and console.warn/error (stderr) through
 * the escaping, for what the lab's modules and libraries log on their own (the
 * serve mode's request errors). Without colours: those are escape codes too.
 */
export function escapeConsole(): void {
  const line = (args: unknown[]) => `${formatWithOptions({ colors: false }, ...args)}\n`;
  console.log = console.info = console.debug = (...args: unknown[]) => void printOut(line(args));
  console.warn = console.error = (...args: unknown[]) => void printErr(line(args));
}
