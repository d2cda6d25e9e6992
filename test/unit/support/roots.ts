// Real Docker storage roots for tests: the project's own (made by
// test/fixtures/makeRoots.sh from real daemons) and the extracted
// ../shared/fixtures roots (test/fixtures/extractShared.sh). Tests only read.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestRoot {
  name: string;
  /** The data root itself (the folder holding image/, overlay2/, graph/, io.containerd.*). */
  root: string;
  /** Folder with what the daemon answered, or '' when there is none. */
  truth: string;
}

export type ProjectRootName = 'overlay2' | 'vfs' | 'containerd' | 'legacy';
export const PROJECT_ROOTS: readonly ProjectRootName[] = ['overlay2', 'vfs', 'containerd', 'legacy'];
export const SHARED_ROOTS: readonly string[] = [
  'docker20-overlay2',
  'containerd16-moby',
  'dex-aufs.v1',
  'dex-aufs.v2',
  'dex-overlay2.v2',
];

/** CI=true (or any value but '', 'false', '0'), as makeRoots.sh reads it. */
export const isCI: boolean = (() => {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
})();

/** The repo root: the nearest folder above this file that holds package.json. */
function findRepoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // out/test/unit/support -> repo
  return path.resolve(__dirname, '..', '..', '..', '..');
}

export const repoRoot: string = findRepoRoot();
const cacheDir = path.join(repoRoot, '.cache');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

const reasons = new Map<string, string>();

function readable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.R_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The file whose presence says the truth of a project root was recorded. */
const projectTruthFile: Record<ProjectRootName, string> = {
  overlay2: 'images.jsonl',
  vfs: 'images.jsonl',
  containerd: 'images.txt',
  legacy: 'expected.json',
};

/**
 * The project's own real roots. undefined when not made (whyMissing(name)
 * says why); in CI a missing root is an error, since CI runs as root and must
 * run the tests that need them.
 */
export function projectRoot(name: ProjectRootName): TestRoot | undefined {
  const root = path.join(cacheDir, 'extracted', name, 'root');
  const truth = path.join(cacheDir, 'roots', 'truth', name);
  const stamp = path.join(cacheDir, 'extracted', name, '.stamp');
  let reason = '';
  if (!(name in projectTruthFile)) {
    reason = `"${name}" is not one of the project's roots (${PROJECT_ROOTS.join(', ')})`;
  } else if (!isDir(root) || !fs.existsSync(stamp)) {
    reason = isRoot
      ? `the real ${name} root is not made yet (${path.relative(repoRoot, root)} missing): run \`bash test/fixtures/makeRoots.sh\``
      : `the real ${name} root needs root to make: run \`sudo bash test/fixtures/makeRoots.sh\``;
  } else if (!readable(root)) {
    reason = `the real ${name} root was made by root and is not readable by this user: run the tests as root`;
  } else if (!fs.existsSync(path.join(truth, projectTruthFile[name]))) {
    reason = `the truth of the ${name} root is missing (${path.relative(repoRoot, truth)}): run \`bash test/fixtures/makeRoots.sh\``;
  }
  if (reason) {
    reasons.set(name, reason);
    if (isCI) throw new Error(`CI: ${reason}`);
    return undefined;
  }
  reasons.delete(name);
  return { name, root, truth };
}

/**
 * An extracted ../shared/fixtures root: root = the inner data root
 * (.../root or .../docker), truth = the inner truth-* folder of
 * <name>.truth, or '' when that root has no truth archive.
 */
export function sharedRoot(name: string): TestRoot | undefined {
  const base = path.join(cacheDir, 'extracted', 'shared');
  const dir = path.join(base, name);
  let reason = '';
  let root = '';
  if (!SHARED_ROOTS.includes(name)) {
    reason = `"${name}" is not one of the shared roots (${SHARED_ROOTS.join(', ')})`;
  } else if (!isDir(dir)) {
    reason = fs.existsSync(path.join(repoRoot, '..', 'shared', 'fixtures', 'README.md'))
      ? `the shared root ${name} is not extracted: run \`${isRoot ? '' : 'sudo '}bash test/fixtures/extractShared.sh\``
      : `../shared/fixtures is not beside the repo, so the shared root ${name} is not available`;
  } else {
    root = ['root', 'docker'].map((d) => path.join(dir, d)).find(isDir) ?? '';
    if (!root) reason = `${path.relative(repoRoot, dir)} holds neither root/ nor docker/`;
    else if (!readable(root)) reason = `the shared root ${name} was extracted by root and is not readable by this user: run the tests as root`;
  }
  if (reason) {
    reasons.set(name, reason);
    return undefined;
  }
  let truth = '';
  const truthDir = path.join(base, `${name}.truth`);
  if (isDir(truthDir)) {
    const inner = fs.readdirSync(truthDir).find((n) => n.startsWith('truth-') && isDir(path.join(truthDir, n)));
    truth = inner ? path.join(truthDir, inner) : truthDir;
  }
  reasons.delete(name);
  return { name, root, truth };
}

/** A sentence for t.skip(): why projectRoot(name) / sharedRoot(name) gave undefined. */
export function whyMissing(name: string): string {
  const known = reasons.get(name);
  if (known) return known;
  if ((PROJECT_ROOTS as readonly string[]).includes(name)) {
    return isRoot
      ? `the real ${name} root is not made: run \`bash test/fixtures/makeRoots.sh\``
      : `the real ${name} root needs root to make: run \`sudo bash test/fixtures/makeRoots.sh\``;
  }
  if (SHARED_ROOTS.includes(name)) {
    return `the shared root ${name} is not extracted: run \`bash test/fixtures/extractShared.sh\` (as root)`;
  }
  return `no test root named "${name}"`;
}
