/**
 * The shown text cut into lines, with each change placed on the lines it
 * covers, and the list of rows the view scrolls through (text lines, the
 * parent's removed lines struck through at their place, and `… N unchanged
 * lines` folds in "only changes" mode). Pure: no DOM, so it is cheap to build
 * for 40,000-line documents and easy to reason about.
 */
import type { ViewChange } from './protocol';

export type Mark = 'added' | 'changed';

/** Part of a line that belongs to a change: [from, to) in the line's columns. */
export interface Segment {
  readonly from: number;
  readonly to: number;
  readonly kind: Mark;
  readonly change: number;
}

export interface LineModel {
  readonly text: string;
  /** Offset where each line starts. */
  readonly starts: Int32Array;
  readonly lineCount: number;
  /** 0 none, 1 the whole line is added, 2 part of it changed or added. */
  readonly lineMark: Uint8Array;
  readonly segments: Map<number, Segment[]>;
  /** Changed values ending on a line: shown as `← was …` after it. */
  readonly was: Map<number, number[]>;
  /** Removed changes whose parent lines are drawn after a line. */
  readonly removedAfter: Map<number, number[]>;
  /** The first change drawn on each line. */
  readonly lineChange: Map<number, number>;
  /** The (first) line of each change; for removed ones, the line they are drawn after. */
  readonly changeLine: Int32Array;
  readonly maxLineLength: number;
}

export const LINE_NONE = 0;
export const LINE_ADDED = 1;
export const LINE_PARTIAL = 2;

export function buildLineModel(text: string, changes: readonly ViewChange[]): LineModel {
  const startList: number[] = [0];
  let maxLineLength = 0;
  for (let k = text.indexOf('\n'); k >= 0; k = text.indexOf('\n', k + 1)) {
    maxLineLength = Math.max(maxLineLength, k - startList[startList.length - 1]);
    startList.push(k + 1);
  }
  maxLineLength = Math.max(maxLineLength, text.length - startList[startList.length - 1]);
  const starts = Int32Array.from(startList);
  const lineCount = starts.length;
  const lineMark = new Uint8Array(lineCount);
  const segments = new Map<number, Segment[]>();
  const was = new Map<number, number[]>();
  const removedAfter = new Map<number, number[]>();
  const lineChange = new Map<number, number>();
  const changeLine = new Int32Array(changes.length);
  const model: LineModel = { text, starts, lineCount, lineMark, segments, was, removedAfter, lineChange, changeLine, maxLineLength };
  const push = <T>(map: Map<number, T[]>, key: number, value: T) => {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };

  changes.forEach((c, index) => {
    if (c.kind === 'removed') {
      const line = lineOf(model, clamp(c.anchorOffset ?? 0, text.length));
      changeLine[index] = line;
      push(removedAfter, line, index);
      if (!lineChange.has(line)) lineChange.set(line, index);
      return;
    }
    const added = c.kind === 'added';
    const from = clamp(added ? (c.offset ?? 0) : (c.valueOffset ?? c.offset ?? 0), text.length);
    const to = clamp(from + Math.max(1, added ? (c.length ?? 0) : (c.valueLength ?? c.length ?? 0)), text.length);
    const first = lineOf(model, from);
    const last = lineOf(model, Math.max(from, to - 1));
    changeLine[index] = first;
    for (let line = first; line <= last; line++) {
      const start = starts[line];
      const end = lineEnd(model, line);
      const a = Math.max(from, start);
      const b = Math.min(to, end);
      if (b > a || from === to) push(segments, line, { from: a - start, to: b - start, kind: c.kind as Mark, change: index });
      if (!lineChange.has(line)) lineChange.set(line, index);
      const whole = added && a <= start + indentOf(text, start, end) && onlyPunctuationAfter(text, b, end);
      if (whole && lineMark[line] === LINE_NONE) lineMark[line] = LINE_ADDED;
      else lineMark[line] = LINE_PARTIAL;
    }
    if (!added) push(was, last, index);
  });
  return model;
}

/** The line holding `offset` (binary search over line starts). */
export function lineOf(m: LineModel, offset: number): number {
  let lo = 0;
  let hi = m.lineCount - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (m.starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Offset just past the last character of a line (before its `\n`, and a `\r` before that). */
export function lineEnd(m: LineModel, line: number): number {
  let end = line + 1 < m.lineCount ? m.starts[line + 1] - 1 : m.text.length;
  if (end > m.starts[line] && m.text.charCodeAt(end - 1) === 0x0d) end--;
  return end;
}

export function lineText(m: LineModel, line: number): string {
  return m.text.slice(m.starts[line], lineEnd(m, line));
}

export const ROW_LINE = 0;
export const ROW_REMOVED = 1;
export const ROW_FOLD = 2;

/**
 * The rows the view scrolls through. `kind[r]`: ROW_LINE (`a` = line),
 * ROW_REMOVED (`a` = change, `b` = its line), ROW_FOLD (`a`..`b` = the hidden
 * lines, end exclusive). `rowOfLine` is -1 for folded lines.
 */
export interface Rows {
  readonly length: number;
  readonly kind: Uint8Array;
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly rowOfLine: Int32Array;
  /** The first row of each change. */
  readonly rowOfChange: Int32Array;
}

/**
 * All lines with the removed ones after their anchor line; with `onlyChanges`,
 * runs of unchanged lines farther than `context` lines from any change become
 * one fold row, unless their first line is in `expanded`.
 */
export function buildRows(m: LineModel, changes: readonly ViewChange[], onlyChanges: boolean, expanded: ReadonlySet<number>, context = 3): Rows {
  const keep = new Uint8Array(m.lineCount);
  if (onlyChanges) {
    const mark = (line: number) => {
      for (let l = Math.max(0, line - context); l <= Math.min(m.lineCount - 1, line + context); l++) keep[l] = 1;
    };
    for (let line = 0; line < m.lineCount; line++) if (m.lineMark[line] !== LINE_NONE) mark(line);
    for (const line of m.removedAfter.keys()) mark(line);
  } else {
    keep.fill(1);
  }
  let removedRows = 0;
  for (const list of m.removedAfter.values()) for (const c of list) removedRows += changes[c].removedLines?.length || 1;
  const cap = m.lineCount + removedRows;
  const kind = new Uint8Array(cap);
  const a = new Int32Array(cap);
  const b = new Int32Array(cap);
  const rowOfLine = new Int32Array(m.lineCount).fill(-1);
  const rowOfChange = new Int32Array(changes.length).fill(-1);
  let r = 0;
  for (let line = 0; line < m.lineCount; ) {
    if (!keep[line]) {
      let end = line;
      while (end < m.lineCount && !keep[end]) end++;
      // A fold hides at least 3 lines; shorter runs (and expanded folds) are shown.
      if (end - line >= 3 && !expanded.has(line)) {
        kind[r] = ROW_FOLD;
        a[r] = line;
        b[r++] = end;
        line = end;
        continue;
      }
      for (; line < end; line++) r = pushLine(line, r);
      continue;
    }
    r = pushLine(line++, r);
  }
  return { length: r, kind, a, b, rowOfLine, rowOfChange };

  function pushLine(line: number, row: number): number {
    kind[row] = ROW_LINE;
    a[row] = line;
    rowOfLine[line] = row;
    const here = m.segments.get(line);
    if (here) for (const s of here) if (rowOfChange[s.change] < 0) rowOfChange[s.change] = row;
    row++;
    for (const c of m.removedAfter.get(line) ?? []) {
      rowOfChange[c] = row;
      const count = changes[c].removedLines?.length || 1;
      for (let k = 0; k < count; k++) {
        kind[row] = ROW_REMOVED;
        a[row] = c;
        b[row++] = k;
      }
    }
    return row;
  }
}

function clamp(n: number, max: number): number {
  return Math.max(0, Math.min(n, max));
}

function indentOf(text: string, start: number, end: number): number {
  let k = start;
  while (k < end && (text.charCodeAt(k) === 0x20 || text.charCodeAt(k) === 0x09)) k++;
  return k - start;
}

/** True when [from, end) holds nothing but a comma and blanks. */
function onlyPunctuationAfter(text: string, from: number, end: number): boolean {
  for (let k = from; k < end; k++) {
    const ch = text.charCodeAt(k);
    if (ch !== 0x2c && ch !== 0x20 && ch !== 0x09) return false;
  }
  return true;
}
