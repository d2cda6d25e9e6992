/**
 * Strings from disk that look like HTML or script stay text, in the real
 * workbench: a copy of the project's legacy graph root (where graph/<id>/json
 * is not content-addressed, so it can be edited) gets script-like strings in a
 * layer's JSON (Cmd, Env, Labels, keys too), in its parent's, in a tag and in
 * file names; the Layer JSON editor, the Images tree (and its hover) and the
 * Layer Files view must show them as text, make no element of them and run
 * none of them. Each payload would set a marker on the document if it ran.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { shortStep, truncate } from '../../src/core/format';
import type { Image } from '../../src/core/model';
import type { ExtensionApi } from '../../src/extension';
import { jsonDocUri } from '../../src/layerUri';
import type { RenderReport } from '../../src/webview/protocol';
import { api, copyRoot, sleep, testRoots, useRoots, waitFor } from './extensionApi';
import { after, before, suite, test } from './harness';
import { click, hasPage, hover, inWebviews, inWorkbench } from './page';

const mark = (name: string) => `document.documentElement.dataset.pwned='${name}'`;
/** What people paste into fields to break a page; none contains `/` unless it is only for JSON. */
const P = {
  img: `<img src=x onerror="${mark('img')}">`,
  endScript: `</script><script>${mark('endScript')}</script>`,
  script: `<script>${mark('script')}</script>`,
  js: `javascript:${mark('js')}`,
  svg: `"><svg onload="${mark('svg')}">`,
};
/** The same, usable as file names (no `/`). */
const FILE_NAMES = [P.img, P.svg, P.js, `<script>${mark('fileScript')}<\\script>`];
const TAG_REPO = `evil${P.img}`;
const TAG = P.endScript;

const VIEW_TYPE = 'dockerLayers.layerJson';

let a: ExtensionApi;
let root: string;
let image: Image;
/** The hostile image's name as the tree shows it. */
let imageName: string;

/** Writes the payloads into the copy: dle/app:1's top layer and its parent, its tag, its files. */
function poison(r: string): string {
  const repoFile = path.join(r, 'repositories-aufs');
  const repos = JSON.parse(readFileSync(repoFile, 'utf8'));
  const id: string = repos.Repositories['dle/app']['1'];
  delete repos.Repositories['dle/app']['1'];
  repos.Repositories[TAG_REPO] = { [TAG]: id };
  writeFileSync(repoFile, JSON.stringify(repos));

  const jsonOf = (layer: string) => path.join(r, 'graph', layer, 'json');
  const child = JSON.parse(readFileSync(jsonOf(id), 'utf8'));
  const parentId: string = child.parent;
  const parent = JSON.parse(readFileSync(jsonOf(parentId), 'utf8'));
  // Short documents (every line in the DOM at once): the keys that matter, the payloads in the rest.
  const small = (j: Record<string, unknown>, config: object, cmd: string[]) =>
    JSON.stringify({ id: j.id, parent: j.parent, created: j.created, container_config: { Cmd: cmd }, config, os: 'linux' });
  writeFileSync(jsonOf(parentId), small(parent, { Env: ['PATH=/bin'], Labels: { keep: '1', [P.svg]: 'removed in the child', changed: `<b>old</b>${P.img}` } }, ['/bin/sh', '-c', '#(nop) ADD x']));
  writeFileSync(jsonOf(id), small(child, {
    Cmd: ['sh', '-c', P.endScript],
    Env: ['PATH=/bin', `EVIL=${P.img}`, `J=${P.js}`],
    Labels: { keep: '1', [P.img]: P.script, changed: P.js, [P.endScript]: P.svg },
  }, ['/bin/sh', '-c', `#(nop)  LABEL ${P.svg}`]));
  for (const name of FILE_NAMES) writeFileSync(path.join(r, 'aufs', 'diff', id, name), 'hostile name\n');
  return id;
}

/** What the frame holds that a payload could have made, and whether a payload ran. */
interface DomAudit {
  rendered: string | null;
  text: string;
  pwned: string | null;
  /** Elements no view of ours makes: img, iframe, object, embed, a, form, foreign svg, scripts but ours. */
  foreign: string[];
  /** Elements with an on* attribute or a javascript: URL. */
  handlers: string[];
}

function audit(): DomAudit {
  const describeEl = (e: Element) => e.outerHTML.slice(0, 160);
  const all = Array.from(document.querySelectorAll('*'));
  const foreign = all.filter((e) => {
    const tag = e.tagName.toLowerCase();
    if (['img', 'iframe', 'object', 'embed', 'a', 'form', 'frame', 'video', 'audio'].includes(tag)) return true;
    if (tag === 'svg') return !(e.getAttribute('class') ?? '').includes('icon');
    if (tag === 'script') return e.id !== '_vscodeApiScript' && !/\/dist\/webview\.js$/.test((e as HTMLScriptElement).src);
    return false;
  });
  const handlers = all.filter((e) => Array.from(e.attributes).some((x) => /^on/i.test(x.name) || /^\s*javascript:/i.test(x.value)));
  return {
    rendered: document.body?.dataset.rendered ?? null,
    text: document.body?.textContent ?? '',
    pwned: document.documentElement.dataset.pwned ?? null,
    foreign: foreign.map(describeEl),
    handlers: handlers.map(describeEl),
  };
}

/** The editor page's policy and our script's nonce, as the frame has them. */
function cspOfPage(): { csp: string; scripts: { src: string; nonce: string }[] } {
  const meta = document.querySelector('meta[http-equiv="Content-Security-Policy"]');
  return {
    csp: meta?.getAttribute('content') ?? '',
    scripts: Array.from(document.querySelectorAll('script')).map((s) => ({ src: s.src, nonce: s.nonce ?? '' })),
  };
}

/** Hostile text in the JSON view is JSON text: quotes inside strings escaped. */
const asJson = (s: string) => JSON.stringify(s).slice(1, -1);

const needsPage = { skip: !hasPage, timeout: 60_000 };

suite('Webview safety', () => {
  before(async () => {
    if (!testRoots.legacy) throw new Error('the legacy project root was not made (run as root)');
    a = await api();
    root = copyRoot(testRoots.legacy, 'dle-hostile-strings-');
    const id = poison(root);
    const store = await useRoots(a, [root]);
    const found = store.images.find((i) => i.id.endsWith(id));
    assert.ok(found, 'the poisoned image is listed');
    image = found;
    imageName = image.tags[0];
    assert.equal(imageName, `${TAG_REPO}:${TAG}`);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await useRoots(a, undefined);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  test('the Layer JSON editor draws every payload as text: no element made, nothing run', async () => {
    const stepIndex = image.steps.length - 1;
    const uri = jsonDocUri(image, stepIndex);
    const rendered = new Promise<RenderReport>((resolve) => {
      const sub = a.layerJsonEditor.onDidRender((e) => {
        if (e.uri === uri.toString() && e.report.state === 'document') {
          sub.dispose();
          resolve(e.report);
        }
      });
    });
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE, { preview: false });
    const report = await rendered;
    const changes = report.changes.map((c) => `${c.kind} ${c.display}`);
    // The keys themselves are paths of changes: added, removed and changed with the parent's value beside.
    assert.ok(changes.includes(`added config.Labels[${JSON.stringify(P.img)}]`), changes.join('\n'));
    assert.ok(changes.includes(`removed config.Labels[${JSON.stringify(P.svg)}]`), changes.join('\n'));
    assert.ok(changes.includes('changed config.Labels.changed'), changes.join('\n'));
    assert.equal(report.domRows, report.rows, 'every row is in the DOM (the documents are kept short)');

    const [dom] = await waitFor('the webview frame', async () => {
      const frames = await inWebviews(audit);
      return frames.length === 1 && frames[0].rendered === 'document' ? frames : undefined;
    });
    // Header (image name, the step's command) as the strings themselves; the document's lines as JSON text.
    for (const s of [imageName, P.svg]) assert.ok(dom.text.includes(s), `the header shows ${s} as text`);
    for (const s of [P.img, P.endScript, P.script, P.js, P.svg]) assert.ok(dom.text.includes(asJson(s)), `the document shows ${asJson(s)} as text`);
    assert.deepEqual(dom.foreign, [], 'no element made from a payload');
    assert.deepEqual(dom.handlers, [], 'no event handler or javascript: URL in the DOM');
    assert.equal(dom.pwned, null, 'no payload ran in the webview');
    assert.equal(await inWorkbench(() => document.documentElement.dataset.pwned ?? null), null, 'nor in the workbench');
  }, needsPage);

  test("the editor's page has a strict CSP: default-src 'none', scripts only with the nonce", async () => {
    const [page] = await inWebviews(cspOfPage);
    assert.ok(page, 'the editor is visible');
    const directives = new Map(page.csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map((d) => [d[0], d.slice(1)]));
    assert.deepEqual(directives.get('default-src'), ["'none'"], page.csp);
    const scriptSrc = directives.get('script-src') ?? [];
    const nonces = scriptSrc.filter((s) => /^'nonce-[A-Za-z0-9+/=]{16,}'$/.test(s));
    assert.equal(nonces.length, 1, `one nonce in script-src: ${scriptSrc.join(' ')}`);
    for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:']) {
      assert.ok(!scriptSrc.includes(bad), `script-src has no ${bad}`);
    }
    assert.ok(!(directives.get('style-src') ?? []).includes("'unsafe-inline'"), 'no inline styles either');
    const ours = page.scripts.find((s) => s.src.endsWith('/dist/webview.js'));
    assert.ok(ours, 'our bundle is loaded');
    assert.equal(`'nonce-${ours.nonce}'`, nonces[0], 'our script carries that nonce');
  }, needsPage);

  test('the Images tree and its hover show the tag and the step as plain text', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.dockerLayers');
    const rows = '.part.sidebar .monaco-list-row';
    await waitFor('the image row', () => inWorkbench(({ sel, name }) => Array.from(document.querySelectorAll(sel)).some((r) => r.textContent?.includes(name)), { sel: rows, name: imageName }));
    await click(rows, imageName);
    const step = truncate(shortStep(image.steps[image.steps.length - 1].createdBy), 80);
    assert.ok(step.includes(P.svg), `the step's label holds the payload: ${step}`);
    await waitFor('the step row', () => inWorkbench(({ sel, s }) => Array.from(document.querySelectorAll(sel)).some((r) => r.textContent?.includes(s)), { sel: rows, s: step }));
    // The hover shows after a pause over the row: move off it and back until it does.
    const hoverText = await waitFor('the image hover', async () => {
      await hover('.part.statusbar');
      await hover(rows, imageName);
      await sleep(1500);
      return inWorkbench(() => document.querySelector('.workbench-hover, .monaco-hover')?.textContent || undefined);
    }, 20_000);
    assert.ok(hoverText.includes(imageName), `the hover names ${imageName}: ${hoverText.slice(0, 200)}`);
    const found = await inWorkbench(() => ({
      pwned: document.documentElement.dataset.pwned ?? null,
      made: Array.from(document.querySelectorAll('img[src="x"], [onerror], [onload], svg[onload]')).map((e) => e.outerHTML.slice(0, 120)),
    }));
    assert.deepEqual(found, { pwned: null, made: [] });
  }, needsPage);

  test('the Layer Files view lists hostile file names as plain text', async () => {
    const stepIndex = image.steps.length - 1;
    // The view keeps its filter and mode across selections: start from neither.
    a.layerFiles.setFilter(undefined);
    await a.layerFiles.setMerged(false);
    await a.layerFiles.show({ kind: 'step', image, stepIndex });
    await vscode.commands.executeCommand('dockerLayers.layerFiles.focus');
    // Rows are drawn only where the view shows them: fold the other views (an earlier suite may have
    // opened Wasted Space or Comparison) so that Layer Files has the side bar's height.
    const header = '.part.sidebar .pane-header.expanded';
    const open = await inWorkbench((sel) => Array.from(document.querySelectorAll(sel)).map((h) => h.querySelector('h3.title')?.textContent ?? ''), header);
    for (const title of open) if (title && !/layer files/i.test(title)) await click(header, title);
    const names = FILE_NAMES;
    const shown = await waitFor('the hostile file rows', async () => {
      const texts = await inWorkbench((sel) => Array.from(document.querySelectorAll(sel)).map((r) => r.textContent ?? ''), '.part.sidebar .monaco-list-row');
      return names.every((n) => texts.some((t) => t.includes(n))) ? texts : undefined;
    });
    assert.ok(shown.length >= names.length);
    const found = await inWorkbench(() => ({
      pwned: document.documentElement.dataset.pwned ?? null,
      made: Array.from(document.querySelectorAll('img[src="x"], [onerror], [onload]')).length,
    }));
    assert.deepEqual(found, { pwned: null, made: 0 });
  }, needsPage);
});
