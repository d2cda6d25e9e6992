/**
 * The corpus of broken and hostile roots (test/fixtures/makeHostile.mjs,
 * `hostile` in DLE_TEST_ROOTS) in the real extension. For each case: the
 * root is configured; the tree (or, for a layer's files, the Layer Files
 * view) shows the problem on the named item with its cause; every image the
 * manifest lists is still there; every step's JSON document reads or says why
 * it cannot; the Layer JSON editor opens on the case's image; the case's layer
 * lists its files (progress and a working Cancel on the 1,000,000-entry
 * folder); the hostile entries open in place or say why, promptly (a FIFO
 * never blocks); no unhandled rejection; and the root is byte-for-byte,
 * mode-for-mode, mtime-for-mtime what it was before.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Image, Layer } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import type { FileNode } from '../../src/layerFilesTreeProvider';
import type { TreeNode } from '../../src/imagesTreeProvider';
import { jsonDocUri } from '../../src/layerUri';
import type { RenderReport } from '../../src/webview/protocol';
import { fingerprint } from '../unit/support/fingerprint';
import { names, type HostileCase } from '../unit/support/hostile';
import { api, children, label, readHostileManifest, rootSideFingerprints, testRoots, tooltipText, useRoots, waitFor, watchUnhandled } from './extensionApi';
import { after, before, suite, test } from './harness';
import { click, hasPage, inWorkbench } from './page';

const manifest = readHostileManifest();
/** How long opening an entry in place may take before it counts as blocking. */
const PROMPT_MS = 5000;

let a: ExtensionApi;

/**
 * fingerprint() of a root in a child process when the compiled helper is there
 * (npm run compile-tests): hashing a 1,000,000-entry root here would hold the
 * extension host's event loop for many seconds.
 */
async function fingerprintOf(root: string): Promise<string> {
  const helper = path.join(process.env.DLE_REPO ?? '', 'out', 'test', 'unit', 'support', 'fingerprint.js');
  if (!existsSync(helper)) return fingerprint(root);
  const script = 'process.stdout.write(require(process.argv[1]).fingerprint(process.argv[2]))';
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, helper, root], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  return stdout;
}

/** Markdown as people read it: the escapes of text from disk taken out. */
const unescapeMd = (s: string) => s.replace(/\\([\\`*_{}[\]()#+\-.!|<>&~$])/g, '$1');

/** Every label, description and tooltip of the Images tree, and the view's own description. */
async function treeTexts(): Promise<string[]> {
  const out: string[] = [String(a.imagesView.description ?? '')];
  const visit = async (node?: TreeNode): Promise<void> => {
    for (const child of await children(a, node)) {
      const item = a.imagesTree.getTreeItem(child);
      out.push(`${label(item)} ${String(item.description ?? '')} ${unescapeMd(tooltipText(item))}`);
      await visit(child);
    }
  };
  await visit();
  return out;
}

function imageByRef(store: Store, ref: string): Image | undefined {
  const hex = ref.replace(/^sha256:/, '');
  return store.images.find((i) => i.tags.includes(ref) || i.tags.includes(`docker.io/${ref}`) || i.tags.includes(`docker.io/library/${ref}`))
    ?? (/^[0-9a-f]{12,64}$/.test(hex) ? store.images.find((i) => i.id.replace(/^sha256:/, '').startsWith(hex)) : undefined);
}

/** The step the case is about: `IMAGE@N` of its command, or the one whose layer is `layer`. */
function caseStep(store: Store, c: HostileCase): { image: Image; stepIndex: number; layer?: Layer } | undefined {
  const arg = c.command[1];
  const at = arg ? /^(.*)@(\d+)$/.exec(arg) : null;
  if (at) {
    const image = imageByRef(store, at[1]);
    const stepIndex = Number(at[2]);
    if (image && image.steps[stepIndex]) return { image, stepIndex, layer: store.layer(image.steps[stepIndex].layerKey) };
  }
  const wanted = (c.layer ?? arg ?? '').replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(wanted)) return undefined;
  for (const image of store.images) {
    const stepIndex = image.steps.findIndex((s) => {
      const l = store.layer(s.layerKey);
      return l && [l.id, l.diffId].some((id) => id?.replace(/^sha256:/, '') === wanted);
    });
    if (stepIndex >= 0) return { image, stepIndex, layer: store.layer(image.steps[stepIndex].layerKey) };
  }
  return undefined;
}

/** Opens the Layer JSON editor on a step; resolves with what it drew (a document or an error state). */
async function openEditor(image: Image, stepIndex: number): Promise<RenderReport> {
  const uri = jsonDocUri(image, stepIndex);
  const rendered = new Promise<RenderReport>((resolve) => {
    const sub = a.layerJsonEditor.onDidRender((e) => {
      if (e.uri === uri.toString()) {
        sub.dispose();
        resolve(e.report);
      }
    });
  });
  await vscode.commands.executeCommand('vscode.openWith', uri, 'dockerLayers.layerJson', { preview: false });
  return waitFor(`the editor on ${image.tags[0] ?? image.id}@${stepIndex}`, () => Promise.race([rendered, new Promise<undefined>((r) => setTimeout(() => r(undefined), 200))]), 30_000);
}

/** Lists the step's layer in the Layer Files view; the 1,000,000-entry one is cancelled from its notification. */
async function listFiles(step: { image: Image; stepIndex: number }, c: HostileCase): Promise<string[]> {
  const shown = a.layerFiles.show({ kind: 'step', image: step.image, stepIndex: step.stepIndex });
  if (c.slow) {
    // Progress while it streams: the view's message counts the entries.
    const progress = await waitFor('progress in the Layer Files view', async () => {
      const m = a.layerFiles.view?.message ?? '';
      return (a.layerFiles.load?.entries ?? 0) > 20_000 && /Listing… [\d,]+ entries/.test(m) ? m : undefined;
    }, 60_000);
    console.log(`    ${c.name}: ${progress}`);
    if (hasPage) {
      // The notification that offers Cancel (shown once a walk takes over a second).
      await waitFor('the Cancel button of the listing notification', async () => {
        await click('.notifications-toasts .notification-toast .monaco-button, .notifications-toasts .action-label', 'Cancel').catch(() => undefined);
        return a.layerFiles.load?.done ? true : undefined;
      }, 30_000);
    } else {
      a.layerFiles.load?.controller.abort();
    }
  }
  await shown;
  await a.layerFiles.idle();
  const load = a.layerFiles.load!;
  if (c.slow) {
    assert.equal(load.cancelled, true, 'the listing was cancelled');
    assert.match(a.layerFiles.view?.message ?? '', /Cancelled after [\d,]+ entries/);
  }
  return [load.error ?? '', ...load.problems, a.layerFiles.view?.message ?? ''];
}

/** Opens an entry in place; it must settle within PROMPT_MS: an editor, or an error message. */
async function openInPlace(node: FileNode): Promise<string> {
  const started = Date.now();
  const done = vscode.commands.executeCommand('dockerLayers.openLayerFile', node);
  const settled = await Promise.race([done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), PROMPT_MS))]);
  assert.ok(settled, `opening ${JSON.stringify(node.path)} (${node.type}) did not settle within ${PROMPT_MS} ms`);
  return `${node.path}: ${Date.now() - started} ms`;
}

suite('Hostile roots', () => {
  before(async () => {
    a = await api();
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await useRoots(a, undefined);
  });

  if (typeof manifest === 'string') {
    // Not made (not root): skipped. Announced but unreadable: a failure that says so.
    if (!testRoots.hostile) test.skip(manifest, () => undefined);
    else test('the corpus', () => assert.fail(manifest));
    return;
  }

  // The live cases (a layer removed while it is walked) change their root: hostileLayerRemoved.test.ts.
  for (const c of manifest.cases.filter((x) => !x.live)) {
    // A case for another user runs in a host started as that user (`--user nobody`), which cannot read the
    // whole root: scripts/testIntegration.mjs, as root, fingerprints it before that host starts and after it stops.
    const otherUser = c.user !== undefined;
    const skip = otherUser && process.getuid?.() !== c.user?.uid;
    test(c.name, async () => {
      const watch = watchUnhandled();
      const clock = Date.now();
      const phases: string[] = [];
      const phase = (name: string) => phases.push(`${name} ${Date.now() - clock} ms`);
      const before = otherUser ? undefined : await fingerprintOf(c.root);
      phase('fingerprint');
      let problemAt: string[] = [];
      try {
        const store = await useRoots(a, [c.root]);
        const texts = await treeTexts();
        phase('load and tree');

        // One broken item never hides the rest.
        const missing = c.images.filter((ref) => !imageByRef(store, ref));
        assert.deepEqual(missing, [], `${c.name}: images still listed`);

        // Every step's JSON document: read, or a reason (title and message), never a throw.
        let documents = 0;
        for (const image of store.images) {
          for (let i = 0; i < image.steps.length; i++) {
            const loaded = await a.layerJsonEditor.documentFor(jsonDocUri(image, i)).load();
            assert.ok(loaded.view || (loaded.error?.title && loaded.error.message), `${image.tags[0] ?? image.id}@${i}: a document or a reason`);
            documents++;
          }
        }
        phase('documents');

        const step = caseStep(store, c);
        const subjectImage = step?.image ?? imageByRef(store, c.command[1] ?? '') ?? store.images[0];
        if (subjectImage) {
          const report = await openEditor(subjectImage, subjectImage.steps.length - 1);
          assert.ok(report.state === 'document' || report.error, 'the editor shows the document or why not');
          await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        }
        phase('editor');

        let fileTexts: string[] = [];
        if (step?.layer && (c.command[0] === 'files' || c.layer)) {
          fileTexts = await listFiles(step, c);
          phase('files');
          const load = a.layerFiles.load!;
          if (c.expect === 'listed' && c.command[0] === 'files' && !c.slow) {
            assert.ok(load.listing?.tree.get(c.subject), `${c.subject} is listed`);
          }
          // The hostile entries (root level) open in place, or say why, promptly.
          const opened: string[] = [];
          for (const entry of load.listing && !c.slow ? load.listing.children('/') : []) {
            if (entry.type === 'dir' || ('status' in entry && entry.status === 'deleted')) continue;
            const node: FileNode = { kind: 'file', gen: load.gen, entry, path: entry.path, type: entry.type, target: entry.target, layerKey: step.layer.key, imageKey: step.image.key };
            opened.push(await openInPlace(node));
          }
          await vscode.commands.executeCommand('workbench.action.closeAllEditors');
          if (opened.length) console.log(`    ${c.name}: opened ${opened.length} entries (${opened.slice(0, 4).join(', ')}${opened.length > 4 ? ', …' : ''})`);
        }

        if (c.expect === 'problem') {
          problemAt = [...texts, ...fileTexts].filter((t) => t.includes(c.message) && names(t, c.subject));
          assert.ok(problemAt.length > 0, `${c.name}: no message names ${c.subject} with "${c.message}"; the tree says:\n${[...texts, ...fileTexts].filter(Boolean).map((t) => t.slice(0, 200)).slice(0, 12).join('\n')}`);
        } else if (c.command[0] !== 'files') {
          assert.ok(store.images.some((i) => names(i.id, c.subject) || i.tags.includes(c.subject)) || texts.some((t) => names(t, c.subject)), `${c.subject} is listed`);
        }
        console.log(`    ${c.name}: ${store.images.length} images, ${documents} documents${problemAt.length ? `; shown as: ${problemAt[0].slice(0, 160).replace(/\n/g, ' ')}` : ''}`);
      } finally {
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        const seen = watch.stop();
        if (before === undefined) assert.ok(rootSideFingerprints.has(c.root), `${c.name}: fingerprinted by scripts/testIntegration.mjs --user (as root)`);
        else assert.equal(await fingerprintOf(c.root), before, `${c.name}: the root is unchanged`);
        phase('fingerprint again');
        if (c.slow) console.log(`    ${c.name}: ${phases.join(', ')}`);
        assert.deepEqual(seen, [], 'no unhandled rejection or uncaught error');
      }
      if (hasPage) assert.equal(await inWorkbench(() => document.documentElement.dataset.pwned ?? null), null);
    }, { skip, timeout: c.slow ? 240_000 : 90_000 });
  }
});
