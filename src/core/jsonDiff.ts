/**
 * Parent → child changes between two layer JSON documents (a legacy
 * `graph/<id>/json` or an image config), as JSON paths with exact text offsets
 * so a view can highlight the keys a layer changed.
 *
 * - Objects compare by key, scalars by value; a type change is one 'changed'.
 *   A key that holds `null` on one side and is absent on the other is added /
 *   removed: it is a real difference in the document.
 * - Arrays compare by element, not by index: an LCS over each element's
 *   canonical JSON, so one element inserted at the front is one 'added'. A
 *   `KEY=VALUE` string (Env) is matched by its KEY, so a new value for an
 *   existing variable is one 'changed'. Objects left unmatched in the same gap,
 *   as many on each side, are paired in order and compared key by key.
 * - Paths index arrays of the CHILD, except the last index of a removed
 *   element, which is its index in the PARENT. Applying the changes in that
 *   reading to the parent gives the child (the tests check exactly that).
 * - Offsets are JS string indices into the texts exactly as given.
 * - A base layer (no parent) yields [], never "everything added": the view says
 *   "no parent". The child is still parsed, so a corrupt one still throws.
 */
import { type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import { LayerError, throwIfAborted } from './errors';
import { align, pairByKey, pairInOrder, tick, type Ticker } from './jsonDiffAlign';
import { JsonText, type Members, type Span } from './jsonScan';

export type JsonPath = (string | number)[];
export type ChangeKind = 'added' | 'removed' | 'changed';

/** A span of one document: the whole property (key through value, or the bare element) and its value. */
export interface JsonRange { offset: number; length: number; valueOffset: number; valueLength: number }

export interface JsonChange {
  /** e.g. ['config', 'Env', 2]: array indices of the child, the last one of a removed element of the parent. */
  path: JsonPath;
  /** The same path as an RFC 6901 JSON pointer: '/config/Env/2' ('' for the whole document). */
  pointer: string;
  /** Human path: 'config.Env[2]', 'config.Labels["org.x/y"]' ('(root)' for the whole document). */
  display: string;
  change: ChangeKind;
  /** The parent's value (changed, removed). */
  before?: unknown;
  /** The child's value (added, changed). */
  after?: unknown;
  /** Where the property or element stands in the CHILD text. Absent for removed. */
  childRange?: JsonRange;
  /** Where it stood in the PARENT text (changed, removed). */
  parentRange?: JsonRange;
  /** Removed only: the child offset where it would stand (just after the preceding surviving sibling, or just inside the enclosing `{` / `[`). */
  anchorOffset?: number;
}

export interface DiffOptions { signal?: AbortSignal }

const PARSE_OPTIONS = { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false };
const ENV_KEY = /^([^=\s]+)=/;
/** A plain `KEY=` at a string's start in the text: printable ASCII but `"`, `=` and backslash, so it reads as itself and holds no whitespace. */
const PLAIN_KEY = /[!#-<>-[\]-~]+=/y;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

interface Ctx extends Ticker {
  readonly p: JsonText;
  readonly c: JsonText;
  readonly out: JsonChange[];
}

/**
 * The changes from `parentText` to `childText`, sorted by where they stand in
 * the child (removed ones by `anchorOffset`, before anything else at that offset).
 * Throws LayerError 'corrupt' when either text is not strict JSON (naming the
 * side and the offset of the first error), 'cancelled' when the signal fires.
 * No parent (a base layer): [] once the child parses; the view says "no parent".
 *
 * Both texts are checked with JSON.parse (native, fast); offsets are then found
 * only along the paths whose text differs (see jsonScan), and values are read
 * only where they are compared or reported.
 */
export function diffJson(parentText: string | undefined, childText: string, options: DiffOptions = {}): JsonChange[] {
  const { signal } = options;
  throwIfAborted(signal);
  const cRead = check(childText, 'child');
  if (parentText === undefined) return [];
  const pRead = check(parentText, 'parent');
  if (parentText === childText) return [];
  const ctx: Ctx = { p: new JsonText(parentText, pRead), c: new JsonText(childText, cRead), signal, out: [], steps: 0 };
  const [pRoot, cRoot] = [ctx.p.root(), ctx.c.root()];
  if (!sameText(pRoot, cRoot, ctx)) compare(pRoot, cRoot, [], ctx);
  return sortChanges(ctx.out);
}

/** JSON with every object's keys sorted (UTF-16 order), recursively: for views that show meaning, not formatting. */
export function stableStringify(value: unknown, indent = 0): string {
  const step = indent > 0 ? ' '.repeat(Math.min(Math.floor(indent), 10)) : '';
  return write(value, step, '\n') ?? 'null';
}

/**
 * Checks that the text is strict JSON and returns how to read a value's slice
 * of it. JSON.parse accepts exactly strict JSON (its result is dropped: values
 * are read from their own slices where needed); when it throws, jsonc-parser
 * (strict options) names the first error's offset for the message, and should
 * it accept the text after all, it reads the slices too.
 */
function check(text: string, side: 'parent' | 'child'): ((slice: string) => unknown) | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    // fall through to jsonc-parser for the error's offset
  }
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, PARSE_OPTIONS);
  const first = errors[0];
  if (first !== undefined || root === undefined) {
    const where = first ? `at offset ${first.offset} (${printParseErrorCode(first.error)})` : 'at offset 0 (empty)';
    throw new LayerError('corrupt', `the ${side} layer JSON is corrupt ${where}`, undefined, errors);
  }
  return (slice) => toValue(parseTree(slice, undefined, PARSE_OPTIONS)!);
}

/** Compares two values whose texts differ (callers check `sameText` first: it is the common case). */
function compare(p: Span, c: Span, path: JsonPath, ctx: Ctx): void {
  tick(ctx);
  const [pk, ck] = [ctx.p.kind(p.off), ctx.c.kind(c.off)];
  if (pk === 'object' && ck === 'object') return compareObjects(p, c, path, ctx);
  if (pk === 'array' && ck === 'array') return compareArrays(p, c, path, ctx);
  if (pk !== 'object' && pk !== 'array' && ck !== 'object' && ck !== 'array' && valueOf(ctx.p, p) === valueOf(ctx.c, c)) return;
  emit(ctx, path, 'changed', p, c);
}

/** Objects by key; a repeated key keeps its last value, as in JSON.parse. */
function compareObjects(p: Span, c: Span, path: JsonPath, ctx: Ctx): void {
  const pm = ctx.p.members(p);
  const cm = ctx.c.members(c);
  const { cToP, pToC, cOrder, pOrder } = pairInOrder(pm.keys, cm.keys) ?? pairByKey(pm.keys, cm.keys);
  for (let x = 0, n = cOrder?.length ?? cm.keys.length; x < n; x++) {
    tick(ctx);
    const j = cOrder ? cOrder[x] : x;
    const q = cToP[j];
    const key = cm.keys[j];
    if (q < 0) emit(ctx, [...path, key], 'added', undefined, spanOf(cm, j));
    else if (!ctx.p.same(pm.off[q], pm.end[q], ctx.c, cm.off[j], cm.end[j])) compare(spanOf(pm, q), spanOf(cm, j), [...path, key], ctx);
  }
  let anchor = c.off + 1;
  for (let x = 0, n = pOrder?.length ?? pm.keys.length; x < n; x++) {
    const q = pOrder ? pOrder[x] : x;
    const j = pToC[q];
    if (j >= 0) anchor = cm.end[j];
    else emit(ctx, [...path, pm.keys[q]], 'removed', spanOf(pm, q), undefined, anchor);
  }
}

function spanOf(m: Members, k: number): Span {
  return { start: m.start[k], off: m.off[k], end: m.end[k] };
}

function compareArrays(p: Span, c: Span, path: JsonPath, ctx: Ctx): void {
  const pm = ctx.p.members(p);
  const cm = ctx.c.members(c);
  const [pn, cn] = [pm.off.length, cm.off.length];
  const same = (i: number, j: number): boolean => ctx.p.same(pm.off[i], pm.end[i], ctx.c, cm.off[j], cm.end[j]);
  const pToC = new Int32Array(pn).fill(-1);
  const cToP = new Int32Array(cn).fill(-1);
  // Common prefix and suffix by raw text: cheap, and the whole list for the usual append.
  let lo = 0;
  for (; lo < pn && lo < cn && same(lo, lo); lo++, tick(ctx)) pToC[lo] = cToP[lo] = lo;
  let [pHi, cHi] = [pn, cn];
  for (; pHi > lo && cHi > lo && same(pHi - 1, cHi - 1); tick(ctx)) {
    pToC[--pHi] = --cHi;
    cToP[cHi] = pHi;
  }
  const ids: Ids = { env: new Map(), str: new Map(), other: new Map(), next: 0 };
  const a = elementIds(ctx.p, pm, lo, pHi, ids, ctx);
  const b = elementIds(ctx.c, cm, lo, cHi, ids, ctx);
  if (a.length > 0 && b.length > 0) {
    align(a, b, ctx, (i, j) => {
      pToC[lo + i] = lo + j;
      cToP[lo + j] = lo + i;
    });
  }
  let [i, j, anchor] = [0, 0, c.off + 1];
  while (i < pn || j < cn) {
    tick(ctx);
    if (i < pn && j < cn && pToC[i] === j) {
      // Equal by canonical JSON, or the same Env KEY: only strings can still differ.
      if (i >= lo && i < pHi && ctx.p.kind(pm.off[i]) === 'string' && !same(i, j)) compare(spanOf(pm, i), spanOf(cm, j), [...path, j], ctx);
      anchor = cm.end[j++];
      i++;
      continue;
    }
    const gp: number[] = [];
    const gc: number[] = [];
    while (i < pn && pToC[i] === -1) gp.push(i++);
    while (j < cn && cToP[j] === -1) gc.push(j++);
    const paired = gp.length === gc.length;
    for (let k = 0; k < Math.max(gp.length, gc.length); k++) {
      const pk = k < gp.length ? gp[k] : -1;
      const ck = k < gc.length ? gc[k] : -1;
      const kind = paired ? ctx.c.kind(cm.off[ck]) : 'scalar';
      if ((kind === 'object' || kind === 'array') && ctx.p.kind(pm.off[pk]) === kind) {
        compare(spanOf(pm, pk), spanOf(cm, ck), [...path, ck], ctx);
        anchor = cm.end[ck];
        continue;
      }
      if (pk >= 0) emit(ctx, [...path, pk], 'removed', spanOf(pm, pk), undefined, anchor);
      if (ck >= 0) emit(ctx, [...path, ck], 'added', undefined, spanOf(cm, ck));
    }
  }
}

/** Interned element identities, one namespace per kind: Env KEYs, other strings, canonical JSON of the rest. */
interface Ids { env: Map<string, number>; str: Map<string, number>; other: Map<string, number>; next: number }

function intern(map: Map<string, number>, key: string, ids: Ids): number {
  let id = map.get(key);
  if (id === undefined) map.set(key, (id = ids.next++));
  return id;
}

/** Identity of each element in [lo, hi): the KEY of a `KEY=VALUE` string, else the string, else canonical JSON. */
function elementIds(side: JsonText, m: Members, lo: number, hi: number, ids: Ids, ctx: Ctx): number[] {
  const out: number[] = [];
  for (let k = lo; k < hi; k++) {
    tick(ctx);
    const [off, end] = [m.off[k], m.end[k]];
    const kind = side.kind(off);
    if (kind === 'string') {
      const env = envKey(side, off, end);
      out.push(env === undefined ? intern(ids.str, side.value(off, end) as string, ids) : intern(ids.env, env, ids));
    } else {
      const v = side.value(off, end);
      out.push(intern(ids.other, kind === 'scalar' ? `v${String(v)}` : `j${stableStringify(v)}`, ids));
    }
  }
  return out;
}

/**
 * ENV_KEY's match in the string at [off, end): read straight from the text when
 * printable ASCII without quotes or escapes runs up to the first `=`; the
 * regex on the value decides otherwise.
 */
function envKey(side: JsonText, off: number, end: number): string | undefined {
  const t = side.text;
  PLAIN_KEY.lastIndex = off + 1;
  if (PLAIN_KEY.test(t)) return t.slice(off + 1, PLAIN_KEY.lastIndex - 1); // the class stops at the closing quote
  return ENV_KEY.exec(side.value(off, end) as string)?.[1];
}

function valueOf(side: JsonText, n: Span): unknown {
  return side.value(n.off, n.end);
}

function sameText(p: Span, c: Span, ctx: Ctx): boolean {
  return ctx.p.same(p.off, p.end, ctx.c, c.off, c.end);
}

function rangeOf(n: Span): JsonRange {
  return { offset: n.start, length: n.end - n.start, valueOffset: n.off, valueLength: n.end - n.off };
}

function emit(ctx: Ctx, path: JsonPath, change: ChangeKind, p: Span | undefined, c: Span | undefined, anchorOffset?: number): void {
  const out: JsonChange = { path, pointer: toPointer(path), display: toDisplay(path), change };
  if (p) {
    out.before = valueOf(ctx.p, p);
    out.parentRange = rangeOf(p);
  }
  if (c) {
    out.after = valueOf(ctx.c, c);
    out.childRange = rangeOf(c);
  }
  if (anchorOffset !== undefined) out.anchorOffset = anchorOffset;
  ctx.out.push(out);
}

/** A jsonc-parser node's value with plain objects (getNodeValue makes null-prototype ones). */
function toValue(n: Node): unknown {
  if (n.type === 'array') return (n.children ?? []).map(toValue);
  if (n.type !== 'object') return n.value;
  const obj: Record<string, unknown> = {};
  for (const prop of n.children ?? []) {
    const kv = prop.children;
    if (kv === undefined || kv.length !== 2) continue;
    Object.defineProperty(obj, kv[0].value as string, { value: toValue(kv[1]), enumerable: true, writable: true, configurable: true });
  }
  return obj;
}

function sortChanges(changes: JsonChange[]): JsonChange[] {
  const at = (c: JsonChange): number => (c.change === 'removed' ? (c.anchorOffset ?? 0) : (c.childRange?.offset ?? 0));
  return changes
    .map((c, seq) => ({ c, seq, pos: at(c), rank: c.change === 'removed' ? 0 : 1 }))
    .sort((x, y) => x.pos - y.pos || x.rank - y.rank || x.seq - y.seq)
    .map((x) => x.c);
}

function toPointer(path: JsonPath): string {
  return path.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

function toDisplay(path: JsonPath): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (IDENT.test(seg)) s += s === '' ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s === '' ? '(root)' : s;
}

/** JSON.stringify semantics (toJSON; undefined dropped, or null in arrays; bigint as digits), keys sorted. */
function write(value: unknown, step: string, nl: string): string | undefined {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON: () => unknown }).toJSON();
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return 'null';
  if (typeof v !== 'object') return undefined;
  const inner = step ? nl + step : '';
  const parts: string[] = [];
  if (Array.isArray(v)) {
    for (const x of v) parts.push(write(x, step, inner) ?? 'null');
  } else {
    const obj = v as Record<string, unknown>;
    for (const key of Object.keys(obj).sort()) {
      const s = write(obj[key], step, inner);
      if (s !== undefined) parts.push(`${JSON.stringify(key)}:${step ? ' ' : ''}${s}`);
    }
  }
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  if (parts.length === 0) return open + close;
  return step ? `${open}${inner}${parts.join(`,${inner}`)}${nl}${close}` : `${open}${parts.join(',')}${close}`;
}
