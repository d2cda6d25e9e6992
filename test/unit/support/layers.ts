// Helpers of the layer-walk tests: real folders built with node:fs in a temp
// folder (removed after the tests), and readers of real overlay2 roots.
import { after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { walkLayer, type LayerEntry, type WalkOptions, type WalkProblem } from '../../../src/core/layerWalk';
import type { LayerContent } from '../../../src/core/model';

export const isRoot = process.getuid?.() === 0;
export const hasTool = (cmd: string): boolean => !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;

/** This test file's temp folder, readable by all (the unprivileged-user test reads below it). */
export const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layerWalk-'));
fs.chmodSync(tmp, 0o755);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `dir/` keys make folders, strings make files, {link} symlinks, {fifo} a FIFO (mkfifo). */
export type Spec = Record<string, string | null | { link: string } | { fifo: true }>;

/** Builds `tmp/name` from `spec`; returns its path. */
export function build(name: string, spec: Spec): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, v] of Object.entries(spec)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(rel.endsWith('/') ? p : path.dirname(p), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(p, v);
    else if (v && 'link' in v) fs.symlinkSync(v.link, p);
    else if (v && 'fifo' in v) execFileSync('mkfifo', [p]);
  }
  return dir;
}

/** A generated layer `tmp/name`: `dirs` folders (d0000…) of `files` empty files (f0…) each; made once. */
export function generate(name: string, dirs: number, files: number): string {
  const dir = path.join(tmp, name);
  if (fs.existsSync(dir)) return dir;
  for (let d = 0; d < dirs; d++) {
    const sub = path.join(dir, `d${String(d).padStart(4, '0')}`);
    fs.mkdirSync(sub, { recursive: true });
    for (let f = 0; f < files; f++) fs.writeFileSync(path.join(sub, `f${f}`), '');
  }
  return dir;
}

export interface WalkResult {
  entries: LayerEntry[];
  problems: WalkProblem[];
}

/** Every entry and problem of one walk. */
export async function walkOnce(content: LayerContent, options: WalkOptions = {}): Promise<WalkResult> {
  const entries: LayerEntry[] = [];
  const problems: WalkProblem[] = [];
  for await (const e of walkLayer(content, { ...options, onProblem: (p) => problems.push(p) })) entries.push(e);
  return { entries, problems };
}

/**
 * Every entry and problem of a `stat: true` walk, after checking that a
 * `stat: false` walk of the same layer agrees with it (assertSameWalk): each
 * test layer walked with `walk` checks both.
 */
export async function walk(content: LayerContent, signal?: AbortSignal): Promise<WalkResult> {
  const full = await walkOnce(content, { signal });
  const quick = await walkOnce(content, { signal, stat: false });
  assertSameWalk(full, quick, content.form);
  assertSameWalk(full, await walkOnce(content, { signal, stat: 'not-files' }), content.form, 'not-files');
  return full;
}

/**
 * A `stat: false` walk (`quick`) against a `stat: true` one (`full`): the same
 * paths, statuses, types, targets, opaqueUnknown and problems; an entry it did
 * not lstat says so (`statted: false`, size and mode 0, no uid/gid/mtime), one
 * it did lstat (char devices, snapshot entries compared with the parent) is the
 * same as the full walk's. In the diff form it lstats no regular file. With
 * `mode` `'not-files'`, the same holds of a `stat: 'not-files'` walk, and
 * every entry but a regular file is the full walk's.
 */
export function assertSameWalk(full: WalkResult, quick: WalkResult, form: 'diff' | 'snapshot' = 'diff', mode: false | 'not-files' = false): void {
  const key = (e: LayerEntry): string[] => [...brief(e), e.opaqueUnknown ? 'opaqueUnknown' : ''];
  assert.deepEqual(quick.entries.map(key), full.entries.map(key), `stat: ${mode} yields what stat: true yields`);
  const problems = (r: WalkResult): string[] => r.problems.map((p) => JSON.stringify(p)).sort();
  assert.deepEqual(problems(quick), problems(full), `stat: ${mode} reports what stat: true reports`);
  const unsearchable = new Set(full.problems.filter((p) => p.code === 'permission-denied').map((p) => path.posix.dirname(p.path)));
  full.entries.forEach((f, k) => {
    const q = quick.entries[k];
    assert.equal(f.statted, undefined, `${f.path}: stat: true entries are statted`);
    if (q.statted === false) {
      if (mode === 'not-files') assert.equal(q.type, 'file', `${q.path}: stat: 'not-files' lstat()s all but regular files`);
      assert.equal(q.size, 0, q.path);
      assert.equal(q.mode, 0, q.path);
      assert.ok(q.uid === undefined && q.gid === undefined && q.mtimeMs === undefined, q.path);
      assert.notEqual(q.status, 'deleted', q.path);
    } else {
      assert.deepEqual(q, f, `${q.path}: an entry stat: false did lstat is the full one`);
      const readFile = form === 'diff' && q.status !== 'deleted' && q.type === 'file' && !unsearchable.has(path.posix.dirname(q.path));
      assert.ok(!readFile, `${q.path}: stat: false lstat()ed a regular file`);
    }
  });
}

/** [path, status, type(, target)] of an entry, for exact list comparisons. */
export const brief = (e: LayerEntry): string[] =>
  e.target !== undefined ? [e.path, e.status, e.type, e.target] : [e.path, e.status, e.type];

export const diffContent = (dir: string, whiteouts: 'aufs' | 'overlay', lowerDirs: string[] = []): LayerContent => ({
  dir,
  form: 'diff',
  whiteouts,
  lowerDirs,
});

/**
 * overlay2's `lower` file (`l/<short>:…`, uppermost first) as diff folders:
 * each `l/<short>` symlink is resolved by readlink + join and must stay inside `<root>/overlay2`.
 */
export function overlay2Lowers(overlay2: string, id: string): string[] {
  let text = '';
  try {
    text = fs.readFileSync(path.join(overlay2, id, 'lower'), 'utf8').trim();
  } catch {
    return [];
  }
  return text
    .split(':')
    .filter(Boolean)
    .map((rel) => {
      const link = path.join(overlay2, rel);
      assert.ok(link.startsWith(path.join(overlay2, 'l') + path.sep), `lower ${rel} is not under l/`);
      const target = path.resolve(path.dirname(link), fs.readlinkSync(link));
      assert.ok(target.startsWith(overlay2 + path.sep), `l/ link ${rel} points outside overlay2/`);
      return target;
    });
}

/** `docker diff` lines (A/C/D path) of a walk, sorted (the daemon prints them in Go map order). */
export const asDockerDiff = (entries: LayerEntry[]): string[] =>
  entries.map((e) => `${e.status === 'added' ? 'A' : e.status === 'deleted' ? 'D' : 'C'} ${e.path}`).sort();

export const truthLines = (file: string): string[] =>
  fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).sort();
