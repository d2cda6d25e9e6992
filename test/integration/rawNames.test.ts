/**
 * File names that are not valid UTF-8 (core/byteNames.ts) in the real host, on
 * the hostile corpus's `hostile-names` cases (a file named with the bytes
 * `bad-FF FE.txt`, in every layout): the Layer Files row shows the bytes as
 * `\xff\xfe` (in the tree item and, with a page, in the drawn row), and opening
 * it in place reads its own bytes.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension';
import type { FileNode } from '../../src/layerFilesItems';
import { parseLayerUri } from '../../src/layerUri';
import { api, label, readHostileManifest, testRoots, tooltipText, useRoots, waitFor } from './extensionApi';
import { after, before, suite, test } from './harness';
import { hasPage, inWorkbench } from './page';

const manifest = readHostileManifest();
const cases = typeof manifest === 'string' ? [] : manifest.cases.filter((c) => c.rawName && !c.user);

suite('Names that are not UTF-8', () => {
  let a: ExtensionApi;
  before(async () => void (a = await api()));
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await useRoots(a, undefined);
  });

  // Without the corpus (not made: not root) the suite is skipped; a corpus that cannot be read, or lacks the cases, fails.
  test(
    'the hostile corpus holds the cases',
    () => assert.ok(typeof manifest !== 'string' && cases.length >= 4, typeof manifest === 'string' ? manifest : `${cases.length} cases with a raw name`),
    { skip: !testRoots.hostile },
  );

  for (const c of cases) {
    const raw = c.rawName!;
    test(`${c.name}: the row shows ${raw.shown}, and the file opens with its bytes`, async () => {
      const store = await useRoots(a, [c.root]);
      const step = store.resolveStep(c.command[1]);
      a.layerFiles.setFilter(undefined);
      await a.layerFiles.setMerged(false);
      await vscode.commands.executeCommand('dockerLayers.layerFiles.focus');
      await a.layerFiles.show({ kind: 'step', image: step.image, stepIndex: step.stepIndex });
      await a.layerFiles.idle();
      assert.deepEqual(a.layerFiles.load?.problems, [], 'nothing is left out');

      const node = a.layerFiles.getChildren().find((n): n is FileNode => n.kind === 'file' && n.path === raw.path);
      assert.ok(node, `${raw.shown} is listed`);
      const item = a.layerFiles.getTreeItem(node);
      assert.equal(label(item), raw.shown.slice(1), 'the row names its bytes');
      assert.ok(tooltipText(item).includes(raw.shown), `the tooltip says ${raw.shown}: ${tooltipText(item)}`);
      if (hasPage) {
        const shown = raw.shown.slice(1);
        await waitFor(`the row ${shown}`, async () => {
          const rows = await inWorkbench((sel) => Array.from(document.querySelectorAll(sel)).map((r) => r.textContent ?? ''), '.part.sidebar .monaco-list-row');
          return rows.some((t) => t.includes(shown)) || undefined;
        });
      }

      await vscode.commands.executeCommand('dockerLayers.openLayerFile', node);
      const editor = await waitFor('the opened file', () => vscode.window.activeTextEditor);
      assert.equal(editor.document.getText(), raw.text, 'its own bytes, read through the core');
      const target = parseLayerUri(editor.document.uri);
      assert.equal(target && target.k !== 'json' ? target.path : undefined, raw.path, 'the URI carries the mapped path');
      assert.ok(editor.document.uri.path.endsWith(raw.shown), `the title shows ${raw.shown}: ${editor.document.uri.path}`);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });
  }
});
