/**
 * byteNames: every byte name maps to one string and back, valid UTF-8 reads as
 * Node reads it, and the mapped chars show as `\xNN`. Then the mapping on the
 * real filesystem: a folder of names that are not valid UTF-8, made with Buffer
 * paths, is walked, looked up and read through the core.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeName, diskPath, displayName, encodeName, needsBytes } from '../../src/core/byteNames';
import { printable } from '../../src/core/format';
import { listLayerDir, readLayerFile, statLayerPath } from '../../src/core/layerFiles';
import { exportPath } from '../../src/core/export';
import { walkLayer } from '../../src/core/layerWalk';
import { resolveMerged } from '../../src/core/mergedPath';
import { indexTarRegion } from '../../src/core/tar/tarIndex';
import { canReadTrustedXattrs } from '../../src/core/opaque';
import type { LayerContent } from '../../src/core/model';

const hasSetfattr = () => {
  try {
    execFileSync('setfattr', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const roundTrip = (bytes: Buffer) => {
  const s = decodeName(bytes);
  assert.deepEqual(encodeName(s), bytes, `${bytes.toString('hex')} → ${JSON.stringify(s)} → back`);
  const d = diskPath(s);
  assert.deepEqual(typeof d === 'string' ? Buffer.from(d, 'utf8') : d, bytes, `diskPath of ${JSON.stringify(s)}`);
  return s;
};

describe('the mapping', () => {
  test('every single byte, and every pair of bytes 0x80-0xFF with an ASCII byte between, round-trips', () => {
    for (let b = 1; b < 256; b++) roundTrip(Buffer.of(b));
    for (let a = 0x80; a < 0x100; a++) for (let b = 0x80; b < 0x100; b++) roundTrip(Buffer.of(a, 0x41, b));
  });

  test('every pair and triple of bytes 0x80-0xFF round-trips, and strings stay distinct', () => {
    const seen = new Map<string, string>();
    const check = (bytes: Buffer) => {
      const s = roundTrip(bytes);
      const hex = bytes.toString('hex');
      assert.equal(seen.get(s) ?? hex, hex, `${hex} and ${seen.get(s)} map to one string`);
      seen.set(s, hex);
    };
    for (let a = 0x80; a < 0x100; a++) for (let b = 0x80; b < 0x100; b++) check(Buffer.of(a, b));
    for (const lead of [0xe0, 0xed, 0xee, 0xef, 0xf0, 0xf4]) for (let b = 0x80; b < 0xc0; b++) for (let c = 0x80; c < 0xc0; c += 7) check(Buffer.of(lead, b, c));
  });

  test('valid UTF-8 reads as Node reads it, U+FFFD included', () => {
    for (const s of ['plain.txt', 'é', '日本語', '😀 emoji', 'a\uFFFDb', '\uE000\uEF7F\uF000', '\u0085']) {
      assert.equal(roundTrip(Buffer.from(s, 'utf8')), s);
      assert.equal(diskPath(s), s, 'a name with no mapped char is its own disk path');
    }
  });

  test('invalid bytes map to U+EF80-U+EFFF; a valid U+EF80-U+EFFF is mapped byte by byte', () => {
    assert.equal(roundTrip(Buffer.from([0x62, 0xff, 0xfe])), 'b\uEFFF\uEFFE');
    // U+EFFF is EE BF BF in UTF-8: three mapped chars, so it cannot be taken for the byte FF.
    assert.equal(roundTrip(Buffer.from('\uEFFF', 'utf8')), '\uEFEE\uEFBF\uEFBF');
    // Overlong '/', a UTF-16 surrogate, past U+10FFFF, a truncated sequence: not well-formed, byte by byte.
    assert.equal(roundTrip(Buffer.of(0xc0, 0xaf)), '\uEFC0\uEFAF');
    assert.equal(roundTrip(Buffer.of(0xed, 0xa0, 0x80)), '\uEFED\uEFA0\uEF80');
    assert.equal(roundTrip(Buffer.of(0xf4, 0x90, 0x80, 0x80)), '\uEFF4\uEF90\uEF80\uEF80');
    assert.equal(roundTrip(Buffer.of(0xe6, 0x97, 0x41)), '\uEFE6\uEF97A');
    assert.equal(roundTrip(Buffer.from([...Buffer.from('日'), 0xff, ...Buffer.from('\uFFFD')])), '日\uEFFF\uFFFD');
  });

  test('shown as \\xNN, never as the private-use glyph', () => {
    assert.equal(displayName('bad-\uEFFF\uEFFE.txt'), 'bad-\\xff\\xfe.txt');
    assert.equal(displayName('plain'), 'plain');
    assert.equal(printable('/bad-\uEFFF\n'), '/bad-\\xff\\n');
    // A C1 control (a valid character) does not look like a raw byte.
    assert.equal(printable('\u0085'), '\\u0085');
  });

  test('needsBytes flags what string readdir may have got wrong', () => {
    assert.equal(needsBytes('ok.txt'), false);
    assert.equal(needsBytes('bad-\uFFFD'), true);
    assert.equal(needsBytes('\uEF80'), true);
  });
});

describe('on disk', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dle-bytes-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const layer = path.join(dir, 'diff');
  const lower = path.join(dir, 'lower');
  const raw = (d: string, ...parts: (string | number[])[]) =>
    Buffer.concat([Buffer.from(d + '/'), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))]);
  for (const d of [layer, lower]) fs.mkdirSync(d);
  // bad-FF.txt (invalid), a folder FE/ holding in.txt, a real U+FFFD name, a valid U+EFFF name; lower holds bad-FF.txt too.
  fs.writeFileSync(raw(layer, 'bad-', [0xff], '.txt'), 'ff bytes');
  fs.mkdirSync(raw(layer, [0xfe]));
  fs.writeFileSync(raw(layer, [0xfe], '/in.txt'), 'inside');
  fs.writeFileSync(path.join(layer, 'real-\uFFFD'), 'replacement char');
  fs.writeFileSync(path.join(layer, 'pua-\uEFFF'), 'private use');
  fs.writeFileSync(raw(lower, 'bad-', [0xff], '.txt'), 'old');
  const content: LayerContent = { dir: layer, form: 'diff', whiteouts: 'overlay', lowerDirs: [lower] };

  test('the walk lists every name, each with its status against the lower layer', async () => {
    const problems: string[] = [];
    const got: Record<string, string> = {};
    for await (const e of walkLayer(content, { onProblem: (p) => problems.push(p.message) })) got[e.path] = e.status;
    assert.deepEqual(problems, []);
    assert.deepEqual(got, {
      '/bad-\uEFFF.txt': 'modified',
      '/pua-\uEFEE\uEFBF\uEFBF': 'added',
      '/real-\uFFFD': 'added',
      '/\uEFFE': 'added',
      '/\uEFFE/in.txt': 'added',
    });
  });

  test('each listed name reads its own bytes; a listing names them the same way', async () => {
    const text = async (p: string) => {
      const r = await readLayerFile(content, p);
      assert.equal(r.kind, 'file');
      return Buffer.from(r.kind === 'file' ? r.data : []).toString();
    };
    assert.equal(await text('/bad-\uEFFF.txt'), 'ff bytes');
    assert.equal(await text('/\uEFFE/in.txt'), 'inside');
    assert.equal(await text('/real-\uFFFD'), 'replacement char');
    assert.equal(await text('/pua-\uEFEE\uEFBF\uEFBF'), 'private use');
    assert.equal((await statLayerPath(content, '/bad-\uEFFF.txt')).size, 8);
    const names = (await listLayerDir(content, '/')).map((e) => e.name).sort();
    assert.deepEqual(names, ['bad-\uEFFF.txt', 'pua-\uEFEE\uEFBF\uEFBF', 'real-\uFFFD', '\uEFFE']);
  });

  test('the merged view finds such names, and export writes them with their own bytes', async () => {
    const layers = [content, { dir: lower, form: 'diff', whiteouts: 'overlay', lowerDirs: [] } satisfies LayerContent];
    assert.equal((await resolveMerged(layers, '/bad-\uEFFF.txt'))?.layerIndex, 0, 'the top copy provides it');
    const dest = path.join(dir, 'out');
    fs.mkdirSync(dest);
    const r = await exportPath({ kind: 'merged', layers }, '/', path.join(dest, 'root'), { forbidden: [dir + '/diff'] });
    assert.deepEqual(r.skipped, []);
    const copy = (...parts: (string | number[])[]) => fs.readFileSync(raw(path.join(dest, 'root'), ...parts), 'utf8');
    assert.equal(copy('bad-', [0xff], '.txt'), 'ff bytes');
    assert.equal(copy([0xfe], '/in.txt'), 'inside');
    assert.equal(copy('pua-\uEFFF'), 'private use');
  });

  test('an opaque folder whose name is not UTF-8 is asked about by its bytes (getfattr through an fd)', async (t) => {
    if (!canReadTrustedXattrs() || !hasSetfattr()) return t.skip('needs root and setfattr (trusted.* xattrs)');
    const top = path.join(dir, 'top');
    fs.mkdirSync(top);
    // The folder FD exists below with a file; above, it is opaque (set through an fd: a command line cannot carry the byte).
    fs.mkdirSync(raw(lower, [0xfd]));
    fs.writeFileSync(raw(lower, [0xfd], '/old.txt'), 'hidden');
    fs.mkdirSync(raw(top, [0xfd]));
    const fd = fs.openSync(raw(top, [0xfd]), 'r');
    try {
      execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', `/proc/${process.pid}/fd/${fd}`]);
    } finally {
      fs.closeSync(fd);
    }
    const problems: string[] = [];
    const got: Record<string, string> = {};
    const walked: LayerContent = { dir: top, form: 'diff', whiteouts: 'overlay', lowerDirs: [layer, lower] };
    for await (const e of walkLayer(walked, { onProblem: (p) => problems.push(p.message) })) got[e.path] = `${e.status}${e.opaqueUnknown ? ' (unknown)' : ''}`;
    assert.deepEqual(problems, []);
    assert.deepEqual(got, { '/\uEFFD': 'opaque' });
  });
});

describe('in tar headers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dle-bytes-tar-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  // A name of 120 bytes: past ustar's 100, so a pax `path` record (or a GNU long name) carries it.
  const long = Buffer.concat([Buffer.from('x'.repeat(110)), Buffer.of(0xfe), Buffer.from('.txt')]);
  fs.writeFileSync(Buffer.concat([Buffer.from(src + '/bad-'), Buffer.of(0xff), Buffer.from('.txt')]), 'ff');
  fs.writeFileSync(Buffer.concat([Buffer.from(src + '/'), long]), 'long');
  fs.symlinkSync(Buffer.concat([Buffer.from('to-'), Buffer.of(0xff)]), path.join(src, 'link'));

  for (const format of ['ustar', 'gnu', 'pax']) {
    test(`${format}: the system tar's non-UTF-8 names and link targets decode as the walk's`, async (t) => {
      const archive = path.join(dir, `${format}.tar`);
      // ustar cannot hold the long name: only the short ones.
      const short = format === 'ustar';
      try {
        execFileSync('tar', ['--format', format, ...(short ? ['--exclude', 'x*'] : []), '-cf', archive, '-C', src, '.']);
      } catch (err) {
        return t.skip(`tar --format ${format}: ${(err as Error).message}`);
      }
      const scan = await indexTarRegion({ file: archive, start: 0, size: fs.statSync(archive).size });
      const byName = new Map(scan.members.map((m) => [m.name.replace(/^\.\//, ''), m]));
      assert.ok(byName.has('bad-\uEFFF.txt'), `listed: ${[...byName.keys()].join(', ')}`);
      assert.equal(byName.get('link')?.linkname, 'to-\uEFFF');
      if (!short) assert.ok(byName.has(decodeName(long)), 'the long name, from its extended header');
    });
  }
});

