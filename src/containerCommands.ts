/**
 * Commands on a container of the Images view: open its config
 * (`config.v2.json`, `config.json` in old roots) read-only, and reveal the
 * image it was made from. The config is served by a text document content
 * provider of its own scheme, so the editor can never save into the root.
 */
import * as vscode from 'vscode';
import { LayerError } from './core/errors';
import { readText } from './core/fsUtil';
import { shortId, type Container } from './core/model';
import { imageOfContainer } from './core/pathHistory';
import type { Store } from './core/store';
import type { TreeNode } from './imagesTreeProvider';
import { reportErrors } from './log';
import type { StoreService } from './storeService';

export const CONTAINER_CONFIG_SCHEME = 'docker-container-config';

/** `docker-container-config:/dle-ctr/config.v2.json?<container key>`. */
export function containerConfigUri(c: Container): vscode.Uri {
  const file = c.configPath?.slice(c.configPath.lastIndexOf('/') + 1) ?? 'config.json';
  const name = (c.name || shortId(c.id)).replace(/[/\\]/g, '∕');
  return vscode.Uri.from({ scheme: CONTAINER_CONFIG_SCHEME, path: `/${name}/${file}`, query: c.key });
}

function containerOf(store: Store, arg: unknown): Container | undefined {
  const node = arg as TreeNode | undefined;
  const key = node?.kind === 'container' ? node.container.key : arg instanceof vscode.Uri ? arg.query : undefined;
  return key === undefined ? undefined : store.containers.find((c) => c.key === key);
}

class ContainerConfigProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly service: StoreService) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const c = containerOf(await this.service.get(), uri);
    if (!c) throw new LayerError('not-found', `the container of ${uri.path} is no longer in the configured roots`);
    if (!c.configPath) throw new LayerError('not-found', `container ${c.name || shortId(c.id)} has no config file on disk`);
    return readText(c.configPath);
  }
}

export function registerContainerCommands(context: vscode.ExtensionContext, service: StoreService, imagesView: vscode.TreeView<TreeNode>): void {
  const add = (id: string, title: string, fn: (c: Container, store: Store) => Promise<unknown>) =>
    context.subscriptions.push(
      vscode.commands.registerCommand(id, (arg?: unknown) =>
        reportErrors(title, async () => {
          const store = await service.get();
          const c = containerOf(store, arg);
          if (!c) return void vscode.window.showInformationMessage('Choose a container in the Images view first.');
          return fn(c, store);
        }),
      ),
    );
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(CONTAINER_CONFIG_SCHEME, new ContainerConfigProvider(service)));

  add('dockerLayers.openContainerConfig', 'Open Container Config', async (c) => {
    const doc = await vscode.workspace.openTextDocument(containerConfigUri(c));
    await vscode.languages.setTextDocumentLanguage(doc, 'json');
    await vscode.window.showTextDocument(doc, { preview: true });
    return doc.uri;
  });

  add('dockerLayers.revealContainerImage', 'Reveal Image', async (c, store) => {
    const image = imageOfContainer(store, c);
    if (!image) {
      return void vscode.window.showInformationMessage(`The image of container ${c.name || shortId(c.id)} (${c.imageRef ?? shortId(c.imageId ?? '?')}) is not in the configured roots.`);
    }
    const node: TreeNode = { kind: 'image', image };
    await imagesView.reveal(node, { select: true, focus: true, expand: true });
    return node;
  });
}
