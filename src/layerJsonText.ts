/**
 * The text the Layer JSON editor shows for a document, and what to say when a
 * document is not JSON. Pure (no `vscode`): legacy `graph/<id>/json` files and
 * image configs are one line on disk; they are re-indented token by token,
 * keeping every key order, number literal and string escape exactly as
 * written (JSON.parse + stringify would lose big numbers and repeated keys).
 */
import { type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';

export interface DisplayText {
  readonly text: string;
  /** True when the text was re-indented (it was one line on disk). */
  readonly reformatted: boolean;
}

/** Where a text stops being JSON, and the text around that point. */
export interface JsonSyntaxError {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  readonly reason: string;
  readonly before: string;
  readonly at: string;
  readonly after: string;
}

/** The text to show: as it is when it already spans lines, re-indented (2 spaces) when it is one line. */
export function displayText(raw: string): DisplayText {
  if (raw.trimEnd().includes('\n')) return { text: raw, reformatted: false };
  return { text: reindentJson(raw), reformatted: true };
}

/**
 * Re-indents strict JSON with `indent` per level: one member per line, `": "`
 * after keys, empty `{}` / `[]` kept on one line. Tokens are copied verbatim.
 * Text that is not JSON comes out changed only in its whitespace.
 */
export function reindentJson(text: string, indent = '  '): string {
  const out: string[] = [];
  const pads: string[] = ['\n'];
  const pad = (depth: number): string => (pads[depth] ??= '\n' + indent.repeat(depth));
  let depth = 0;
  let i = 0;
  const n = text.length;
  const nextNonSpace = (from: number): number => {
    let k = from;
    while (k < n && isSpace(text.charCodeAt(k))) k++;
    return k;
  };
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (isSpace(ch)) {
      i++;
    } else if (ch === 0x22 /* " */) {
      const end = stringEnd(text, i);
      out.push(text.slice(i, end));
      i = end;
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      const k = nextNonSpace(i + 1);
      const close = ch === 0x7b ? 0x7d : 0x5d;
      if (k < n && text.charCodeAt(k) === close) {
        out.push(ch === 0x7b ? '{}' : '[]');
        i = k + 1;
      } else {
        depth++;
        out.push(text[i], pad(depth));
        i++;
      }
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      depth = Math.max(0, depth - 1);
      out.push(pad(depth), text[i]);
      i++;
    } else if (ch === 0x2c /* , */) {
      out.push(',', pad(depth));
      i++;
    } else if (ch === 0x3a /* : */) {
      out.push(': ');
      i++;
    } else {
      let k = i + 1;
      while (k < n && !isDelimiter(text.charCodeAt(k))) k++;
      out.push(text.slice(i, k));
      i = k;
    }
  }
  return out.join('');
}

/** The first syntax error of a text that JSON.parse refuses, or undefined when it is strict JSON. */
export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    const errors: ParseError[] = [];
    parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    const offset = first?.offset ?? Math.min(text.length, Math.max(0, Number(/position (\d+)/.exec(String(err))?.[1] ?? 0)));
    const length = Math.max(1, first?.length ?? 1);
    const reason = text.trim() === '' ? 'the file is empty' : first ? describeParseError(printParseErrorCode(first.error)) : (err as Error).message;
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    const line = countLines(text, offset);
    return {
      offset,
      line,
      column: offset - lineStart + 1,
      reason,
      before: visible(text.slice(Math.max(lineStart, offset - 60), offset)),
      at: visible(text.slice(offset, offset + Math.min(length, 40))),
      after: visible(text.slice(offset + length, offset + length + 40).split('\n')[0]),
    };
  }
}

/** `ValueExpected` → `a value was expected`. */
function describeParseError(code: string): string {
  const words = code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  const m = /^(.*) expected$/.exec(words);
  if (m) return `${/^[aeiou]/.test(m[1]) ? 'an' : 'a'} ${m[1]} was expected`;
  return words;
}

function countLines(text: string, upTo: number): number {
  let line = 1;
  for (let k = text.indexOf('\n'); k >= 0 && k < upTo; k = text.indexOf('\n', k + 1)) line++;
  return line;
}

/** Control characters made visible, so an excerpt stays one line of plain text. */
function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '⏎' : c === '\t' ? '⇥' : '�'));
}

function isSpace(ch: number): boolean {
  return ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09;
}

function isDelimiter(ch: number): boolean {
  return isSpace(ch) || ch === 0x2c || ch === 0x7d || ch === 0x5d || ch === 0x3a || ch === 0x22 || ch === 0x7b || ch === 0x5b;
}

/** Index just past the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let k = start + 1;
  for (;;) {
    const q = text.indexOf('"', k);
    if (q < 0) return text.length;
    let backslashes = 0;
    for (let b = q - 1; b > start && text.charCodeAt(b) === 0x5c; b--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    k = q + 1;
  }
}
