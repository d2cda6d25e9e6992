/**
 * Helpers for the containerd tests (bbolt, containerd, containerdProject):
 * `ctr … ls` tables, the content store's blobs, and scratch folders.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The part of a node:test context that can skip. */
export type SkipCtx = { skip: (message: string) => void };

/** Rows of a `ctr … ls` table, split on runs of white space (the header dropped). */
export function ctrTable(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/));
}

/**
 * containerd16-moby's `ctr` truth must be there once the root is extracted:
 * a root extracted without it is a broken extraction, which fails rather than skips.
 */
export function assertMobyCtrTruth(truth: string): void {
  assert.ok(existsSync(path.join(truth, 'images.txt')), `containerd16-moby is extracted but its ctr truth is not (truth folder: "${truth}")`);
}

/** The file of a blob in a containerd root's content store, read here without the reader. */
export const blobFile = (root: string, digest: string): string =>
  path.join(root, 'io.containerd.content.v1.content', 'blobs', 'sha256', digest.replace(/^sha256:/, ''));

/** A blob parsed as JSON (a manifest, an index, a config). */
export const blobJson = (root: string, digest: string) => JSON.parse(readFileSync(blobFile(root, digest), 'utf8'));

/** A fresh temporary folder (named `<prefix>-…`), removed when the test ends. */
export function scratch(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
