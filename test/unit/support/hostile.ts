/**
 * The corpus of broken and hostile roots made by test/fixtures/makeHostile.mjs
 * (its manifest format is described at the top of that script): read here, made
 * first when missing (as root), and helpers to check a message against a case.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after } from 'node:test';
import { Store } from '../../../src/core/store';
import { repoRoot } from './roots';

export interface HostileCase {
  name: string;
  layout: 'overlay2' | 'vfs' | 'containerd' | 'legacy';
  root: string;
  damage: string;
  damaged: string[];
  expect: 'problem' | 'listed';
  subject: string;
  message: string;
  images: string[];
  command: string[];
  exit: number;
  layer?: string;
  user?: { uid: number; gid: number };
  live?: 'remove-layer-during-walk';
  slow?: true;
  /** A file whose name is not valid UTF-8: its mapped path, how people see it (`\xNN`), its content. */
  rawName?: { path: string; shown: string; text: string };
}

export interface HostileManifest {
  version: number;
  key: string;
  cases: HostileCase[];
}

export const hostileDir = path.join(repoRoot, '.cache', 'hostile');
const generator = path.join(repoRoot, 'test', 'fixtures', 'makeHostile.mjs');
export const cliBundle = path.join(repoRoot, 'dist', 'cli.js');

let cached: HostileManifest | string | undefined;

/** The manifest, or a sentence saying why the corpus is not there (for t.skip). */
export function hostileCorpus(): HostileManifest | string {
  if (cached) return cached;
  if (process.getuid?.() !== 0) return (cached = 'the hostile corpus is made and read as root (device nodes, root-only roots): run the tests as root');
  try {
    // Cached by the generator itself: a no-op when its key matches.
    execFileSync(process.execPath, [generator, hostileDir], { stdio: 'pipe' });
    return (cached = JSON.parse(fs.readFileSync(path.join(hostileDir, 'manifest.json'), 'utf8')) as HostileManifest);
  } catch (err) {
    return (cached = `the hostile corpus could not be made: ${(err as { stderr?: Buffer }).stderr?.toString() || String(err)}`);
  }
}

/** Fails the file's tests at the end if any promise rejection was left unhandled while they ran. */
export function failOnUnhandledRejections(): void {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => void rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  after(() => {
    process.off('unhandledRejection', onRejection);
    assert.deepEqual(rejections, [], 'no promise rejection is left unhandled');
  });
}

/** True when `text` names `subject`: its hex (or first 12 hex digits) for an id, else the subject itself. */
export function names(text: string, subject: string): boolean {
  const hex = subject.replace(/^sha256:/, '');
  return text.includes(hex) || (/^[0-9a-f]{64}$/.test(hex) && text.includes(hex.slice(0, 12)));
}

/** One case's message found among `messages`: it names the subject and holds the expected text. */
export function findMessage(messages: readonly string[], c: HostileCase): string | undefined {
  return messages.find((m) => names(m, c.subject) && m.includes(c.message));
}

/** Every problem message the store holds: unreadable roots, sources, images, layers, containers. */
export function storeMessages(store: Store): string[] {
  return [
    ...store.roots.flatMap((r) => (r.error ? [r.error] : [])),
    ...store.problems,
    ...store.images.flatMap((i) => i.problems),
    ...store.layers.flatMap((l) => l.problems),
    ...store.containers.flatMap((c) => c.problems),
  ].map((p) => p.message);
}

/** The refs `images -a` lists: tags, digests and ids (with and without `sha256:`). */
export function listedRefs(store: Store): Set<string> {
  return new Set(store.images.flatMap((i) => [...i.tags, ...i.digests, i.id, i.id.replace(/^sha256:/, '')]));
}

export interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The built CLI in a child process, as the case's user when it names one (setpriv drops root's rights). */
export function runCliChild(c: HostileCase, args: readonly string[], timeoutMs = 30_000): ChildResult {
  const drop = c.user ? ['setpriv', `--reuid=${c.user.uid}`, `--regid=${c.user.gid}`, '--clear-groups'] : [];
  const argv = [...drop, process.execPath, cliBundle, '--root', c.root, ...args];
  const t0 = Date.now();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** Copies a case's root (cp -a) into `dir`, for tests that change it. */
export function copyRoot(c: HostileCase, dir: string): string {
  const root = path.join(dir, 'root');
  execFileSync('cp', ['-a', c.root, root]);
  return root;
}
