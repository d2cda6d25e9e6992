/**
 * The Layer JSON editor inside a real VS Code, on the project's real overlay2
 * root and on legacy roots made here: what the webview reports it drew
 * (provider.onDidRender) against what the core computes on the same texts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { shortStep } from '../../src/core/format';
import { diffJson, type JsonChange } from '../../src/core/jsonDiff';
import type { Image } from '../../src/core/model';
import type { Store } from '../../src/core/store';
import type { ExtensionApi } from '../../src/extension';
import { displayText } from '../../src/layerJsonText';
import { jsonDocUri } from '../../src/layerUri';
import type { RenderedEvent } from '../../src/layerJsonEditorProvider';
import type { RenderReport } from '../../src/webview/protocol';
import { after, before, suite, test } from './harness';

const roots: { overlay2?: string } = JSON.parse(process.env.DLE_TEST_ROOTS ?? '{}');
const EXTENSION_ID = 'docker-layer-explorer.docker-layer-explorer';
const VIEW_TYPE = 'dockerLayers.layerJson';
/** The budget from openWith to the first painted frame of a 1 MB config with its diff. */
const BIG_BUDGET_MS = 300;

let a: ExtensionApi;
let store: Store;
const temp: string[] = [];

async function api(): Promise<ExtensionApi> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.activate();
}

const closeAll = () => vscode.commands.executeCommand('workbench.action.closeAllEditors');
const activeInput = () => vscode.window.tabGroups.activeTabGroup.activeTab?.input;

/** The next report for `uri` that satisfies `ok` (subscribe before acting, then act). */
function nextReport(uri: vscode.Uri, ok: (r: RenderReport) => boolean = () => true, ms = 15_000): Promise<RenderReport> {
  return nextRender(uri, ok, ms).then((e) => e.report);
}

/** The same, with the host's timings of that webview. */
function nextRender(uri: vscode.Uri, ok: (r: RenderReport) => boolean = () => true, ms = 15_000): Promise<RenderedEvent> {
  const key = uri.toString();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no matching render of ${uri.toString(true)} within ${ms} ms; last: ${JSON.stringify(a.layerJsonEditor.lastRendered(uri))?.slice(0, 400)}`));
    }, ms);
    const sub = a.layerJsonEditor.onDidRender((e) => {
      if (e.uri !== key || !ok(e.report)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(e);
    });
  });
}

interface Opened {
  readonly report: RenderReport;
  /** openWith → the webview's report of its first painted frame. */
  readonly ms: number;
  /** The same without VS Code's making of the webview (resolveCustomEditor → `ready`). */
  readonly oursMs: number;
  readonly event: RenderedEvent;
}

/** Opens the editor on `uri`; resolves with what it drew and how long that took. */
async function open(uri: vscode.Uri, state: RenderReport['state'] = 'document'): Promise<Opened> {
  const rendered = nextRender(uri, (r) => r.state === state);
  const started = Date.now();
  await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE, { preview: false });
  const event = await rendered;
  const ms = Date.now() - started;
  return { report: event.report, ms, oursMs: ms - event.resolveToReadyMs, event };
}

function timing(o: Opened): string {
  const t = o.report.timings;
  return (
    `openWith → painted ${o.ms} ms = VS Code making the webview ${o.event.resolveToReadyMs} ms + the rest ${o.oursMs} ms ` +
    `(ready → painted ${o.event.readyToRenderedMs} ms; host read ${t.readMs} ms, indent ${t.formatMs} ms, diff ${t.diffMs} ms; ` +
    `webview draw ${t.drawMs} ms, document → painted ${t.loadToPaintMs} ms; ${o.report.domRows} rows in the DOM)`
  );
}

/** What the core says the view must show: the texts as shown and diffJson over them. */
async function expected(image: Image, stepIndex: number): Promise<{ text: string; parent?: string; changes: JsonChange[] }> {
  const doc = await store.document({ image, stepIndex });
  const parentDoc = await store.parentDocument({ image, stepIndex });
  const text = displayText(doc.text).text;
  const parent = parentDoc ? displayText(parentDoc.text).text : undefined;
  return { text, parent, changes: diffJson(parent, text) };
}

function lineAt(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/** The report's changes equal the core's: same paths and kinds, same lines, same marked text. */
function assertSameChanges(report: RenderReport, want: { text: string; parent?: string; changes: JsonChange[] }): void {
  assert.deepEqual(
    report.changes.map((c) => `${c.kind} ${c.display}`),
    want.changes.map((c) => `${c.change} ${c.display}`),
  );
  want.changes.forEach((c, i) => {
    const got = report.changes[i];
    if (c.change === 'removed') {
      const r = c.parentRange!;
      assert.ok(got.text.includes(want.parent!.slice(r.offset, r.offset + r.length).split('\n')[0]), `${c.display}: the parent's text is drawn`);
      assert.equal(got.line, lineAt(want.text, c.anchorOffset!), `${c.display}: drawn after its anchor line`);
    } else {
      const r = c.childRange!;
      const [from, len] = c.change === 'added' ? [r.offset, r.length] : [r.valueOffset, r.valueLength];
      assert.equal(got.text, want.text.slice(from, from + len), `${c.display}: the marked text`);
      assert.equal(got.line, lineAt(want.text, from), `${c.display}: the line`);
    }
  });
  const count = (k: JsonChange['change']) => want.changes.filter((c) => c.change === k).length;
  assert.deepEqual(report.summary, { added: count('added'), changed: count('changed'), removed: count('removed') });
  assert.equal(report.lines, want.text.split('\n').length);
}

function appImage(): Image {
  const image = store.images.find((i) => i.tags.includes('dle/app:1'));
  assert.ok(image, 'dle/app:1 is in the overlay2 root');
  return image;
}

/** The last step of `image` whose Dockerfile instruction is `instruction`. */
function stepOf(image: Image, instruction: string): number {
  for (let i = image.steps.length - 1; i >= 0; i--) if (shortStep(image.steps[i].createdBy).startsWith(`${instruction} `)) return i;
  throw new Error(`${image.tags[0]} has no ${instruction} step`);
}

suite('Layer JSON editor', () => {
  before(async () => {
    if (!roots.overlay2) throw new Error('the overlay2 project root was not made (run as root)');
    a = await api();
    await vscode.workspace.getConfiguration('dockerLayers').update('roots', [roots.overlay2], vscode.ConfigurationTarget.Global);
    store = await a.service.reload();
  });

  after(async () => {
    await closeAll();
    await vscode.workspace.getConfiguration('dockerLayers').update('roots', undefined, vscode.ConfigurationTarget.Global);
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
  });

  const instructions: [string, (c: string[]) => void][] = [
    ['ENV', (c) => assert.ok(c.includes('added config.Env[1]') && c.includes('added config.Env[2]'), 'ENV A=1 B=2 adds two variables')],
    ['USER', (c) => assert.ok(c.includes('changed config.User'), 'USER 1000 changes config.User')],
    ['ENTRYPOINT', (c) => assert.ok(c.includes('changed config.Entrypoint'), 'ENTRYPOINT changes config.Entrypoint')],
    ['CMD', (c) => assert.ok(c.includes('changed config.Cmd'), 'CMD changes config.Cmd')],
  ];
  for (const [instruction, check] of instructions) {
    test(`the ${instruction} step of dle/app:1 shows exactly the changes the core computes`, async () => {
      const image = appImage();
      const stepIndex = stepOf(image, instruction);
      const opened = await open(jsonDocUri(image, stepIndex));
      const { report } = opened;
      console.log(`    ${instruction} (step ${stepIndex}): ${report.changes.length} changes; ${timing(opened)}`);
      assertSameChanges(report, await expected(image, stepIndex));
      check(report.changes.map((c) => `${c.kind} ${c.display}`));
      assert.ok(activeInput() instanceof vscode.TabInputCustom && (activeInput() as vscode.TabInputCustom).viewType === VIEW_TYPE);
      await closeAll();
    });
  }

  test('a tree row opens its step; the parent link opens the step below in the same editor', async () => {
    const image = appImage();
    const stepIndex = stepOf(image, 'USER');
    const uri = jsonDocUri(image, stepIndex);
    const rendered = nextReport(uri, (r) => r.state === 'document');
    await vscode.commands.executeCommand('dockerLayers.openLayerJson', { kind: 'step', image, stepIndex });
    await rendered;
    const parentUri = jsonDocUri(image, stepIndex - 1);
    const parentRendered = nextReport(parentUri, (r) => r.state === 'document');
    assert.ok(a.layerJsonEditor.runAction(uri, 'openParent'), 'the view got the action');
    assertSameChanges(await parentRendered, await expected(image, stepIndex - 1));
    const input = activeInput();
    assert.ok(input instanceof vscode.TabInputCustom && input.viewType === VIEW_TYPE, 'a Layer JSON editor is active');
    assert.equal(input.uri.toString(), parentUri.toString());
    await closeAll();
  });

  test('step 0 is a base layer: no changes, nothing to open below it', async () => {
    const image = appImage();
    const { report } = await open(jsonDocUri(image, 0));
    assert.equal(report.changes.length, 0);
    assert.ok(report.lines > 10, 'its document is drawn');
    await closeAll();
  });

  test('next change, only changes and the restored state after the webview is rebuilt', async () => {
    const image = appImage();
    const stepIndex = stepOf(image, 'ENV');
    const uri = jsonDocUri(image, stepIndex);
    const { report } = await open(uri);
    assert.equal(report.current, -1);
    let r = nextReport(uri, (x) => x.current === 1);
    a.layerJsonEditor.runAction(uri, 'nextChange');
    a.layerJsonEditor.runAction(uri, 'nextChange');
    await r;
    r = nextReport(uri, (x) => x.onlyChanges);
    a.layerJsonEditor.runAction(uri, 'toggleOnlyChanges');
    const folded = await r;
    assert.ok(folded.rows < report.rows, `only changes: ${folded.rows} rows of ${report.rows}`);
    // Another editor in front: the hidden webview is dropped (retainContextWhenHidden: false);
    // shown again, it is rebuilt from its saved state.
    await new Promise((res) => setTimeout(res, 400)); // state is saved 150 ms after a change
    await vscode.commands.executeCommand('vscode.openWith', jsonDocUri(image, 0), VIEW_TYPE, { preview: false });
    r = nextReport(uri, (x) => x.state === 'document');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE, { preview: false });
    const restored = await r;
    assert.equal(restored.current, 1, 'the focused change survives');
    assert.equal(restored.onlyChanges, true, 'only changes survives');
    await closeAll();
  });

  test('copy path and copy value of the focused change; a second editor on the same step', async () => {
    const image = appImage();
    const stepIndex = stepOf(image, 'ENV');
    const uri = jsonDocUri(image, stepIndex);
    const { report } = await open(uri);
    const first = report.changes[0];
    assert.equal(first.display, 'config.Env[1]');
    const focused = nextReport(uri, (x) => x.current === 0);
    a.layerJsonEditor.runAction(uri, 'nextChange');
    await focused;
    await vscode.env.clipboard.writeText('');
    a.layerJsonEditor.runAction(uri, 'copyPath');
    await waitForClipboard('config.Env[1]');
    a.layerJsonEditor.runAction(uri, 'copyValue');
    await waitForClipboard('A=1');
    // supportsMultipleEditorsPerDocument: a split shows the same document in a second webview.
    const second = nextReport(uri, (x) => x.state === 'document' && x.current === -1);
    await vscode.commands.executeCommand('workbench.action.splitEditor');
    assert.deepEqual((await second).changes, report.changes);
    assert.equal(vscode.window.tabGroups.all.length, 2);
    await closeAll();
  });

  test('Open as Text shows the same JSON in a text editor', async () => {
    const image = appImage();
    const stepIndex = stepOf(image, 'ENTRYPOINT');
    const uri = jsonDocUri(image, stepIndex);
    await open(uri);
    await vscode.commands.executeCommand('dockerLayers.openLayerJsonAsText', uri);
    const editor = vscode.window.activeTextEditor;
    assert.ok(editor, 'a text editor is active');
    assert.equal(editor.document.languageId, 'json');
    const doc = await store.document({ image, stepIndex });
    assert.deepEqual(JSON.parse(editor.document.getText()), JSON.parse(doc.text));
    await closeAll();
  });

  test('a corrupt layer JSON shows an error state that names the cause', async () => {
    const root = legacyRoot([{ id: hex('c0'), json: '{"id":"' + hex('c0') + '","created":"2020-01-01T00:00:00Z","config":{"Env":["A=1",' }]);
    const uri = vscode.Uri.file(path.join(root, 'graph', hex('c0'), 'json'));
    const { report } = await open(uri, 'error');
    assert.equal(report.state, 'error');
    assert.match(report.error ?? '', /corrupt/i);
    assert.match(report.error ?? '', /line 1, column \d+/);
    await closeAll();
  });

  test('a 1 MB legacy layer JSON with its diff is drawn within the budget', async () => {
    const parentId = hex('b1');
    const childId = hex('b2');
    const { parent, child } = bigDocuments(parentId, childId);
    assert.ok(child.length >= 1_000_000, `the child is ${child.length} bytes`);
    const root = legacyRoot([
      { id: parentId, json: parent },
      { id: childId, json: child, tag: 'big/app:1' },
    ]);
    const uri = vscode.Uri.file(path.join(root, 'graph', childId, 'json'));
    const first = await open(uri);
    await closeAll();
    const second = await open(uri);
    console.log(`    1 MB config, ${child.length} bytes, ${second.report.lines} lines, ${second.report.changes.length} changes`);
    console.log(`    first open (its root read ad hoc): ${timing(first)}`);
    console.log(`    again: ${timing(second)}`);
    assert.equal(second.report.changes.length, diffJson(displayText(parent).text, displayText(child).text).length);
    assert.ok(second.report.domRows < 300, 'only the rows in view are in the DOM');
    const t = second.report.timings;
    assert.ok(t.readMs + t.formatMs + t.diffMs <= BIG_BUDGET_MS, 'the host reads, indents and diffs within the budget');
    // VS Code's own making of a webview (its frame, service worker and our two files) is not ours to speed up:
    // everything else from openWith to the painted frame must fit the budget.
    assert.ok(second.oursMs <= BIG_BUDGET_MS, `shown ${second.oursMs} ms after openWith, VS Code's webview set-up aside (budget ${BIG_BUDGET_MS} ms)`);
    await closeAll();
  }, { timeout: 60_000 });
});

async function waitForClipboard(want: string): Promise<void> {
  const end = Date.now() + 5000;
  let got = '';
  while (Date.now() < end) {
    got = await vscode.env.clipboard.readText();
    if (got === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(got, want, 'the clipboard');
}

function hex(prefix: string): string {
  return prefix.padEnd(64, '0');
}

/** A legacy graph root (aufs) with the given graph/<id>/json files; removed after the suite. */
function legacyRoot(layers: { id: string; json: string; tag?: string }[]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'dle-json-'));
  temp.push(root);
  const repos: Record<string, Record<string, string>> = {};
  for (const l of layers) {
    mkdirSync(path.join(root, 'graph', l.id), { recursive: true });
    mkdirSync(path.join(root, 'aufs', 'diff', l.id), { recursive: true });
    writeFileSync(path.join(root, 'graph', l.id, 'json'), l.json);
    writeFileSync(path.join(root, 'graph', l.id, 'layersize'), '0');
    if (l.tag) {
      const [repo, tag] = l.tag.split(':');
      (repos[repo] ??= {})[tag] = l.id;
    }
  }
  writeFileSync(path.join(root, 'repositories-aufs'), JSON.stringify({ Repositories: repos }));
  return root;
}

/** Two one-line legacy layer JSONs of ~1 MB: the child adds, changes and removes a few keys and elements. */
function bigDocuments(parentId: string, childId: string): { parent: string; child: string } {
  const env = Array.from({ length: 9500 }, (_, i) => `VAR_${String(i).padStart(5, '0')}=value-${i}-${'x'.repeat(40)}`);
  const labels: Record<string, string> = {};
  for (let i = 0; i < 4000; i++) labels[`org.example.label.${String(i).padStart(5, '0')}`] = `label value ${i} ${'y'.repeat(60)}`;
  const doc = (id: string, parent: string | undefined, cmd: string, e: string[], l: Record<string, string>) =>
    JSON.stringify({
      id,
      ...(parent ? { parent } : {}),
      created: parent ? '2020-01-02T00:00:00Z' : '2020-01-01T00:00:00Z',
      container_config: { Cmd: ['/bin/sh', '-c', `#(nop) ${cmd}`] },
      config: { Env: e, Labels: l, Cmd: ['sh'], User: parent ? '1000' : '' },
      architecture: 'amd64',
      os: 'linux',
    });
  const childEnv = [...env.slice(0, 3500), 'NEW_A=1', ...env.slice(3500), 'NEW_B=2', 'NEW_C=3'];
  childEnv[100] = 'VAR_00100=changed';
  const childLabels: Record<string, string> = { ...labels, 'org.example.label.02000': 'changed label' };
  delete childLabels['org.example.label.00010'];
  delete childLabels['org.example.label.03999'];
  return {
    parent: doc(parentId, undefined, 'ENV many', env, labels),
    child: doc(childId, parentId, 'ENV more', childEnv, childLabels),
  };
}
