/**
 * The bench's result rows (`npm run bench`, scripts/bench.ts): the Row every
 * figure reports, the few helpers that fill it, and the table it prints as.
 * One module for bench.ts and the figure modules beside it (benchFindPath.ts,
 * benchPathHistory.ts, benchEfficiency.ts), so that every row is measured,
 * rounded and worded the same way.
 */

/** One line of the bench's table; `pass` is undefined for a figure given for reference only. */
export interface Row {
  metric: string;
  measured: string;
  target: string;
  pass: boolean | undefined;
  detail: string;
}

/** The median of a non-empty list: its middle value, or the mean of the two middle ones. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A time for the table: 2 decimals under 10 ms, 1 above; `n/a` for a figure never reached (NaN). */
export const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 1)} ms` : 'n/a');

/** Every run of a median, for the detail column: `12.3 / 11.9 / 12.8`. */
export const runsText = (xs: readonly number[]): string => xs.map((x) => x.toFixed(1)).join(' / ');

/** A figure for the `BENCH {…}` JSON line, to 2 decimals; one argument, so `runs.map(round)` works. */
export const round = (x: number): number => Math.round(x * 100) / 100;

/** A row whose figure is a ratio against a ceiling: `1.23×` against `≤ 1.5×`. */
export function ratioRow(metric: string, ratio: number, target: number, detail: string): Row {
  return { metric, measured: `${ratio.toFixed(2)}×`, target: `≤ ${target}×`, pass: ratio <= target, detail };
}

/** Prints the rows as an aligned table; the detail column, last, is left as long as it is. */
export function printTable(rows: readonly Row[]): void {
  const cells = rows.map((r) => [r.metric, r.measured, r.target, r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS', r.detail]);
  const head = ['metric', 'measured', 'target', 'result', 'detail'];
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((x, c) => (c === 4 ? x : x.padEnd(widths[c]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w, c) => '-'.repeat(c === 4 ? Math.min(w, 40) : w)).join('  '));
  for (const row of cells) console.log(line(row));
}
