/**
 * File names are bytes on Linux; the model's paths are strings. Node's string
 * readdir decodes a name that is not valid UTF-8 lossily (U+FFFD), and that
 * string names no file: lstat and open on it fail. This module maps names both
 * ways without loss, in the spirit of OPTU-8 / Python's surrogateescape but
 * with characters that survive URIs, JSON and VS Code's tree:
 *
 * - a byte 0x80–0xFF that is not part of a valid UTF-8 sequence stands for the
 *   private-use character U+EF00 + byte (U+EF80–U+EFFF);
 * - a valid UTF-8 sequence whose character is itself in U+EF80–U+EFFF is
 *   mapped byte by byte the same way, so every string means one byte name;
 * - everything else is the character UTF-8 decodes, as Node gives it.
 *
 * A walked name's path is the mapped string (the model, `--json`, URIs); every
 * fs call on it goes through `diskPath()`, and people see `displayName()`
 * (`\xff`), never a tofu glyph. No Node import (Buffer only inside functions
 * the browser never calls): the webview's bundle takes format.ts, which shows
 * names with it; readdir and readlink are byteNamesFs.ts.
 *
 * Limit: a root given by its path (settings, --root) is taken as it is; one
 * whose own path holds a U+EF80–U+EFFF character would be misread by diskPath().
 */

/** U+EF00 + byte: the private-use block that stands for raw bytes 0x80–0xFF. */
const BASE = 0xef00;
const FIRST = BASE + 0x80;
const LAST = BASE + 0xff;

/** A char that stands for a byte: a string holding none is its own disk path. */
const MAPPED = /[\uEF80-\uEFFF]/;
const MAPPED_ALL = /[\uEF80-\uEFFF]/g;

/**
 * A readdir name that may not be what is on disk: U+FFFD (maybe a lossy
 * decode) or a char in U+EF80–U+EFFF (a valid name that must be mapped byte by
 * byte). Only a folder holding such a name is read again as bytes.
 */
const SUSPECT = /[\uFFFD\uEF80-\uEFFF]/;

/** True when a name from string readdir must be read again as bytes (see decodeName). */
export function needsBytes(name: string): boolean {
  return SUSPECT.test(name);
}

/** True when `s` holds a char that stands for a raw byte. */
export function hasMappedBytes(s: string): boolean {
  return MAPPED.test(s);
}

/** The mapped string of an on-disk byte name (see the module comment). */
export function decodeName(buf: Uint8Array): string {
  const fast = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
  if (!SUSPECT.test(fast)) return fast;
  let out = '';
  let i = 0;
  while (i < buf.length) {
    const b = buf[i];
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    const n = sequenceLength(buf, i);
    const cp = n > 0 ? codePointAt(buf, i, n) : -1;
    if (cp >= 0 && (cp < FIRST || cp > LAST)) {
      out += String.fromCodePoint(cp);
      i += n;
    } else {
      // Invalid here, or valid but itself in the mapped block: each byte stands for itself.
      const bytes = n > 0 ? n : 1;
      for (let k = 0; k < bytes; k++) out += String.fromCharCode(BASE + buf[i + k]);
      i += bytes;
    }
  }
  return out;
}

/**
 * What fs calls take for a mapped path: the string itself when it holds no
 * mapped char (no allocation: the walk's fast path), else its bytes.
 */
export function diskPath(s: string): string | Buffer {
  return MAPPED.test(s) ? encodeName(s) : s;
}

/** The bytes a mapped string stands for. */
export function encodeName(s: string): Buffer {
  if (!MAPPED.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < FIRST || c > LAST) continue;
    if (i > start) parts.push(Buffer.from(s.slice(start, i), 'utf8'));
    parts.push(Buffer.of(c - BASE));
    start = i + 1;
  }
  if (start < s.length) parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** For people: each char that stands for a byte as `\xNN` (`bad-\xff.txt`), the rest as it is. */
export function displayName(s: string): string {
  return MAPPED.test(s) ? s.replace(MAPPED_ALL, escapeByte) : s;
}

/** `\xNN` for one mapped char. */
export function escapeByte(c: string): string {
  return `\\x${(c.charCodeAt(0) - BASE).toString(16).padStart(2, '0')}`;
}

/**
 * The length of a well-formed UTF-8 sequence starting at `i` (2–4), or 0:
 * overlong forms, surrogates (ED A0–BF) and code points past U+10FFFF are not
 * well-formed (Unicode table 3-7), so their bytes are mapped one by one.
 */
function sequenceLength(buf: Uint8Array, i: number): number {
  const b = buf[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < buf.length && buf[i + k] >= lo && buf[i + k] <= hi;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function codePointAt(buf: Uint8Array, i: number, n: number): number {
  if (n === 2) return ((buf[i] & 0x1f) << 6) | (buf[i + 1] & 0x3f);
  if (n === 3) return ((buf[i] & 0x0f) << 12) | ((buf[i + 1] & 0x3f) << 6) | (buf[i + 2] & 0x3f);
  return ((buf[i] & 0x07) << 18) | ((buf[i + 1] & 0x3f) << 12) | ((buf[i + 2] & 0x3f) << 6) | (buf[i + 3] & 0x3f);
}

