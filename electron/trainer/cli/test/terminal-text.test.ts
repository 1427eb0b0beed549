// What the command line prints is escaped: control characters are shown, not sent to the terminal.
import { describe, expect, test } from 'vitest';
import { jsonTerminalSafe, terminalSafe } from '../terminal-text';

describe('terminalSafe', () => {
  test('ordinary text, non-ASCII letters, CJK, emoji and backslashes are unchanged', () => {
    for (const text of ['Zoë Saldaña', '李小龙 / 山田太郎', 'Ægir-Øye_01.jpg', 'C:\\Users\\zoë\\faces', 'loss 0.1234, acc 97.5% … ✓ 😀', '']) {
      expect(terminalSafe(text)).toBe(text);
    }
  });

  test('newline is kept; the other C0 controls, tab included, become \\xHH', () => {
    expect(terminalSafe('a\nb')).toBe('a\nb');
    expect(terminalSafe('\x1b]0;pwned\x07\x1b[2J')).toBe('\\x1B]0;pwned\\x07\\x1B[2J');
    expect(terminalSafe('\x00\t\r\x08\x0b\x0c\x1f')).toBe('\\x00\\x09\\x0D\\x08\\x0B\\x0C\\x1F');
    for (let code = 0; code < 0x20; code++) {
      if (code !== 0x0a) expect(terminalSafe(String.fromCharCode(code))).toBe(`\\x${code.toString(16).toUpperCase().padStart(2, '0')}`);
    }
  });

  test('DEL and the C1 controls (U+009B is a one-character CSI) become \\xHH', () => {
    expect(terminalSafe('x\x7fy')).toBe('x\\x7Fy');
    expect(terminalSafe('\u009b2J\u0085\u0080\u009f')).toBe('\\x9B2J\\x85\\x80\\x9F');
    // The letters just above the C1 block are ordinary text.
    expect(terminalSafe('\u00a0\u00e9\u00ff')).toBe('\u00a0\u00e9\u00ff');
  });

  test('bidi embeddings, overrides and isolates become \\uHHHH', () => {
    expect(terminalSafe('photo\u202Egpj.exe')).toBe('photo\\u202Egpj.exe');
    expect(terminalSafe('\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069')).toBe('\\u202A\\u202B\\u202C\\u202D\\u2066\\u2067\\u2068\\u2069');
    // Neighbours of those ranges are left alone.
    expect(terminalSafe('\u2029\u202F\u2065\u206A')).toBe('\u2029\u202F\u2065\u206A');
  });
});

describe('jsonTerminalSafe', () => {
  test('escapes what JSON.stringify leaves raw, and the JSON still parses to the same value', () => {
    const value = { names: ['Zoë', 'evil\x1b]0;pwned\x07', 'del\x7f', 'csi\u009b', 'rlo\u202E'] };
    const json = jsonTerminalSafe(JSON.stringify(value, null, 2));
    expect(json).not.toMatch(/[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/);
    expect(json).toContain('Zoë');
    expect(JSON.parse(json)).toEqual(value);
  });
});
