/**
 * Words for a change: the accessible label ("added config.Env[2]: A=1"), the
 * value to copy, a short form of a value for inline notes. Pure.
 */
import type { ViewChange } from './protocol';

/** The child's JSON text of an added / changed value ('' for removed). */
export function afterText(c: ViewChange, text: string): string {
  if (c.kind === 'removed') return '';
  const off = c.valueOffset ?? c.offset ?? 0;
  const len = c.valueLength ?? c.length ?? 0;
  return text.slice(off, off + len);
}

/** JSON text as people read it: a string without its quotes, one line, at most `max` characters. */
export function shortValue(json: string | undefined, max = 80): string {
  if (json === undefined) return '';
  let s = json;
  if (s.startsWith('"')) {
    try {
      s = JSON.parse(s) as string;
    } catch {
      // keep the quotes
    }
  } else if (s.length > 2 && (s.startsWith('{') || s.startsWith('['))) {
    s = s.replace(/\s*\n\s*/g, ' ');
  }
  s = s.replace(/[\r\n\t]+/g, ' ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** JSON as it is compared: quotes kept, one line, at most `max` characters. */
export function shortJson(json: string | undefined, max = 80): string {
  if (json === undefined) return '';
  const s = json.replace(/\s*\n\s*/g, ' ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** "added config.Env[2]: A=1", "changed config.User from "" to "1000"", "removed config.X: y". */
export function changeLabel(c: ViewChange, text: string): string {
  switch (c.kind) {
    case 'added':
      return `added ${c.display}: ${shortValue(afterText(c, text))}`;
    case 'changed':
      return `changed ${c.display} from ${shortJson(c.before)} to ${shortJson(afterText(c, text))}`;
    case 'removed':
      return `removed ${c.display}: ${shortValue(c.before)}`;
  }
}

/** What "Copy Value" copies: a string as its characters, anything else as 2-space JSON. */
export function copyValue(c: ViewChange, text: string): string {
  const json = c.kind === 'removed' ? (c.before ?? '') : afterText(c, text);
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'string' ? v : JSON.stringify(v, null, 2);
  } catch {
    return json;
  }
}
