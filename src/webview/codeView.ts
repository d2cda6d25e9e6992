/// <reference lib="dom" />
/**
 * The scrolling code area: a virtual list that puts in the DOM only the rows
 * in view (plus a margin), so a 40,000-line document costs the same to show
 * as a 40-line one. Rows have one fixed height, from the theme's editor font
 * size. Each drawn row: line number, change mark, then the line's
 * tokens split where changes start and end; a changed value is followed by
 * `← was …`; removed lines are the parent's, struck through.
 */
import { changeLabel, shortJson } from './describe';
import { h, span } from './dom';
import { LINE_ADDED, ROW_FOLD, ROW_REMOVED, lineText, type LineModel, type Rows, type Segment } from './lineModel';
import type { ViewChange } from './protocol';
import { tokenizeLine, type Token } from './tokenize';

/** As VS Code's editor: the rest of a very long line is not drawn. */
const MAX_DRAWN_CHARS = 10_000;
const OVERSCAN = 30;
/** VS Code's editor line height for a font size on Windows and Linux (1.5 on macOS). */
const LINE_HEIGHT_RATIO = navigator.userAgent.includes('Mac') ? 1.5 : 1.35;

export interface CodeViewEvents {
  onFold(fromLine: number): void;
  onSelectChange(index: number): void;
  onScroll(): void;
}

export class CodeView {
  readonly scroller: HTMLDivElement;
  private readonly canvas: HTMLDivElement;
  private readonly list: HTMLDivElement;
  private rowHeight = 19;
  private model: LineModel | undefined;
  private rows: Rows | undefined;
  private changes: readonly ViewChange[] = [];
  private current = -1;
  private drawn = { first: -1, last: -1 };
  private frame = 0;

  constructor(private readonly events: CodeViewEvents) {
    this.list = h('div', { class: 'rows', role: 'list', aria: { label: 'Lines of the layer JSON' } });
    this.canvas = h('div', { class: 'canvas' }, this.list);
    this.scroller = h('div', { class: 'scroller', tabIndex: 0, role: 'region', aria: { label: 'Layer JSON. n / F7: next change, p / Shift+F7: previous change' } }, this.canvas);
    this.scroller.addEventListener('scroll', () => {
      this.schedule();
      this.events.onScroll();
    });
    this.list.addEventListener('click', (e) => this.onClick(e));
    this.list.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** The row height from the theme's editor font size, as VS Code's editor computes its line height. */
  measure(): void {
    const fontSize = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-font-size')) || 14;
    this.rowHeight = Math.max(8, Math.round(fontSize * LINE_HEIGHT_RATIO));
    document.documentElement.style.setProperty('--row-h', `${this.rowHeight}px`);
  }

  /** A new document: its rows, the focused change and (when restoring) the scroll position, drawn once. */
  show(model: LineModel, changes: readonly ViewChange[], rows: Rows, current: number, scroll?: { top: number; left: number }): void {
    this.model = model;
    this.changes = changes;
    this.current = current;
    const width = Math.min(model.maxLineLength, MAX_DRAWN_CHARS) + 40;
    this.canvas.style.minWidth = `calc(var(--gutter-w) + ${width}ch)`;
    this.rows = rows;
    this.canvas.style.height = `${rows.length * this.rowHeight}px`;
    if (scroll) {
      this.scroller.scrollTop = scroll.top;
      this.scroller.scrollLeft = scroll.left;
    }
    this.drawn = { first: -1, last: -1 };
    this.draw();
  }

  /** Other rows for the same document (only changes toggled, a fold opened). */
  setRows(rows: Rows): void {
    this.rows = rows;
    this.canvas.style.height = `${rows.length * this.rowHeight}px`;
    this.drawn = { first: -1, last: -1 };
    this.draw();
  }

  setCurrent(index: number): void {
    this.current = index;
    this.drawn = { first: -1, last: -1 };
    this.draw();
  }

  /** Scrolls so that `row` is in view, a third from the top when it was not. */
  reveal(row: number): void {
    const top = row * this.rowHeight;
    const view = this.scroller.clientHeight;
    if (top < this.scroller.scrollTop || top + this.rowHeight > this.scroller.scrollTop + view) {
      this.scroller.scrollTop = Math.max(0, top - Math.floor(view / 3));
    }
    this.draw();
  }

  /** Moves keyboard focus to the first drawn row of a change, when the code area already has focus. */
  focusChange(index: number): void {
    if (!this.scroller.contains(document.activeElement)) return;
    const el = this.list.querySelector<HTMLElement>(`[data-first="${index}"]`);
    el?.focus({ preventScroll: true });
  }

  get domRows(): number {
    return this.list.childElementCount;
  }

  get scrollState(): { top: number; left: number } {
    return { top: this.scroller.scrollTop, left: this.scroller.scrollLeft };
  }

  restoreScroll(top: number, left: number): void {
    this.scroller.scrollTop = top;
    this.scroller.scrollLeft = left;
    this.draw();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Draws the rows in view; nothing when the same rows are already drawn. */
  draw(): void {
    const { rows, model } = this;
    if (!rows || !model) return;
    const height = this.scroller.clientHeight || 800;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / this.rowHeight) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((this.scroller.scrollTop + height) / this.rowHeight) + OVERSCAN);
    if (first === this.drawn.first && last === this.drawn.last) return;
    const hadFocus = this.list.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.first : undefined;
    this.drawn = { first, last };
    const out: HTMLElement[] = [];
    for (let r = first; r < last; r++) out.push(this.drawRow(model, rows, r));
    this.list.style.transform = `translateY(${first * this.rowHeight}px)`;
    this.list.replaceChildren(...out);
    if (hadFocus !== undefined) this.list.querySelector<HTMLElement>(`[data-first="${hadFocus}"]`)?.focus({ preventScroll: true });
  }

  private drawRow(m: LineModel, rows: Rows, r: number): HTMLElement {
    const kind = rows.kind[r];
    if (kind === ROW_FOLD) {
      const n = rows.b[r] - rows.a[r];
      return h(
        'div',
        { class: 'row fold', role: 'listitem', tabIndex: 0, data: { fold: String(rows.a[r]) }, title: `Show lines ${rows.a[r] + 1}–${rows.b[r]}`, aria: { label: `${n} unchanged lines, press Enter to show them` } },
        span('ln', ''),
        span('mk', ''),
        span('code fold-label', `⋯ ${n.toLocaleString('en-US')} unchanged line${n === 1 ? '' : 's'}`),
      );
    }
    if (kind === ROW_REMOVED) return this.drawRemoved(rows.a[r], rows.b[r]);
    return this.drawLine(m, rows.a[r]);
  }

  private drawLine(m: LineModel, line: number): HTMLElement {
    const full = lineText(m, line);
    const text = full.length > MAX_DRAWN_CHARS ? full.slice(0, MAX_DRAWN_CHARS) : full;
    const segs = m.segments.get(line);
    const owner = m.lineChange.get(line);
    const added = m.lineMark[line] === LINE_ADDED;
    const changedHere = segs?.some((s) => s.kind === 'changed') ?? false;
    const mark = added || segs?.some((s) => s.kind === 'added') ? '+' : changedHere ? '~' : '';
    let cls = 'row';
    if (added) cls += ' added';
    else if (changedHere) cls += ' changed';
    else if (segs) cls += ' partial';
    const isCurrent = owner !== undefined && this.isCurrentOn(owner, segs);
    if (isCurrent) cls += ' current';
    const firstOf = owner !== undefined && m.changeLine[owner] === line && this.changes[owner].kind !== 'removed' ? owner : undefined;
    const row = h('div', { class: cls, role: 'listitem' });
    if (owner !== undefined) row.dataset.change = String(owner);
    if (firstOf !== undefined) {
      row.dataset.first = String(firstOf);
      row.tabIndex = -1;
      row.setAttribute('aria-label', `${changeLabel(this.changes[firstOf], m.text)}, line ${line + 1}`);
    }
    const code = span('code', '');
    drawTokens(code, text, tokenizeLine(text), segs, this.changes);
    if (text.length < full.length) code.append(span('cut', ` … ${(full.length - text.length).toLocaleString('en-US')} more characters`));
    for (const c of m.was.get(line) ?? []) {
      const before = this.changes[c].before;
      code.append(span('was', `← was ${shortJson(before, 60)}`));
      (code.lastChild as HTMLElement).title = `was: ${shortJson(before, 2000)}`;
    }
    row.append(span('ln', String(line + 1)), span(`mk${mark ? ' mk-' + (mark === '+' ? 'add' : 'mod') : ''}`, mark), code);
    return row;
  }

  private drawRemoved(change: number, k: number): HTMLElement {
    const c = this.changes[change];
    const text = c.removedLines?.[k] ?? shortJson(c.before, MAX_DRAWN_CHARS);
    const row = h('div', { class: `row removed${change === this.current ? ' current' : ''}`, role: 'listitem', data: { change: String(change) } });
    if (k === 0) {
      row.dataset.first = String(change);
      row.tabIndex = -1;
      row.setAttribute('aria-label', changeLabel(c, ''));
      row.title = `removed ${c.display} (in the parent step, not in this one)`;
    }
    const code = span('code', '');
    const drawn = text.length > MAX_DRAWN_CHARS ? text.slice(0, MAX_DRAWN_CHARS) : text;
    drawTokens(code, drawn, tokenizeLine(drawn), undefined, this.changes);
    row.append(span('ln', ''), span('mk mk-del', '−'), code);
    return row;
  }

  private isCurrentOn(owner: number, segs: readonly Segment[] | undefined): boolean {
    if (this.current < 0) return false;
    return owner === this.current || (segs?.some((s) => s.change === this.current) ?? false);
  }

  private onClick(e: MouseEvent): void {
    const row = (e.target as HTMLElement).closest<HTMLElement>('.row');
    if (!row) return;
    if (row.dataset.fold !== undefined) this.events.onFold(Number(row.dataset.fold));
    else if (row.dataset.change !== undefined) this.events.onSelectChange(Number(row.dataset.change));
  }

  private onKey(e: KeyboardEvent): void {
    const row = (e.target as HTMLElement).closest<HTMLElement>('.row');
    if (row?.dataset.fold !== undefined && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      this.events.onFold(Number(row.dataset.fold));
    }
  }
}

/**
 * Appends the line's text to `code` as token spans; the part of a change is
 * wrapped in one span of its own (its background, outline and tooltip).
 */
function drawTokens(code: HTMLElement, text: string, tokens: Token[], segs: readonly Segment[] | undefined, changes: readonly ViewChange[]): void {
  const cuts = new Set<number>([0, text.length]);
  for (const t of tokens) cuts.add(t.from).add(t.to);
  for (const s of segs ?? []) cuts.add(Math.min(s.from, text.length)).add(Math.min(s.to, text.length));
  const points = [...cuts].sort((x, y) => x - y);
  let t = 0;
  let wrap: { seg: Segment; el: HTMLElement } | undefined;
  for (let p = 0; p + 1 < points.length; p++) {
    const [from, to] = [points[p], points[p + 1]];
    if (to <= from) continue;
    while (t < tokens.length && tokens[t].to <= from) t++;
    const tok = t < tokens.length && tokens[t].from <= from ? tokens[t] : undefined;
    const seg = segs?.find((s) => s.from <= from && to <= s.to);
    if (seg !== wrap?.seg) {
      wrap = undefined;
      if (seg) {
        const el = span(seg.kind === 'added' ? 'd-add' : 'd-mod', '');
        const c = changes[seg.change];
        el.title = seg.kind === 'added' ? `added ${c.display}` : `${c.display} was: ${shortJson(c.before, 2000)}`;
        code.append(el);
        wrap = { seg, el };
      }
    }
    (wrap?.el ?? code).append(span(tok ? `t-${tok.cls}` : 't-ws', text.slice(from, to)));
  }
}
