/**
 * A workspace cannot point the extension anywhere: a root named in the
 * workspace's .vscode/settings.json is not read (VS Code drops `machine`
 * settings from workspaces, and settings.ts reads user settings only), while a
 * harmless setting in the same file is; every setting that names a path or a
 * command is machine- or application-scoped; and what package.json declares
 * for untrusted and virtual workspaces says how the extension behaves.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID, api, children, label, testRoots, useRoots, waitFor } from './extensionApi';
import { after, suite, test } from './harness';

interface SettingSchema {
  type?: string | string[];
  scope?: string;
  description?: string;
  markdownDescription?: string;
}

/** The last part of a setting's name says whether it names something on the machine. */
const NAMES_A_PATH_OR_COMMAND = /(roots?|paths?|dirs?|director(y|ies)|folders?|files?|commands?|executables?|programs?|binar(y|ies)|bin|tools?|shell)$/i;

function manifest(): { capabilities?: Record<string, { supported?: unknown; description?: string }>; extensionKind?: string[]; contributes?: { configuration?: { properties?: Record<string, SettingSchema> } } } {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.packageJSON;
}

suite('Trust', () => {
  let settingsDir: string | undefined;

  after(async () => {
    if (settingsDir) rmSync(settingsDir, { recursive: true, force: true });
    await useRoots(await api(), undefined);
  });

  test('every setting that names a path or a command is machine- or application-scoped', () => {
    const props = manifest().contributes?.configuration?.properties ?? {};
    const named = Object.entries(props).filter(([key]) => NAMES_A_PATH_OR_COMMAND.test(key.split('.').pop() ?? ''));
    assert.ok(named.some(([key]) => key === 'dockerLayers.roots'), 'dockerLayers.roots is among them');
    for (const [key, schema] of named) {
      assert.ok(['machine', 'application'].includes(schema.scope ?? ''), `${key} has scope ${schema.scope ?? '(none: window)'}: a workspace could set it`);
      assert.match(`${schema.markdownDescription ?? ''} ${schema.description ?? ''}`, /user settings/i, `${key} says where it is read from`);
    }
  });

  test('untrusted and virtual workspaces: supported, and the descriptions say why', () => {
    const m = manifest();
    const untrusted = m.capabilities?.untrustedWorkspaces;
    const virtual = m.capabilities?.virtualWorkspaces;
    // Fully supported (not "limited"): no setting a workspace can change names a path or a command (above).
    assert.equal(untrusted?.supported, true);
    assert.match(untrusted?.description ?? '', /user settings/i);
    assert.match(untrusted?.description ?? '', /never (runs|reads)/i);
    assert.equal(virtual?.supported, true);
    assert.match(virtual?.description ?? '', /machine where the extension runs/i);
    // It reads the Docker root of the machine it runs on, so it runs beside the workspace (remote side).
    assert.deepEqual(m.extensionKind, ['workspace']);
  });

  test(".vscode/settings.json cannot add a root; a window setting beside it is read", async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the suite runs with a workspace folder');
    const planted = testRoots.legacy ?? testRoots.overlay2;
    if (!planted) throw new Error('no project root was made (run as root)');
    const a = await api();
    const mine = testRoots.overlay2 ?? planted;
    await useRoots(a, [mine]);
    const config = () => vscode.workspace.getConfiguration('dockerLayers');
    const before = config().inspect<boolean>('showIntermediateImages')?.workspaceValue;
    assert.equal(before, undefined, 'the workspace sets nothing yet');

    settingsDir = path.join(folder.uri.fsPath, '.vscode');
    mkdirSync(settingsDir, { recursive: true });
    writeFileSync(path.join(settingsDir, 'settings.json'), JSON.stringify({
      'dockerLayers.roots': [planted, '/'],
      'dockerLayers.showIntermediateImages': true,
    }, null, 2));
    // VS Code has read the file once the window-scoped setting shows up as the workspace's.
    await waitFor('VS Code reads the workspace settings', async () => config().inspect<boolean>('showIntermediateImages')?.workspaceValue === true, 15_000);

    const roots = config().inspect<string[]>('roots');
    assert.equal(roots?.workspaceValue, undefined, 'VS Code does not hand a machine setting from a workspace');
    assert.equal(roots?.workspaceFolderValue, undefined);
    assert.deepEqual(a.service.roots, [path.resolve(mine)], 'the roots are the user\'s only');
    const store = await a.service.reload();
    assert.deepEqual(store.roots.map((r) => r.root), [path.resolve(mine)]);
    const shown = (await children(a)).map((n) => label(a.imagesTree.getTreeItem(n)));
    assert.deepEqual(shown, [path.resolve(mine)], 'the tree shows no root the workspace named');

    rmSync(settingsDir, { recursive: true, force: true });
    settingsDir = undefined;
    await waitFor('VS Code forgets the workspace settings', async () => config().inspect<boolean>('showIntermediateImages')?.workspaceValue === undefined, 15_000);
  }, { timeout: 40_000 });
});
