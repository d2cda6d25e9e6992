/**
 * Text offsets in a JSON document already known to be valid (JSON.parse
 * accepted it): the spans of one container's members at a time, on demand,
 * and the value of any span, parsed from its own slice.
 *
 * This replaces a full jsonc-parser `parseTree` (a node object per value) for
 * callers that need offsets and values only along a few paths: skipping a
 * nested container costs one lookup in a bracket index built by a single pass
 * over the text, and strings are skipped with `indexOf`.
 *
 * Offsets are JS string indices into the text, as jsonc-parser reports them: a
 * string's span includes its quotes, a property's span runs from its key's
 * opening quote to the end of its value.
 */

/** One value of the document: a property (key through value) or a bare element / the root. */
export interface Span {
  /** Start of the property (its key's opening quote); the value's start for an element or the root. */
  readonly start: number;
  /** Start of the value. */
  readonly off: number;
  /** End of the value (exclusive). */
  readonly end: number;
}

/** What a value is, from its first character. */
export type Kind = 'object' | 'array' | 'string' | 'scalar';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

/** JSON whitespace: space, tab, line feed, carriage return (jsonc-parser's too). */
function isWs(ch: number): boolean {
  return ch === 32 || ch === 10 || ch === 13 || ch === 9;
}

function skipWs(t: string, i: number): number {
  while (isWs(t.charCodeAt(i))) i++;
  return i;
}

/** The index just past the closing quote of the string opening at `i`. */
function stringEnd(t: string, i: number): number {
  let j = t.indexOf('"', i + 1);
  while (j > 0 && t.charCodeAt(j - 1) === BACKSLASH) {
    let k = j - 2;
    while (t.charCodeAt(k) === BACKSLASH) k--;
    if (((j - 1 - k) & 1) === 0) break; // an even run of backslashes: the quote is not escaped
    j = t.indexOf('"', j + 1);
  }
  return j < 0 ? t.length : j + 1;
}

/** The members of one container as parallel lists: a property's key (objects only), where it starts, where its value starts and ends. */
export interface Members {
  readonly keys: string[];
  readonly start: number[];
  readonly off: number[];
  readonly end: number[];
}

/** One document text, with a lazily built index of its brackets. */
export class JsonText {
  /** Built on the first skip over a container. */
  private brackets: Brackets | undefined;
  /** Index in `brackets` of the container a scan of siblings expects next. */
  private cursor = 0;

  /** `parse` reads one value's slice: JSON.parse, unless the text is one JSON.parse refused. */
  constructor(
    readonly text: string,
    private readonly parse: (slice: string) => unknown = JSON.parse,
  ) {}

  /** The span of the whole document. */
  root(): Span {
    const off = skipWs(this.text, 0);
    return { start: off, off, end: this.valueEnd(off) };
  }

  kind(off: number): Kind {
    const ch = this.text.charCodeAt(off);
    return ch === OPEN_BRACE ? 'object' : ch === OPEN_BRACKET ? 'array' : ch === QUOTE ? 'string' : 'scalar';
  }

  /** The value at [off, end): what JSON.parse gives for the whole text there. */
  value(off: number, end: number): unknown {
    if (this.text.charCodeAt(off) === QUOTE) {
      const raw = this.text.slice(off + 1, end - 1);
      if (!raw.includes('\\')) return raw;
    }
    return this.parse(this.text.slice(off, end));
  }

  /** Whether the value at [aOff, aEnd) of this text and the one at [bOff, bEnd) of `other` are the same characters. */
  same(aOff: number, aEnd: number, other: JsonText, bOff: number, bEnd: number): boolean {
    const n = aEnd - aOff;
    if (n !== bEnd - bOff) return false;
    if (n < 12) { // shorter slices are copies; longer ones share the text and compare natively
      const [s, t] = [this.text, other.text];
      for (let k = 0; k < n; k++) if (s.charCodeAt(aOff + k) !== t.charCodeAt(bOff + k)) return false;
      return true;
    }
    return this.text.slice(aOff, aEnd) === other.text.slice(bOff, bEnd);
  }

  /** The members of the object or array `container`, in document order (a repeated key is listed each time). */
  members(container: Span): Members {
    const t = this.text;
    const isObject = t.charCodeAt(container.off) === OPEN_BRACE;
    const m: Members = { keys: [], start: [], off: [], end: [] };
    this.cursor = this.find(container.off) + 1; // the first container inside, if any
    let i = container.off + 1;
    if (t.charCodeAt(i) <= 32) i = skipWs(t, i);
    const ch = t.charCodeAt(i);
    if (ch === CLOSE_BRACE || ch === CLOSE_BRACKET) return m;
    for (;;) {
      const start = i;
      if (isObject) {
        const keyEnd = stringEnd(t, i);
        const raw = t.slice(i + 1, keyEnd - 1);
        m.keys.push(raw.includes('\\') ? (this.parse(t.slice(i, keyEnd)) as string) : raw);
        i = skipWs(t, keyEnd) + 1; // past the colon
        if (t.charCodeAt(i) <= 32) i = skipWs(t, i);
      }
      const end = this.valueEnd(i);
      m.start.push(start);
      m.off.push(i);
      m.end.push(end);
      i = t.charCodeAt(end) <= 32 ? skipWs(t, end) : end;
      if (t.charCodeAt(i) !== COMMA) return m;
      i++;
      if (t.charCodeAt(i) <= 32) i = skipWs(t, i);
    }
  }

  /** End (exclusive) of the value starting at `i`; a container is looked up at the cursor first (the next one in a scan of siblings). */
  private valueEnd(i: number): number {
    const t = this.text;
    const ch = t.charCodeAt(i);
    if (ch === QUOTE) return stringEnd(t, i);
    if (ch === OPEN_BRACE || ch === OPEN_BRACKET) {
      const b = (this.brackets ??= this.index());
      const k = this.cursor < b.count && b.opens[this.cursor] === i ? this.cursor : this.find(i);
      this.cursor = b.next[k];
      return b.closes[k] + 1;
    }
    let j = i + 1; // number, true, false, null: up to the next delimiter
    while (j < t.length) {
      const c = t.charCodeAt(j);
      if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isWs(c)) break;
      j++;
    }
    return j;
  }

  /** Index in the bracket index of the container opening at `open`. */
  private find(open: number): number {
    const b = (this.brackets ??= this.index());
    let [lo, hi] = [0, b.count - 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b.opens[mid] < open) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** One pass over the text: every bracket outside strings, paired, and linked to the container after it. */
  private index(): Brackets {
    const t = this.text;
    let opens: Int32Array = new Int32Array(1024);
    let closes: Int32Array = new Int32Array(1024);
    let next: Int32Array = new Int32Array(1024);
    let stack: Int32Array = new Int32Array(64);
    let [count, depth] = [0, 0];
    for (let i = 0; i < t.length; i++) {
      const ch = t.charCodeAt(i);
      if (ch === QUOTE) i = stringEnd(t, i) - 1;
      else if (ch === OPEN_BRACE || ch === OPEN_BRACKET) {
        if (count === opens.length) [opens, closes, next] = [grow(opens), grow(closes), grow(next)];
        if (depth === stack.length) stack = grow(stack);
        stack[depth++] = count;
        opens[count++] = i;
      } else if ((ch === CLOSE_BRACE || ch === CLOSE_BRACKET) && depth > 0) {
        const k = stack[--depth];
        closes[k] = i;
        next[k] = count;
      }
    }
    return { opens, closes, next, count };
  }
}

/**
 * The first `count` containers of a text in document order: where each opens
 * and closes, and the index of the first container opening after it closes
 * (its next sibling's, when it has one).
 */
interface Brackets { opens: Int32Array; closes: Int32Array; next: Int32Array; count: number }

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
