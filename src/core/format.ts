/** Human formatting shared by the CLI and the views. */
import { escapeByte } from './byteNames';

/** Sizes as Docker prints them: SI units, 3 significant digits (`1.29MB`, `9.14kB`, `0B`). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${Number(value.toPrecision(3))}${units[i]}`;
}

/** `3 days ago`, `2 years ago`: coarse like `docker images`. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const steps: [number, string][] = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [7, 'day'],
    [4.35, 'week'],
    [12, 'month'],
    [Infinity, 'year'],
  ];
  let v = s;
  for (const [div, unit] of steps) {
    if (v < div) {
      const n = Math.floor(v);
      return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
    }
    v /= div;
  }
  return '';
}

/** A Dockerfile step without the `/bin/sh -c #(nop) ` noise: `ENV A=1`, `RUN rm -rf /x`. */
export function shortStep(createdBy: string): string {
  const s = createdBy.trim();
  const nop = /^\/bin\/sh -c #\(nop\)\s+/.exec(s);
  if (nop) return s.slice(nop[0].length).trim();
  const run = /^\/bin\/sh -c /.exec(s);
  if (run) return 'RUN ' + s.slice(run[0].length).trim();
  return s;
}

/** Cuts to `max` characters with an ellipsis; keeps one line. */
export function truncate(s: string, max: number): string {
  const one = s.replace(/\s*\n\s*/g, ' ');
  return one.length <= max ? one : one.slice(0, Math.max(0, max - 1)) + '…';
}

/**
 * Replaces control characters so names from disk cannot break a terminal line
 * or table, and shows the bytes of a name that is not valid UTF-8 (byteNames.ts)
 * as `\xNN`. A C1 control (a valid character) is `\u0085`, so `\xNN` above 7f
 * always means a raw byte.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\uEF80-\uEFFF]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0xef80) return escapeByte(c);
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A plain text table: columns padded to their widest cell, last column free. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `1 file`, `2 files`: a count with its noun, plural when it is not 1. */
export function countOf(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? noun : nouns}`;
}
