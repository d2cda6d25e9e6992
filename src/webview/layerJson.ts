/// <reference lib="dom" />
/**
 * The Layer JSON editor's webview (browser code, bundled to dist/webview.js).
 * Handshake: post `ready` with the document URI (from the page's data-uri);
 * the host answers `load` or `error`. State that must survive the webview
 * being hidden and shown again (scroll, focused change, only-changes, open
 * folds) goes through getState / setState.
 */
import { CodeView } from './codeView';
import { changeLabel, copyValue } from './describe';
import { Toolbar, renderHeader } from './header';
import { ROW_FOLD, ROW_REMOVED, buildLineModel, buildRows, lineOf, type LineModel, type Rows } from './lineModel';
import { isHostMessage, type HostMessage, type LayerView, type RenderReport, type ViewAction, type ViewError, type WebviewMessage } from './protocol';
import { renderError, renderLoading } from './states';

interface VsCodeApi<S> {
  postMessage(message: WebviewMessage): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

interface SavedState {
  uri: string;
  onlyChanges: boolean;
  expanded: number[];
  current: number;
  scrollTop: number;
  scrollLeft: number;
}

const scriptStart = performance.now();
const vscode = acquireVsCodeApi<SavedState>();
const app = document.getElementById('app') as HTMLElement;
const uri = document.body.dataset.uri ?? '';
const saved = vscode.getState();
const state: SavedState =
  saved && saved.uri === uri ? saved : { uri, onlyChanges: false, expanded: [], current: -1, scrollTop: 0, scrollLeft: 0 };
let restoreScroll = saved?.uri === uri;

let view: LayerView | undefined;
let model: LineModel | undefined;
let rows: Rows | undefined;
let toolbar: Toolbar | undefined;
let shownError: ViewError | undefined;
let nextRequest = 1;
/** Synchronous work of the last full draw: line model, header, rows, the visible rows in the DOM. */
let drawMs = 0;
const pending = new Map<number, (ok: boolean, error?: string) => void>();

const code = new CodeView({
  onFold: (line) => {
    state.expanded.push(line);
    rebuildRows();
  },
  onSelectChange: (index) => setCurrent(index, false),
  onScroll: () => saveSoon(),
});

function post(message: WebviewMessage): void {
  vscode.postMessage(message);
}

function request(type: 'openParent' | 'openAsText' | 'reload'): Promise<void>;
function request(type: 'copy', text: string): Promise<void>;
function request(type: 'openParent' | 'openAsText' | 'reload' | 'copy', text?: string): Promise<void> {
  const requestId = nextRequest++;
  return new Promise((resolve, reject) => {
    pending.set(requestId, (ok, error) => (ok ? resolve() : reject(new Error(error ?? 'failed'))));
    if (type === 'copy') post({ type, uri, requestId, text: text ?? '' });
    else post({ type, uri, requestId });
  });
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data;
  if (!isHostMessage(m) || m.uri !== uri) return;
  try {
    handle(m);
  } catch (err) {
    const message = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
    post({ type: 'failed', uri, message });
    showError({ title: 'The layer JSON could not be drawn', message: err instanceof Error ? err.message : String(err) });
  }
});

function handle(m: HostMessage): void {
  switch (m.type) {
    case 'load':
      return showDocument(m.view, performance.now());
    case 'error':
      return showError(m.error);
    case 'settled':
      pending.get(m.requestId)?.(m.ok, m.error);
      pending.delete(m.requestId);
      return;
    case 'action':
      return runAction(m.action);
  }
}

function showDocument(v: LayerView, received: number): void {
  view = v;
  shownError = undefined;
  model = buildLineModel(v.text, v.changes);
  if (state.current >= v.changes.length) state.current = -1;
  toolbar = new Toolbar(v.changes, {
    previous: () => move(-1),
    next: () => move(1),
    toggleOnlyChanges,
    copyPath: () => copyFocused('path'),
    copyValue: () => copyFocused('value'),
    openAsText: () => void request('openAsText').catch((err: Error) => toolbar?.say(err.message, true)),
  });
  const header = renderHeader(v, () => void openParent());
  app.replaceChildren(header, toolbar.el, code.scroller);
  app.className = 'editor';
  code.measure();
  rows = buildRows(model, v.changes, state.onlyChanges, new Set(state.expanded));
  code.show(model, v.changes, rows, state.current, restoreScroll ? { top: state.scrollTop, left: state.scrollLeft } : undefined);
  restoreScroll = true;
  toolbar.update(state.current, v.changes.length, state.onlyChanges);
  drawMs = performance.now() - received;
  afterPaint(() => report(received));
}

function showError(error: ViewError): void {
  view = undefined;
  model = undefined;
  shownError = error;
  drawMs = 0;
  app.className = 'editor error';
  app.replaceChildren(
    renderError(error, {
      retry: () => {
        app.replaceChildren(renderLoading());
        void request('reload').catch(() => undefined);
      },
      openAsText: () => void request('openAsText').catch(() => undefined),
    }),
  );
  afterPaint(() => report(performance.now()));
}

async function openParent(): Promise<void> {
  try {
    await request('openParent');
  } catch (err) {
    toolbar?.say((err as Error).message, true);
  }
}

function move(delta: number): void {
  if (!view || view.changes.length === 0) return;
  const n = view.changes.length;
  const from = state.current < 0 ? (delta > 0 ? -1 : n) : state.current;
  setCurrent((from + delta + n) % n, true);
}

function setCurrent(index: number, reveal: boolean): void {
  if (!view || !rows || !toolbar) return;
  state.current = index;
  code.setCurrent(index);
  if (reveal && rows.rowOfChange[index] >= 0) code.reveal(rows.rowOfChange[index]);
  code.focusChange(index);
  toolbar.update(index, view.changes.length, state.onlyChanges);
  toolbar.announce(`Change ${index + 1} of ${view.changes.length}: ${changeLabel(view.changes[index], view.text)}`);
  saveSoon();
  afterPaint(() => report(performance.now()));
}

function toggleOnlyChanges(): void {
  if (!view || !toolbar) return;
  state.onlyChanges = !state.onlyChanges;
  state.expanded = [];
  rebuildRows();
  toolbar.update(state.current, view.changes.length, state.onlyChanges);
}

/** New rows (mode or folds changed), keeping the line at the top of the view where it was. */
function rebuildRows(): void {
  if (!view || !model || !rows) return;
  const topRow = Math.floor(code.scrollState.top / rowHeight());
  const topLine = lineAtRow(rows, topRow);
  rows = buildRows(model, view.changes, state.onlyChanges, new Set(state.expanded));
  code.setRows(rows);
  code.restoreScroll(rowShowing(rows, topLine) * rowHeight(), code.scrollState.left);
  saveSoon();
  afterPaint(() => report(performance.now()));
}

/** The row that shows `line`: its own, or the fold that hides it. */
function rowShowing(r: Rows, line: number): number {
  if (r.rowOfLine[line] >= 0) return r.rowOfLine[line];
  for (let i = 0; i < r.length; i++) if (r.kind[i] === ROW_FOLD && r.a[i] <= line && line < r.b[i]) return i;
  return 0;
}

function lineAtRow(r: Rows, row: number): number {
  const i = Math.max(0, Math.min(row, r.length - 1));
  if (r.length === 0) return 0;
  return r.kind[i] === ROW_REMOVED ? (model ? lineOf(model, view?.changes[r.a[i]].anchorOffset ?? 0) : 0) : r.a[i];
}

function rowHeight(): number {
  return parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row-h')) || 19;
}

function copyFocused(what: 'path' | 'value'): void {
  if (!view || state.current < 0) return;
  const c = view.changes[state.current];
  const text = what === 'path' ? c.display : copyValue(c, view.text);
  request('copy', text).then(
    () => toolbar?.say(what === 'path' ? `Copied ${c.display}` : `Copied the value of ${c.display}`),
    (err: Error) => toolbar?.say(`Could not copy: ${err.message}`, true),
  );
}

const CONTROLS = {
  openParent: '.parent-link',
  copyPath: 'button[aria-label="Copy JSON path of the change"]',
  copyValue: 'button[aria-label="Copy value of the change"]',
} as const;

function runAction(action: ViewAction): void {
  switch (action) {
    case 'nextChange':
      return move(1);
    case 'previousChange':
      return move(-1);
    case 'toggleOnlyChanges':
      return toggleOnlyChanges();
    case 'openParent':
    case 'copyPath':
    case 'copyValue':
      // As a click on the control would (the tests drive the real controls this way).
      document.querySelector<HTMLButtonElement>(CONTROLS[action])?.click();
      return;
    case 'expandAll':
      if (rows) for (let r = 0; r < rows.length; r++) if (rows.kind[r] === ROW_FOLD) state.expanded.push(rows.a[r]);
      return rebuildRows();
  }
}

document.addEventListener('keydown', (e) => {
  if (!view) return;
  const target = e.target as HTMLElement;
  if (target.closest('input, textarea, [contenteditable]')) return;
  const plain = !e.ctrlKey && !e.metaKey && !e.altKey;
  if (e.key === 'F7' && plain) {
    e.preventDefault();
    move(e.shiftKey ? -1 : 1);
  } else if (plain && !e.shiftKey && (e.key === 'n' || e.key === 'p')) {
    e.preventDefault();
    move(e.key === 'n' ? 1 : -1);
  }
});

let saveTimer = 0;
function saveSoon(): void {
  clearTimeout(saveTimer);
  saveTimer = window.setTimeout(() => {
    const { top, left } = code.scrollState;
    state.scrollTop = top;
    state.scrollLeft = left;
    vscode.setState(state);
  }, 150);
}

/** Runs fn once the frame with the latest DOM changes has been painted (or soon, if frames are not running). */
function afterPaint(fn: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    fn();
  };
  requestAnimationFrame(() => setTimeout(once, 0));
  setTimeout(once, 500);
}

/** A report names each change's marked text up to this many characters. */
const MAX_REPORTED = 10_000;

function report(received: number): void {
  const now = performance.now();
  const base: Omit<RenderReport, 'state' | 'changes' | 'summary' | 'lines' | 'rows' | 'timings'> = {
    domRows: code.domRows,
    onlyChanges: state.onlyChanges,
    current: state.current,
  };
  const zero = { readMs: 0, formatMs: 0, diffMs: 0 };
  const timings = { scriptToLoadMs: round(received - scriptStart), drawMs: round(drawMs), loadToPaintMs: round(now - received) };
  document.body.dataset.rendered = view ? 'document' : 'error';
  if (!view || !model || !rows) {
    post({
      type: 'rendered',
      uri,
      report: { ...base, state: 'error', changes: [], summary: { added: 0, changed: 0, removed: 0 }, lines: 0, rows: 0, error: shownError ? `${shownError.title}: ${shownError.message}` : undefined, timings: { ...zero, ...timings } },
    });
    return;
  }
  const summary = { added: 0, changed: 0, removed: 0 };
  const m = model;
  const marked = view.changes.map((c, index) => {
    summary[c.kind]++;
    let text = '';
    if (c.kind === 'removed') text = (c.removedLines ?? []).join('\n');
    else {
      const parts: string[] = [];
      for (let line = m.changeLine[index]; line < m.lineCount; line++) {
        const seg = m.segments.get(line)?.find((s) => s.change === index);
        if (!seg) break;
        parts.push(m.text.slice(m.starts[line] + seg.from, m.starts[line] + seg.to));
      }
      text = parts.join('\n');
    }
    return { kind: c.kind, display: c.display, line: m.changeLine[index] + 1, text: text.length > MAX_REPORTED ? text.slice(0, MAX_REPORTED) + '…' : text };
  });
  post({ type: 'rendered', uri, report: { ...base, state: 'document', changes: marked, summary, lines: m.lineCount, rows: rows.length, timings: { ...view.timings, ...timings } } });
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

app.replaceChildren(renderLoading());
post({ type: 'ready', uri });
