/**
 * The Layer JSON custom editor (view type `dockerLayers.layerJson`): a step's
 * JSON document with what changed from the step below highlighted. Read-only.
 *
 * One LayerJsonDocument per URI, shared by every editor open on it, read while
 * VS Code makes the first webview for it. Each webview says `ready`; it gets
 * `load` or `error` (protocol.ts), never nothing. Its requests are always
 * settled. What a webview reports it drew (`rendered`) is kept per document:
 * the integration tests read it through the API.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { errorMessage } from './core/errors';
import { Disposable } from './dispose';
import { registerLayerJsonCommands } from './layerJsonCommands';
import { LayerJsonDocument, type LoadedView } from './layerJsonDocument';
import { LayerStepResolver } from './layerStepResolver';
import { jsonDocUri } from './layerUri';
import { log } from './log';
import type { StoreService } from './storeService';
import { isWebviewMessage, type HostMessage, type RenderReport, type ViewAction, type WebviewMessage } from './webview/protocol';

export const LAYER_JSON_VIEW_TYPE = 'dockerLayers.layerJson';

export interface RenderedEvent {
  readonly uri: string;
  readonly report: RenderReport;
  /** Host clock: VS Code making the webview (HTML, CSS, script) from resolveCustomEditor to its `ready`. */
  readonly resolveToReadyMs: number;
  /** Host clock: from the webview's `ready` to its report of the painted frame (load, transfer, draw). */
  readonly readyToRenderedMs: number;
}

export class LayerJsonEditorProvider extends Disposable implements vscode.CustomReadonlyEditorProvider<LayerJsonDocument> {
  readonly viewType = LAYER_JSON_VIEW_TYPE;
  readonly resolver: LayerStepResolver;
  private readonly panels = new Map<LayerJsonDocument, Set<vscode.WebviewPanel>>();
  private readonly reports = new Map<string, RenderReport>();
  /** When each webview was made and when it said `ready` (host clock, ms). */
  private readonly clocks = new WeakMap<vscode.WebviewPanel, { resolved: number; ready: number }>();
  private readonly rendered = this.register(new vscode.EventEmitter<RenderedEvent>());
  /** Fires each time a webview reports what it drew. */
  readonly onDidRender = this.rendered.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    service: StoreService,
  ) {
    super();
    this.resolver = new LayerStepResolver(service);
    this.register(service.onDidChange(() => void this.refreshAll()));
  }

  openCustomDocument(uri: vscode.Uri): LayerJsonDocument {
    return new LayerJsonDocument(uri, this.resolver);
  }

  resolveCustomEditor(document: LayerJsonDocument, panel: vscode.WebviewPanel): void {
    const { webview } = panel;
    webview.options = {
      enableScripts: true,
      enableForms: false,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media'), vscode.Uri.joinPath(this.extensionUri, 'dist')],
    };
    this.clocks.set(panel, { resolved: performance.now(), ready: 0 });
    webview.html = layerJsonHtml(webview, this.extensionUri, document.uri);
    // Read and diff while VS Code makes the webview (not before: that work would hold up this call).
    void document.load();
    let set = this.panels.get(document);
    if (!set) this.panels.set(document, (set = new Set()));
    set.add(panel);
    const subscription = webview.onDidReceiveMessage((m: unknown) => this.onMessage(document, panel, m));
    panel.onDidDispose(() => {
      subscription.dispose();
      set.delete(panel);
      if (set.size === 0) this.panels.delete(document);
    });
  }

  /** What the webview of `uri` last reported it drew. */
  lastRendered(uri: vscode.Uri | string): RenderReport | undefined {
    return this.reports.get(uri.toString());
  }

  /** Asks the open webviews of `uri` to act as if the user pressed a control; false when none is open. */
  runAction(uri: vscode.Uri | string, action: ViewAction): boolean {
    const key = uri.toString();
    let sent = false;
    for (const [document, set] of this.panels) {
      if (document.uri.toString() !== key) continue;
      for (const panel of set) sent = post(panel, { type: 'action', uri: key, action }) || sent;
    }
    return sent;
  }

  /** The open document for `uri`, or a new one (not shown) to read it. */
  documentFor(uri: vscode.Uri): LayerJsonDocument {
    for (const document of this.panels.keys()) if (document.uri.toString() === uri.toString()) return document;
    return new LayerJsonDocument(uri, this.resolver);
  }

  /** The URI of the Layer JSON editor in the active tab, if that is one. */
  activeUri(): vscode.Uri | undefined {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    return input instanceof vscode.TabInputCustom && input.viewType === LAYER_JSON_VIEW_TYPE ? input.uri : undefined;
  }

  private onMessage(document: LayerJsonDocument, panel: vscode.WebviewPanel, m: unknown): void {
    const uri = document.uri.toString();
    if (!isWebviewMessage(m) || m.uri !== uri) return;
    switch (m.type) {
      case 'ready': {
        const clock = this.clocks.get(panel);
        if (clock) clock.ready = performance.now();
        void this.send(document, panel);
        return;
      }
      case 'rendered': {
        const clock = this.clocks.get(panel) ?? { resolved: 0, ready: 0 };
        const now = performance.now();
        this.reports.set(uri, m.report);
        this.rendered.fire({ uri, report: m.report, resolveToReadyMs: Math.round(clock.ready - clock.resolved), readyToRenderedMs: Math.round(now - clock.ready) });
        return;
      }
      case 'failed':
        log().error(`layer JSON view of ${document.uri.path}: ${m.message}`);
        return;
      default:
        void this.settle(document, panel, m);
    }
  }

  /** Sends the document (or why it cannot be shown) to one webview. */
  private async send(document: LayerJsonDocument, panel: vscode.WebviewPanel, loaded?: LoadedView): Promise<void> {
    const uri = document.uri.toString();
    const l = loaded ?? (await document.load());
    if (l.view) {
      const t = l.view.timings;
      log().info(`layer JSON ${document.uri.path}: read ${t.readMs} ms, indent ${t.formatMs} ms, diff ${t.diffMs} ms, ${l.view.changes.length} changes`);
      post(panel, { type: 'load', uri, view: l.view });
    } else {
      const error = l.error ?? { title: "The layer's JSON could not be read", message: 'unknown error' };
      log().warn(`layer JSON ${document.uri.toString(true)}: ${error.message}`);
      post(panel, { type: 'error', uri, error });
    }
  }

  /** Runs a webview request and always answers it. */
  private async settle(document: LayerJsonDocument, panel: vscode.WebviewPanel, m: Extract<WebviewMessage, { requestId: number }>): Promise<void> {
    const uri = document.uri.toString();
    try {
      switch (m.type) {
        case 'openParent':
          await this.openParent(document, panel);
          break;
        case 'openAsText':
          await vscode.commands.executeCommand('dockerLayers.openLayerJsonAsText', document.uri);
          break;
        case 'copy':
          await vscode.env.clipboard.writeText(m.text);
          break;
        case 'reload':
          document.invalidate();
          for (const p of this.panels.get(document) ?? []) await this.send(document, p);
          break;
      }
      post(panel, { type: 'settled', uri, requestId: m.requestId, ok: true });
    } catch (err) {
      log().warn(`layer JSON ${m.type}: ${errorMessage(err)}`);
      post(panel, { type: 'settled', uri, requestId: m.requestId, ok: false, error: errorMessage(err) });
    }
  }

  private async openParent(document: LayerJsonDocument, panel: vscode.WebviewPanel): Promise<void> {
    const { target, error } = await document.load();
    if (!target) throw new Error(error?.message ?? 'this step could not be read');
    if (target.stepIndex === 0) throw new Error('step 0 is a base layer: it has no parent');
    const parent = jsonDocUri(target.image, target.stepIndex - 1);
    await vscode.commands.executeCommand('vscode.openWith', parent, LAYER_JSON_VIEW_TYPE, {
      preview: true,
      viewColumn: panel.viewColumn ?? vscode.ViewColumn.Active,
    });
  }

  /** The roots were read again: each open document is read again, and sent when it changed. */
  private async refreshAll(): Promise<void> {
    for (const [document, set] of [...this.panels]) {
      const before = signature(await document.load());
      document.invalidate();
      const after = await document.load();
      if (signature(after) === before) continue;
      for (const panel of set) await this.send(document, panel, after);
    }
  }
}

function signature(l: LoadedView): string {
  if (!l.view) return `error:${l.error?.message ?? ''}`;
  const { timings: _t, ...rest } = l.view;
  return JSON.stringify(rest);
}

/** Posts to a webview that may be gone; false when it is. */
function post(panel: vscode.WebviewPanel, message: HostMessage): boolean {
  try {
    void panel.webview.postMessage(message).then(undefined, () => undefined);
    return true;
  } catch {
    return false; // disposed
  }
}

/** The page: strict CSP, a nonce'd bundle from dist/, the stylesheet from media/, the URI in a data attribute. */
export function layerJsonHtml(webview: vscode.Webview, extensionUri: vscode.Uri, documentUri: vscode.Uri): string {
  const nonce = randomBytes(18).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'layerJson.css'));
  const csp = `default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}'; font-src ${webview.cspSource}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(style.toString())}">
<title>Layer JSON</title>
</head>
<body data-uri="${escapeAttr(documentUri.toString())}">
<main id="app" class="editor" aria-label="Layer JSON with changes from the parent step"></main>
<script nonce="${nonce}" src="${escapeAttr(script.toString())}"></script>
</body>
</html>`;
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function registerLayerJsonEditor(context: vscode.ExtensionContext, service: StoreService): LayerJsonEditorProvider {
  const provider = new LayerJsonEditorProvider(context.extensionUri, service);
  context.subscriptions.push(
    provider,
    vscode.window.registerCustomEditorProvider(LAYER_JSON_VIEW_TYPE, provider, {
      supportsMultipleEditorsPerDocument: true,
      webviewOptions: { retainContextWhenHidden: false },
    }),
  );
  registerLayerJsonCommands(context, service, provider);
  return provider;
}
