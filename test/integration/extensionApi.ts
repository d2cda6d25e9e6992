/**
 * What the safety, trust, permission and hostile-root suites share: the
 * extension's API, roots set in user settings, tree rows as text, a copied
 * real root, and a watch on the extension's log for unhandled rejections.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { TreeNode } from '../../src/imagesTreeProvider';
import type { HostileManifest } from '../unit/support/hostile';

export const EXTENSION_ID = 'docker-layer-explorer.docker-layer-explorer';

export interface TestRoots {
  overlay2?: string;
  vfs?: string;
  containerd?: string;
  legacy?: string;
  hostile?: string;
}

export const testRoots: TestRoots = JSON.parse(process.env.DLE_TEST_ROOTS ?? '{}');

/**
 * Roots that scripts/testIntegration.mjs, as root, fingerprinted before this host
 * started and compares after it stops (DLE_ROOT_SIDE_FINGERPRINTS): a host run as
 * another user cannot read all of a root, so it cannot take the read-only check itself.
 */
export const rootSideFingerprints: ReadonlySet<string> = new Set(JSON.parse(process.env.DLE_ROOT_SIDE_FINGERPRINTS ?? '[]') as string[]);

/** The hostile corpus's manifest (test/fixtures/makeHostile.mjs), or why there is none; never throws. */
export function readHostileManifest(): HostileManifest | string {
  if (!testRoots.hostile) return 'the corpus was not made: node test/fixtures/makeHostile.mjs .cache/hostile (as root)';
  try {
    return JSON.parse(readFileSync(path.join(testRoots.hostile, 'manifest.json'), 'utf8')) as HostileManifest;
  } catch (err) {
    return `the corpus in ${testRoots.hostile} cannot be read (being made again?): ${(err as Error).message}`;
  }
}

export async function api(): Promise<ExtensionApi> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.activate();
}

/** Sets `dockerLayers.roots` in user settings (undefined: back to the default) and reads them. */
export async function useRoots(a: ExtensionApi, roots: string[] | undefined): Promise<Store> {
  await vscode.workspace.getConfiguration('dockerLayers').update('roots', roots, vscode.ConfigurationTarget.Global);
  return a.service.reload();
}

/** The extension with the project's overlay2 root (made by test/fixtures/makeRoots.sh) as its only root. */
export async function onOverlay2(): Promise<{ a: ExtensionApi; store: Store }> {
  if (!testRoots.overlay2) throw new Error('the overlay2 project root was not made (run as root)');
  const a = await api();
  return { a, store: await useRoots(a, [testRoots.overlay2]) };
}

export async function children(a: ExtensionApi, node?: TreeNode): Promise<TreeNode[]> {
  return (await a.imagesTree.getChildren(node)) ?? [];
}

export function label(item: vscode.TreeItem): string {
  return typeof item.label === 'string' ? item.label : (item.label?.label ?? '');
}

export function tooltipText(item: vscode.TreeItem): string {
  return typeof item.tooltip === 'string' ? item.tooltip : (item.tooltip?.value ?? '');
}

/** A copy of a real root (modes, owners and times kept) in a new temporary folder; returns the copy. */
export function copyRoot(source: string, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const root = path.join(dir, 'root');
  execFileSync('cp', ['-a', source, root]);
  return root;
}

export const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value that is not undefined/false, or fails after `ms`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Collects unhandled promise rejections and uncaught errors of the extension
 * host while it runs (the tests share the host with the extension). stop()
 * returns what was seen.
 */
export function watchUnhandled(): { stop(): string[] } {
  const seen: string[] = [];
  const onRejection = (reason: unknown) => seen.push(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  const onError = (err: Error) => seen.push(`uncaught exception: ${err.stack ?? err.message}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtExceptionMonitor', onError);
  return {
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtExceptionMonitor', onError);
      return seen;
    },
  };
}
