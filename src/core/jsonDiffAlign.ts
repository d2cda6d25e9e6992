/**
 * How jsonDiff pairs members: the properties of two objects by key, the
 * elements of two arrays by a longest-common-subsequence alignment of their
 * ids (exact on small middles, patience-cut on large ones, and linear beyond a
 * work budget).
 */
import { throwIfAborted } from './errors';

/** Largest middle (n × m cells) solved by the exact LCS table; larger ones are cut at unique elements first. */
const DP_CELLS = 1 << 20;
/** Cells of exact LCS tables one array may use in all before the rest is matched greedily. */
const WORK_CELLS = 1 << 23;

/** Cancellation state shared with the caller: the signal is checked every 1,024 steps. */
export interface Ticker {
  readonly signal: AbortSignal | undefined;
  steps: number;
}

export function tick(ctx: Ticker): void {
  if ((++ctx.steps & 1023) === 0) throwIfAborted(ctx.signal);
}

/**
 * Longest common subsequence of `a` and `b`, reported through `match` (the
 * matches are monotone). Trims equal ends, solves small middles exactly, cuts
 * large ones at elements that occur once on each side (patience), and within a
 * work budget linear in the input falls back to an in-order hash match.
 */
export function align(a: number[], b: number[], ctx: Ticker, match: (i: number, j: number) => void): void {
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

function lcsTable(a: number[], b: number[], aLo: number, aHi: number, bLo: number, bHi: number, ctx: Ticker, match: (i: number, j: number) => void): void {
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
function greedyMatch(a: number[], b: number[], aLo: number, aHi: number, bLo: number, bHi: number, ctx: Ticker, match: (i: number, j: number) => void): void {
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

/**
 * The properties of two objects paired by key: the child property that holds
 * each parent key (-1: removed) and the reverse (-1: added), for the
 * properties listed in `pOrder` / `cOrder` (all, in document order, when absent).
 */
export interface Pairing { pToC: Int32Array; cToP: Int32Array; pOrder?: number[]; cOrder?: number[] }

/**
 * Pairing for objects whose keys are unique on both sides (the norm), by a walk
 * that expects the keys in the same order and looks a key up only where the
 * order breaks. undefined when either side repeats a key: pairByKey then.
 */
export function pairInOrder(pKeys: string[], cKeys: string[]): Pairing | undefined {
  let sorted = true; // strictly increasing (Go writes map keys so): unique, and searchable by bisection
  for (let k = 1; k < pKeys.length && sorted; k++) sorted = pKeys[k - 1] < pKeys[k];
  let index: Map<string, number> | undefined;
  if (!sorted && (index = keyIndex(pKeys)).size !== pKeys.length) return undefined;
  const pToC = new Int32Array(pKeys.length).fill(-1);
  const cToP = new Int32Array(cKeys.length).fill(-1);
  let added: Set<string> | undefined;
  for (let j = 0, q = 0; j < cKeys.length; j++) {
    const key = cKeys[j];
    let at = q < pKeys.length && pKeys[q] === key ? q : -1;
    for (let d = q + 1; at < 0 && d < pKeys.length && d <= q + 8; d++) if (pKeys[d] === key) at = d;
    if (at < 0) at = index ? (index.get(key) ?? -1) : bisect(pKeys, key);
    if (at < 0) {
      if (added?.has(key)) return undefined;
      (added ??= new Set()).add(key);
    } else {
      if (pToC[at] >= 0) return undefined;
      pToC[at] = j;
      cToP[j] = at;
      q = at + 1;
    }
  }
  // The parent's keys are unique, so the child's paired ones are; its added ones are not the parent's and were checked among themselves.
  return { pToC, cToP };
}

/** Index of `key` in the strictly increasing `keys`, or -1. */
function bisect(keys: string[], key: string): number {
  let [lo, hi] = [0, keys.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < keys.length && keys[lo] === key ? lo : -1;
}

/** Pairing as two Maps give it: a repeated key counts once, in its first place, with its last value. */
export function pairByKey(pKeys: string[], cKeys: string[]): Pairing {
  const pIndex = keyIndex(pKeys);
  const cIndex = keyIndex(cKeys);
  const pToC = new Int32Array(pKeys.length).fill(-1);
  const cToP = new Int32Array(cKeys.length).fill(-1);
  for (const [key, q] of pIndex) pToC[q] = cIndex.get(key) ?? -1;
  for (const [key, j] of cIndex) cToP[j] = pIndex.get(key) ?? -1;
  return { pToC, cToP, pOrder: [...pIndex.values()], cOrder: [...cIndex.values()] };
}

/** Key → index of its last occurrence, keys in the order of their first (a Map keeps a key's first place). */
function keyIndex(keys: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (let k = 0; k < keys.length; k++) map.set(keys[k], k);
  return map;
}
