/**
 * Syntax classes for one line of JSON. A JSON string never spans lines, so
 * every line tokenizes on its own (the view tokenizes only the rows it draws).
 * Text that is not JSON still gets classes; nothing is ever dropped: the gaps
 * between tokens are drawn as plain text.
 */

/** key, string, number, literal (true / false / null), punctuation, anything else. */
export type TokenClass = 'key' | 'str' | 'num' | 'lit' | 'punc' | 'other';

export interface Token {
  readonly from: number;
  readonly to: number;
  readonly cls: TokenClass;
}

export function tokenizeLine(line: string): Token[] {
  const out: Token[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    const ch = line.charCodeAt(i);
    if (ch === 0x20 || ch === 0x09 || ch === 0x0d) {
      i++;
      continue;
    }
    if (ch === 0x22) {
      const end = stringEnd(line, i);
      let k = end;
      while (k < n && (line.charCodeAt(k) === 0x20 || line.charCodeAt(k) === 0x09)) k++;
      out.push({ from: i, to: end, cls: k < n && line.charCodeAt(k) === 0x3a ? 'key' : 'str' });
      i = end;
      continue;
    }
    if (ch === 0x7b || ch === 0x7d || ch === 0x5b || ch === 0x5d || ch === 0x2c || ch === 0x3a) {
      out.push({ from: i, to: i + 1, cls: 'punc' });
      i++;
      continue;
    }
    let k = i + 1;
    while (k < n && !isBreak(line.charCodeAt(k))) k++;
    const word = line.slice(i, k);
    const cls: TokenClass = word === 'true' || word === 'false' || word === 'null' ? 'lit' : /^-?\d/.test(word) ? 'num' : 'other';
    out.push({ from: i, to: k, cls });
    i = k;
  }
  return out;
}

function isBreak(ch: number): boolean {
  return ch === 0x20 || ch === 0x09 || ch === 0x0d || ch === 0x22 || ch === 0x2c || ch === 0x3a || ch === 0x7b || ch === 0x7d || ch === 0x5b || ch === 0x5d;
}

/** Just past the closing quote, or the end of the line when the string is not closed on it. */
function stringEnd(line: string, start: number): number {
  for (let k = start + 1; k < line.length; k++) {
    const ch = line.charCodeAt(k);
    if (ch === 0x5c) k++;
    else if (ch === 0x22) return k + 1;
  }
  return line.length;
}
