// Preset texts from the trainer mark commands and settings with backticks, Markdown-style
// ("`lab summary --model tiny`"). Split into plain text and code, so the view shows <code>
// rather than the raw backticks; nothing else of Markdown is interpreted (no HTML is made
// from the text: each part is shown as text).

export interface TextPart {
  text: string;
  code: boolean;
}

/** "a `b` c" -> [a ][b as code][ c]. An unmatched backtick is kept as written. */
export function inlineCode(text: string): TextPart[] {
  const pieces = text.split('`');
  // An odd count of backticks leaves the last one unmatched: that one is text.
  const closed = pieces.length % 2 === 1 ? pieces.length : pieces.length - 1;
  const parts: TextPart[] = [];
  const push = (part: TextPart) => {
    if (part.text === '') return;
    const last = parts.at(-1);
    if (last && last.code === part.code) last.text += part.text;
    else parts.push({ ...part });
  };
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    if (i >= closed) push({ text: `\`${piece}`, code: false });
    else push({ text: piece, code: i % 2 === 1 });
  }
  return parts;
}
