/**
 * The Layer Files filter: what a user types to narrow a layer's files.
 *
 *   conf              substring of the path (case-insensitive)
 *   *.conf            glob on the name (no `/` in the pattern)
 *   /etc/**           glob on the whole path (`*` within a segment, `**` across, `?` one character)
 *   size>1MB          size comparison: > >= < <= =, units B kB MB GB (SI, as Docker prints) or KiB MiB GiB
 *   *.conf size>1kB   several terms: every one must match
 */

export interface FilterSubject {
  readonly path: string;
  readonly type: string;
  readonly size: number;
}

export interface FileFilter {
  /** The text as typed, trimmed. */
  readonly text: string;
  test(entry: FilterSubject): boolean;
}

type Term = (e: FilterSubject) => boolean;

const UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const SIZE = /^size\s*(>=|<=|>|<|=)\s*(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** Parses a filter; a string is the reason it cannot be used (for an InputBox's validation). */
export function parseFileFilter(text: string): FileFilter | string {
  const trimmed = text.trim();
  const terms: Term[] = [];
  // `size > 1 MB` may be typed with spaces: glue the comparison back together first.
  const glued = trimmed.replace(/\bsize\s*(>=|<=|>|<|=)\s*(\d+(?:\.\d+)?)?(?:\s*(kib|mib|gib|tib|kb|mb|gb|tb|b|k|m|g|t)\b)?/gi, (_, op: string, n = '', unit = '') => `size${op}${n}${unit}`);
  const words = glued.split(/\s+/).filter(Boolean);
  for (const word of words) {
    const term = parseTerm(word);
    if (typeof term === 'string') return term;
    terms.push(term);
  }
  if (terms.length === 0) return 'type a part of a path, a glob such as *.conf or /etc/**, or size>1MB';
  return { text: trimmed, test: (e) => terms.every((t) => t(e)) };
}

function parseTerm(word: string): Term | string {
  if (/^size\b/i.test(word) && /[<>=]/.test(word)) {
    const m = SIZE.exec(word);
    if (!m) return `"${word}": write a size filter as size>1MB, size<=10kB, size=0`;
    const unit = m[3].toLowerCase();
    const factor = unit === '' ? 1 : UNITS[unit];
    if (factor === undefined) return `"${m[3]}" is not a size unit: use B, kB, MB, GB (or KiB, MiB, GiB)`;
    const limit = Number(m[2]) * factor;
    const op = m[1];
    // Sizes are those of regular files: a folder, a link or a whiteout has none to compare.
    return (e) => e.type === 'file' && compare(e.size, op, limit);
  }
  if (/[*?]/.test(word)) {
    const onPath = word.includes('/');
    const re = globToRegExp(onPath && !word.startsWith('/') ? `/${word}` : word);
    return onPath ? (e) => re.test(e.path) : (e) => re.test(e.path.slice(e.path.lastIndexOf('/') + 1));
  }
  const needle = word.toLowerCase();
  return (e) => e.path.toLowerCase().includes(needle);
}

function compare(size: number, op: string, limit: number): boolean {
  switch (op) {
    case '>':
      return size > limit;
    case '>=':
      return size >= limit;
    case '<':
      return size < limit;
    case '<=':
      return size <= limit;
    default:
      return size === limit;
  }
}

/** `*` any run within a segment, `**` any run across segments (`/a/**` also matches `/a`), `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (re.endsWith('/') && (i + 1 === glob.length || glob[i + 1] === '/')) {
        // `/**` at the end or `/**/` in the middle: zero or more whole segments.
        re = re.slice(0, -1) + '(?:/.*)?';
        if (glob[i + 1] === '/') {
          i++;
          re += '/';
        }
      } else {
        re += '.*';
      }
    } else if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, 'i');
}
