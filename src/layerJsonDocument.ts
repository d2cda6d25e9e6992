/**
 * One step's JSON as the Layer JSON editor shows it: the document read from
 * disk (through the store), re-indented when it is one line, and its changes
 * from the step below computed on exactly the text that is shown, so every
 * offset the webview gets points at what it draws. Loaded once per document
 * and shared by every editor open on it; read again after invalidate() (the
 * roots changed on disk, or the user asked to try again).
 */
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { LayerError, errorMessage } from './core/errors';
import { humanSize } from './core/format';
import { diffJson, type JsonChange } from './core/jsonDiff';
import type { LayerDocument } from './core/model';
import { displayText, jsonSyntaxError, type JsonSyntaxError } from './layerJsonText';
import type { LayerStepResolver, StepTarget } from './layerStepResolver';
import type { LayerView, ParentInfo, ViewChange, ViewError } from './webview/protocol';

export interface LoadedView {
  readonly target?: StepTarget;
  readonly view?: LayerView;
  readonly error?: ViewError;
  /** The document's text as read, when it was read (for "Open as Text" of a corrupt one). */
  readonly raw?: string;
}

/** `before` values longer than this are cut (they are shown inline and in tooltips). */
const MAX_BEFORE = 100_000;

export class LayerJsonDocument implements vscode.CustomDocument {
  private loading: Promise<LoadedView> | undefined;
  private readonly controller = new AbortController();

  constructor(
    readonly uri: vscode.Uri,
    private readonly resolver: LayerStepResolver,
  ) {}

  /** The view (or why there is none); read on first use, then kept. Never rejects. */
  load(): Promise<LoadedView> {
    this.loading ??= this.read();
    return this.loading;
  }

  /** Forgets what was read; the next load() reads again. */
  invalidate(): void {
    this.loading = undefined;
  }

  dispose(): void {
    this.controller.abort();
  }

  private async read(): Promise<LoadedView> {
    const { signal } = this.controller;
    let target: StepTarget | undefined;
    try {
      target = await this.resolver.resolve(this.uri, signal);
      return { target, ...(await buildView(target, signal)) };
    } catch (err) {
      if (err instanceof CorruptDocument) return { target, raw: err.doc.text, error: corruptError(err) };
      return { target, error: viewError(err) };
    }
  }
}

class CorruptDocument extends Error {
  constructor(
    readonly doc: LayerDocument,
    readonly syntax: JsonSyntaxError,
  ) {
    super(`not valid JSON at line ${syntax.line}, column ${syntax.column}: ${syntax.reason}`);
  }
}

async function buildView(target: StepTarget, signal: AbortSignal): Promise<{ view: LayerView; raw: string }> {
  const { store, image, stepIndex } = target;
  const ref = { image, stepIndex };
  const t0 = performance.now();
  const doc = await store.document(ref, signal);
  let parentDoc: LayerDocument | undefined;
  let parentProblem: string | undefined;
  if (stepIndex > 0) {
    try {
      parentDoc = await store.parentDocument(ref, signal);
    } catch (err) {
      if (err instanceof LayerError && err.code === 'cancelled') throw err;
      parentProblem = `the parent step's document could not be read: ${errorMessage(err)}`;
    }
  }
  const t1 = performance.now();
  const syntax = jsonSyntaxError(doc.text);
  if (syntax) throw new CorruptDocument(doc, syntax);
  const child = displayText(doc.text);
  let parentText: string | undefined;
  if (parentDoc) {
    const parentSyntax = jsonSyntaxError(parentDoc.text);
    if (parentSyntax) {
      parentProblem = `the parent step's document${parentDoc.path ? ` (${parentDoc.path})` : ''} is not valid JSON at line ${parentSyntax.line}, column ${parentSyntax.column}: ${parentSyntax.reason}`;
    } else {
      parentText = displayText(parentDoc.text).text;
    }
  }
  const t2 = performance.now();
  const changes = parentText === undefined ? [] : diffJson(parentText, child.text, { signal });
  const t3 = performance.now();

  const step = image.steps[stepIndex];
  const layer = store.layer(step.layerKey);
  const below = stepIndex > 0 ? image.steps[stepIndex - 1] : undefined;
  const parent: ParentInfo | undefined = below && {
    stepIndex: stepIndex - 1,
    createdBy: below.createdBy,
    kind: parentDoc?.kind,
    problem: parentProblem,
  };
  const view: LayerView = {
    imageName: image.tags[0] ?? image.id.replace(/^sha256:/, '').slice(0, 12),
    imageId: image.id,
    stepIndex,
    stepCount: image.steps.length,
    createdBy: step.createdBy,
    created: step.created,
    empty: step.empty,
    size: humanSize(step.size),
    layerId: layer?.id,
    kind: doc.kind,
    path: doc.path,
    reformatted: child.reformatted,
    parent,
    text: child.text,
    changes: changes.map((c) => toViewChange(c, parentText ?? '')),
    timings: { readMs: round(t1 - t0), formatMs: round(t2 - t1), diffMs: round(t3 - t2) },
  };
  return { view, raw: doc.text };
}

function toViewChange(c: JsonChange, parentText: string): ViewChange {
  const base = { kind: c.change, display: c.display, pointer: c.pointer };
  const before = c.change === 'added' ? undefined : compact(c.before);
  if (c.change === 'removed') {
    const r = c.parentRange;
    return { ...base, anchorOffset: c.anchorOffset ?? 0, before, removedLines: r ? linesOf(parentText, r.offset, r.offset + r.length) : undefined };
  }
  const r = c.childRange;
  return { ...base, before, offset: r?.offset, length: r?.length, valueOffset: r?.valueOffset, valueLength: r?.valueLength };
}

/** The whole lines of `text` that [from, to) touches, indentation kept. */
function linesOf(text: string, from: number, to: number): string[] {
  const start = text.lastIndexOf('\n', from - 1) + 1;
  let end = text.indexOf('\n', Math.max(from, to - 1));
  if (end < 0) end = text.length;
  return text.slice(start, end).replace(/\r$/gm, '').split('\n');
}

function compact(value: unknown): string {
  const s = JSON.stringify(value) ?? 'null';
  return s.length > MAX_BEFORE ? s.slice(0, MAX_BEFORE) + '…' : s;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function corruptError(err: CorruptDocument): ViewError {
  const { doc, syntax } = err;
  const where = doc.path ?? `step ${doc.stepIndex} of image ${doc.imageId}`;
  return {
    title: "This layer's JSON is corrupt",
    message: `${where} is not valid JSON: ${syntax.reason} at line ${syntax.line}, column ${syntax.column} (offset ${syntax.offset}). Nothing can be compared until it parses.`,
    code: 'corrupt',
    path: doc.path,
    excerpt: { before: syntax.before, at: syntax.at, after: syntax.after, line: syntax.line, column: syntax.column },
  };
}

/** Any failure as the error state: what it was, in words, with the path when known. */
function viewError(err: unknown): ViewError {
  if (err instanceof LayerError) {
    const titles: Partial<Record<LayerError['code'], string>> = {
      'not-found': "The layer's JSON was not found",
      'permission-denied': "The layer's JSON cannot be read: permission denied",
      corrupt: "This layer's JSON is corrupt",
      unsupported: 'Not a layer JSON',
      cancelled: 'Reading was cancelled',
    };
    return { title: titles[err.code] ?? "The layer's JSON could not be read", message: err.message, code: err.code, path: err.path };
  }
  return { title: "The layer's JSON could not be read", message: errorMessage(err) };
}
