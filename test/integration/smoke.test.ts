// The extension as installed is present, activates and hands the tests its API.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { suite, test } from './harness';

const EXTENSION_ID = 'docker-layer-explorer.docker-layer-explorer';

suite('smoke', () => {
  test('the extension is installed', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not among ${vscode.extensions.all.length} extensions`);
    console.log(`VS Code ${vscode.version} (${vscode.env.uiKind === vscode.UIKind.Web ? 'web' : 'desktop'}), `
      + `extension ${ext.packageJSON.version} at ${ext.extensionPath}`);
  });

  test('it activates and returns its API', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const api: unknown = await ext.activate();
    assert.ok(ext.isActive);
    assert.notEqual(api, undefined, 'activate() returned nothing');
    assert.equal(ext.exports, api);
  });
});
