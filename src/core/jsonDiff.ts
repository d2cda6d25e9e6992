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
import { getNodeValue, type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import { LayerError, throwIfAborted } from './errors';

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
/** Largest middle (n × m cells) solved by the exact LCS table; larger ones are cut at unique elements first. */
const DP_CELLS = 1 << 20;
/** Cells of exact LCS tables one array may use in all before the rest is matched greedily. */
const WORK_CELLS = 1 << 23;
const ENV_KEY = /^([^=\s]+)=/;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

interface Ctx {
  readonly pText: string;
  readonly cText: string;
  readonly signal: AbortSignal | undefined;
  readonly out: JsonChange[];
  steps: number;
}

/**
 * The changes from `parentText` to `childText`, sorted by where they stand in
 * the child (removed ones by `anchorOffset`, before anything else at that offset).
 * Throws LayerError 'corrupt' when either text is not strict JSON (naming the
 * side and the offset of the first error), 'cancelled' when the signal fires.
 * No parent (a base layer): [] once the child parses; the view says "no parent".
 */
export function diffJson(parentText: string | undefined, childText: string, options: DiffOptions = {}): JsonChange[] {
  const { signal } = options;
  throwIfAborted(signal);
  const cRoot = parse(childText, 'child');
  if (parentText === undefined) return [];
  const pRoot = parse(parentText, 'parent');
  if (parentText === childText) return [];
  const ctx: Ctx = { pText: parentText, cText: childText, signal, out: [], steps: 0 };
  if (!sameText(pRoot, cRoot, ctx)) compare(pRoot, cRoot, [], ctx);
  return sortChanges(ctx.out);
}

/** JSON with every object's keys sorted (UTF-16 order), recursively: for views that show meaning, not formatting. */
export function stableStringify(value: unknown, indent = 0): string {
  const step = indent > 0 ? ' '.repeat(Math.min(Math.floor(indent), 10)) : '';
  return write(value, step, '\n') ?? 'null';
}

function parse(text: string, side: 'parent' | 'child'): Node {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, PARSE_OPTIONS);
  const first = errors[0];
  if (first !== undefined || root === undefined) {
    const where = first ? `at offset ${first.offset} (${printParseErrorCode(first.error)})` : 'at offset 0 (empty)';
    throw new LayerError('corrupt', `the ${side} layer JSON is corrupt ${where}`, undefined, errors);
  }
  return root;
}

function tick(ctx: Ctx): void {
  if ((++ctx.steps & 1023) === 0) throwIfAborted(ctx.signal);
}

/** Compares two nodes whose texts differ (callers check `sameText` first: it is the common case). */
function compare(p: Node, c: Node, path: JsonPath, ctx: Ctx): void {
  tick(ctx);
  if (p.type === 'object' && c.type === 'object') return compareObjects(p, c, path, ctx);
  if (p.type === 'array' && c.type === 'array') return compareArrays(p, c, path, ctx);
  if (p.type === c.type && p.type !== 'object' && p.type !== 'array' && p.value === c.value) return;
  emit(ctx, path, 'changed', p, c);
}

/** Objects by key; a repeated key keeps its last value, as in JSON.parse. */
function compareObjects(p: Node, c: Node, path: JsonPath, ctx: Ctx): void {
  const pProps = properties(p);
  const cProps = properties(c);
  for (const [key, cv] of cProps) {
    tick(ctx);
    const pv = pProps.get(key);
    if (pv === undefined) emit(ctx, [...path, key], 'added', undefined, cv);
    else if (!sameText(pv, cv, ctx)) compare(pv, cv, [...path, key], ctx);
  }
  let anchor = c.offset + 1;
  for (const [key, pv] of pProps) {
    const cv = cProps.get(key);
    if (cv !== undefined) anchor = end(cv.parent ?? cv);
    else emit(ctx, [...path, key], 'removed', pv, undefined, anchor);
  }
}

/** Key → value node, in document order (parseTree gives both once the text parsed without errors). */
function properties(obj: Node): Map<string, Node> {
  const map = new Map<string, Node>();
  for (const prop of obj.children ?? []) {
    const kv = prop.children;
    if (kv !== undefined && kv.length === 2) map.set(kv[0].value as string, kv[1]);
  }
  return map;
}

function compareArrays(p: Node, c: Node, path: JsonPath, ctx: Ctx): void {
  const pe = p.children ?? [];
  const ce = c.children ?? [];
  const pToC = new Int32Array(pe.length).fill(-1);
  const cToP = new Int32Array(ce.length).fill(-1);
  // Common prefix and suffix by raw text: cheap, and the whole list for the usual append.
  let lo = 0;
  for (; lo < pe.length && lo < ce.length && sameText(pe[lo], ce[lo], ctx); lo++, tick(ctx)) pToC[lo] = cToP[lo] = lo;
  let [pHi, cHi] = [pe.length, ce.length];
  for (; pHi > lo && cHi > lo && sameText(pe[pHi - 1], ce[cHi - 1], ctx); tick(ctx)) {
    pToC[--pHi] = --cHi;
    cToP[cHi] = pHi;
  }
  const ids = new Map<string, number>();
  const a = elementIds(pe, lo, pHi, ids, ctx);
  const b = elementIds(ce, lo, cHi, ids, ctx);
  if (a.length > 0 && b.length > 0) {
    align(a, b, ctx, (i, j) => {
      pToC[lo + i] = lo + j;
      cToP[lo + j] = lo + i;
    });
  }
  let [i, j, anchor] = [0, 0, c.offset + 1];
  while (i < pe.length || j < ce.length) {
    tick(ctx);
    if (i < pe.length && j < ce.length && pToC[i] === j) {
      // Equal by canonical JSON, or the same Env KEY: only strings can still differ.
      if (i >= lo && i < pHi && pe[i].type === 'string' && !sameText(pe[i], ce[j], ctx)) compare(pe[i], ce[j], [...path, j], ctx);
      anchor = end(ce[j++]);
      i++;
      continue;
    }
    const gp: number[] = [];
    const gc: number[] = [];
    while (i < pe.length && pToC[i] === -1) gp.push(i++);
    while (j < ce.length && cToP[j] === -1) gc.push(j++);
    const paired = gp.length === gc.length;
    for (let k = 0; k < Math.max(gp.length, gc.length); k++) {
      const pn = k < gp.length ? pe[gp[k]] : undefined;
      const cn = k < gc.length ? ce[gc[k]] : undefined;
      if (paired && pn && cn && pn.type === cn.type && (cn.type === 'object' || cn.type === 'array')) {
        compare(pn, cn, [...path, gc[k]], ctx);
        anchor = end(cn);
        continue;
      }
      if (pn) emit(ctx, [...path, gp[k]], 'removed', pn, undefined, anchor);
      if (cn) emit(ctx, [...path, gc[k]], 'added', undefined, cn);
    }
  }
}

/** Interned identity of each element in [lo, hi): canonical JSON, or the KEY of a `KEY=VALUE` string. */
function elementIds(nodes: Node[], lo: number, hi: number, ids: Map<string, number>, ctx: Ctx): number[] {
  const out: number[] = [];
  for (let k = lo; k < hi; k++) {
    tick(ctx);
    const n = nodes[k];
    const env = n.type === 'string' ? ENV_KEY.exec(n.value as string) : null;
    const key = env ? `k${env[1]}` : n.type === 'string' ? `s${n.value as string}`
      : n.type === 'object' || n.type === 'array' ? `j${stableStringify(getNodeValue(n))}` : `v${String(n.value)}`;
      let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    out.push(id);
  }
  return out;
}

/**
 * Longest common subsequence of `a` and `b`, reported through `match` (the
 * matches are monotone). Trims equal ends, solves small middles exactly, cuts
 * large ones at elements that occur once on each side (patience), and within a
 * work budget linear in the input falls back to an in-order hash match.
 */
function align(a: number[], b: number[], ctx: Ctx, match: (i: number, j: number) => void): void {
  let budget = WORK_CELLS + 64 * (a.length + b.length);
  const stack: [number, number, number, number][] = [[0, a.length, 0, b.length]];
  for (let range = stack.pop(); range !== undefined; range = stack.pop()) {
    let [aLo, aHi, bLo, bHi] = range;
    throwIfAborted(ctx.signal);
    while (aLo < aHi && bLo < bHi && a[aLo] === b[bLo]) match(aLo++, bLo++);
    while (aLo < aHi && bLo < bHi && a[aHi - 1] === b[bHi - 1]) match(--aHi, --bHi);
    const cells = (aHi - aLo) * (bHi - bLo);
    if (cells === 0) continue;
    const anchors = cells > DP_CELLS && budget > 0 ? uniqueAnchors(a, b, aLo, aHi, bLo, bHi) : [];
    budget -= cells <= DP_CELLS ? cells : aHi - aLo + bHi - bLo;
    if (cells <= DP_CELLS && budget > 0) lcsTable(a, b, aLo, aHi, bLo, bHi, ctx, match);
    else if (anchors.length === 0) greedyMatch(a, b, aLo, aHi, bLo, bHi, ctx, match);
    else {
      for (const [i, j] of anchors) {
        stack.push([aLo, i, bLo, j]);
        match(i, j);
        [aLo, bLo] = [i + 1, j + 1];
      }
      stack.push([aLo, aHi, bLo, bHi]);
    }
  }
}

function lcsTable(a: number[], b: number[], aLo: number, aHi: number, bLo: number, bHi: number, ctx: Ctx, match: (i: number, j: number) => void): void {
  const n = aHi - aLo;
  const m = bHi - bLo;
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w); // t[i][j] = LCS length of a[i..] and b[j..]
  for (let i = n - 1; i >= 0; i--) {
    if ((i & 63) === 0) throwIfAborted(ctx.signal);
    const ai = a[aLo + i];
    for (let j = m - 1; j >= 0; j--) {
      t[i * w + j] = ai === b[bLo + j] ? t[(i + 1) * w + j + 1] + 1 : Math.max(t[(i + 1) * w + j], t[i * w + j + 1]);
    }
  }
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (a[aLo + i] === b[bLo + j]) match(aLo + i++, bLo + j++);
    else if (t[(i + 1) * w + j] >= t[i * w + j + 1]) i++;
    else j++;
  }
}

/** Pairs (i, j) of ids occurring once in each range, longest increasing run in both. */
function uniqueAnchors(a: number[], b: number[], aLo: number, aHi: number, bLo: number, bHi: number): [number, number][] {
  const once = (xs: number[], lo: number, hi: number): Map<number, number> => {
    const seen = new Map<number, number>(); // id → index, or -1 when repeated
    for (let k = lo; k < hi; k++) seen.set(xs[k], seen.has(xs[k]) ? -1 : k);
    return seen;
  };
  const inA = once(a, aLo, aHi);
  const inB = once(b, bLo, bHi);
  const pairs: [number, number][] = [];
  for (let i = aLo; i < aHi; i++) {
    const j = inB.get(a[i]);
    if (inA.get(a[i]) === i && j !== undefined && j >= 0) pairs.push([i, j]);
  }
  // Longest increasing subsequence of j (patience sorting).
  const tails: number[] = [];
  const prev = new Int32Array(pairs.length).fill(-1);
  for (let k = 0; k < pairs.length; k++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[tails[mid]][1] < pairs[k][1]) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tails[lo - 1];
    tails[lo] = k;
  }
  const out: [number, number][] = [];
  for (let k = tails.length ? tails[tails.length - 1] : -1; k >= 0; k = prev[k]) out.push(pairs[k]);
  return out.reverse();
}

/** Linear fallback for a large middle with no unique elements: each a-element takes the next equal b-element. */
function greedyMatch(a: number[], b: number[], aLo: number, aHi: number, bLo: number, bHi: number, ctx: Ctx, match: (i: number, j: number) => void): void {
  const where = new Map<number, { at: number[]; next: number }>();
  for (let j = bLo; j < bHi; j++) {
    const slot = where.get(b[j]);
    if (slot) slot.at.push(j);
    else where.set(b[j], { at: [j], next: 0 });
  }
  let last = bLo - 1;
  for (let i = aLo; i < aHi; i++) {
    tick(ctx);
    const slot = where.get(a[i]);
    if (!slot) continue;
    while (slot.next < slot.at.length && slot.at[slot.next] <= last) slot.next++;
    if (slot.next < slot.at.length) match(i, (last = slot.at[slot.next++]));
  }
}

function sameText(p: Node, c: Node, ctx: Ctx): boolean {
  return p.length === c.length && ctx.pText.slice(p.offset, p.offset + p.length) === ctx.cText.slice(c.offset, c.offset + c.length);
}

function end(n: Node): number {
  return n.offset + n.length;
}

function rangeOf(n: Node): JsonRange {
  const outer = n.parent?.type === 'property' ? n.parent : n;
  return { offset: outer.offset, length: outer.length, valueOffset: n.offset, valueLength: n.length };
}

function emit(ctx: Ctx, path: JsonPath, change: ChangeKind, p: Node | undefined, c: Node | undefined, anchorOffset?: number): void {
  const out: JsonChange = { path, pointer: toPointer(path), display: toDisplay(path), change };
  if (p) {
    out.before = toValue(p);
    out.parentRange = rangeOf(p);
  }
  if (c) {
    out.after = toValue(c);
    out.childRange = rangeOf(c);
  }
  if (anchorOffset !== undefined) out.anchorOffset = anchorOffset;
  ctx.out.push(out);
}

/** The node's value with plain objects (getNodeValue makes null-prototype ones). */
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
