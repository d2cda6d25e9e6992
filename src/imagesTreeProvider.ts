/**
 * The Images tree: root → (layout, when a root holds several) → image →
 * history steps bottom to top; containers in a node of their own per root;
 * problems where they belong. Everything comes from the loaded model: the
 * tree never reads the disk.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { age, humanSize, shortStep, truncate } from './core/format';
import { shortId, type Container, type Image, type Problem, type Source } from './core/model';
import type { RootStatus, Store } from './core/store';
import { Disposable } from './dispose';
import { showIntermediate } from './settings';
import { countSharingLayer, sharedWithLabel } from './sharingScope';
import type { StoreService } from './storeService';

/** Adds to image rows what is known only later (e.g. efficiencyImageDecorator.ts); onDidChange refreshes the tree. */
export interface ImageItemDecorator {
  decorate(item: vscode.TreeItem, image: Image): void;
  readonly onDidChange: vscode.Event<void>;
}

export type TreeNode =
  | { kind: 'root'; status: RootStatus }
  | { kind: 'source'; source: Source }
  | { kind: 'image'; image: Image }
  | { kind: 'step'; image: Image; stepIndex: number }
  | { kind: 'containers'; root: string; containers: Container[] }
  | { kind: 'container'; container: Container }
  | { kind: 'problems'; id: string; problems: Problem[] }
  | { kind: 'problem'; id: string; problem: Problem };

export class ImagesTreeProvider extends Disposable implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = this.register(new vscode.EventEmitter<TreeNode | undefined>());
  private readonly decorators: ImageItemDecorator[] = [];
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly service: StoreService) {
    super();
    this.register(service.onDidChange(() => this.changed.fire(undefined)));
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('dockerLayers.showIntermediateImages')) this.changed.fire(undefined);
      }),
    );
  }

  async getChildren(node?: TreeNode): Promise<TreeNode[]> {
    const store = await this.service.get();
    if (!node) {
      // No readable root: an empty tree lets the welcome view explain why.
      if (store.roots.every((r) => r.error)) return [];
      return store.roots.map((status) => ({ kind: 'root', status }));
    }
    switch (node.kind) {
      case 'root': {
        const { status } = node;
        if (status.error) return [];
        if (status.sources.length === 1) return this.sourceChildren(store, status.sources[0], status.root);
        const sources: TreeNode[] = status.sources.map((source) => ({ kind: 'source', source }));
        return [...sources, ...this.containerNodes(store, status.root)];
      }
      case 'source':
        return this.sourceChildren(store, node.source, undefined);
      case 'image':
        return node.image.steps.map((_, stepIndex) => ({ kind: 'step', image: node.image, stepIndex }));
      case 'containers':
        return node.containers.map((container) => ({ kind: 'container', container }));
      case 'problems':
        return node.problems.map((problem, i) => ({ kind: 'problem', id: `${node.id}/${i}`, problem }));
      default:
        return [];
    }
  }

  private sourceChildren(store: Store, source: Source, containersOfRoot: string | undefined): TreeNode[] {
    const all = showIntermediate();
    const images: TreeNode[] = store.images
      .filter((i) => i.source.key === source.key && (all || !i.intermediate))
      .map((image) => ({ kind: 'image', image }));
    // A problem the model does not tie to a folder of this source (a dangling tag, a parent loop, a root-level
    // repositories-<driver>) still shows: on the only source of its root, or of the only root.
    const only = store.sources.filter((s) => s.root === source.root).length === 1;
    const single = only && store.roots.length === 1;
    const problems = store.problems.filter(
      (p) => p.subject === source.label || p.path?.startsWith(source.dir) || (only && p.path?.startsWith(source.root + path.sep)) || (single && !p.path),
    );
    const extra: TreeNode[] = problems.length ? [{ kind: 'problems', id: `${source.key}/problems`, problems }] : [];
    return [...extra, ...images, ...(containersOfRoot ? this.containerNodes(store, containersOfRoot) : [])];
  }

  private containerNodes(store: Store, root: string): TreeNode[] {
    const containers = store.containers.filter((c) => c.source.root === root);
    return containers.length ? [{ kind: 'containers', root, containers }] : [];
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'root':
        return rootItem(node.status);
      case 'source': {
        const item = new vscode.TreeItem(node.source.label, vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.source.key;
        item.iconPath = new vscode.ThemeIcon('symbol-namespace');
        item.tooltip = `${node.source.dir}`;
        item.contextValue = 'source';
        return item;
      }
      case 'image': {
        const item = imageItem(node.image);
        for (const d of this.decorators) d.decorate(item, node.image);
        return item;
      }
      case 'step':
        return stepItem(this.service.current(), node.image, node.stepIndex);
      case 'containers': {
        const item = new vscode.TreeItem('Containers', vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.root}#containers`;
        item.description = String(node.containers.length);
        item.iconPath = new vscode.ThemeIcon('vm');
        item.contextValue = 'containers';
        return item;
      }
      case 'container':
        return containerItem(node.container);
      case 'problems': {
        const item = new vscode.TreeItem(
          `${node.problems.length} problem${node.problems.length === 1 ? '' : 's'}`,
          vscode.TreeItemCollapsibleState.Collapsed,
        );
        item.id = node.id;
        item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
        item.contextValue = 'problems';
        return item;
      }
      case 'problem': {
        const item = new vscode.TreeItem(truncate(node.problem.message, 200), vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.tooltip = node.problem.message;
        item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
        item.contextValue = 'problem';
        return item;
      }
    }
  }

  addImageDecorator(d: ImageItemDecorator): void {
    this.decorators.push(d);
    this.register(d.onDidChange(() => this.changed.fire(undefined)));
  }

  /** The node above `node` (for reveal: a container's image, a step's image), from the current store. */
  getParent(node: TreeNode): TreeNode | undefined {
    const store = this.service.current();
    const rootOf = (root: string): TreeNode | undefined => {
      const status = store?.roots.find((r) => r.root === root);
      return status && { kind: 'root', status };
    };
    switch (node.kind) {
      case 'step':
        return { kind: 'image', image: node.image };
      case 'image': {
        const status = store?.roots.find((r) => r.root === node.image.source.root);
        return status?.sources.length === 1 ? { kind: 'root', status } : { kind: 'source', source: node.image.source };
      }
      case 'source':
        return rootOf(node.source.root);
      case 'container': {
        const root = node.container.source.root;
        return { kind: 'containers', root, containers: store?.containers.filter((c) => c.source.root === root) ?? [node.container] };
      }
      case 'containers':
        return rootOf(node.root);
      default:
        return undefined;
    }
  }
}

function rootItem(status: RootStatus): vscode.TreeItem {
  const item = new vscode.TreeItem(status.root, vscode.TreeItemCollapsibleState.Expanded);
  item.id = `root:${status.root}`;
  if (status.error) {
    item.collapsibleState = vscode.TreeItemCollapsibleState.None;
    item.description = status.error.code === 'permission-denied' ? 'permission denied' : status.error.code.replace(/-/g, ' ');
    item.tooltip = status.error.message;
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
    item.contextValue = 'root.error';
  } else {
    item.description = status.sources.map((s) => s.label).join(', ');
    item.tooltip = `${status.root}\n${status.sources.map((s) => `${s.label}: ${s.dir}`).join('\n')}\nRead-only: nothing here is ever written.`;
    item.iconPath = new vscode.ThemeIcon('database');
    item.contextValue = 'root';
  }
  return item;
}

function imageItem(image: Image): vscode.TreeItem {
  const name = image.tags[0] ?? image.digests[0]?.replace(/@.*/, '@…') ?? '<none>';
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = image.key;
  const more = image.tags.length > 1 ? ` +${image.tags.length - 1}` : '';
  item.description = `${shortId(image.id)} · ${humanSize(image.size)} · ${age(image.created)}${more}`;
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**${escapeMd(name)}**\n\n`);
  for (const t of image.tags.slice(1)) md.appendMarkdown(`also \`${escapeCode(t)}\`  \n`);
  for (const d of image.digests) md.appendMarkdown(`digest \`${escapeCode(d)}\`  \n`);
  md.appendMarkdown(`\nid \`${escapeCode(image.id)}\`  \n`);
  md.appendMarkdown(`created ${escapeMd(image.created ?? 'unknown')} (${age(image.created)})  \n`);
  md.appendMarkdown(`size ${humanSize(image.size)} in ${image.layerKeys.length} layers, ${image.steps.length} steps  \n`);
  const platform = [image.platform.os, image.platform.architecture, image.platform.variant].filter(Boolean).join('/');
  if (platform) md.appendMarkdown(`platform ${escapeMd(platform)}  \n`);
  md.appendMarkdown(`from ${escapeMd(image.source.label)}`);
  if (image.problems.length) md.appendMarkdown(`\n\n$(warning) ${image.problems.map((p) => escapeMd(p.message)).join('  \n$(warning) ')}`);
  md.supportThemeIcons = true;
  item.tooltip = md;
  item.iconPath = image.problems.length
    ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
    : new vscode.ThemeIcon('package');
  item.contextValue = image.intermediate ? 'image.intermediate' : 'image';
  return item;
}

function stepItem(store: Store | undefined, image: Image, index: number): vscode.TreeItem {
  const step = image.steps[index];
  const layer = store?.layer(step.layerKey);
  const label = `${index}  ${truncate(shortStep(step.createdBy) || (layer ? `layer ${shortId(layer.id)}` : '(no history)'), 80)}`;
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = `${image.key}@${index}`;
  const sharedWith = layer && store ? countSharingLayer(store, image, layer.key) : 0;
  item.description = step.empty ? 'empty' : sharedWith ? `${humanSize(step.size)} · ${sharedWithLabel(sharedWith)}` : humanSize(step.size);
  const md = new vscode.MarkdownString();
  md.appendCodeblock(step.createdBy || '(no command recorded)', 'shell');
  md.appendMarkdown(`step ${index} of ${image.steps.length}`);
  if (step.created) md.appendMarkdown(` · created ${escapeMd(step.created)} (${age(step.created)})`);
  md.appendMarkdown('  \n');
  if (step.empty) md.appendMarkdown('empty step: changes no file, only the image config  \n');
  if (layer) {
    md.appendMarkdown(`layer \`${escapeCode(layer.id)}\`  \n`);
    if (layer.diffId) md.appendMarkdown(`diff id \`${escapeCode(layer.diffId)}\`  \n`);
    md.appendMarkdown(`size ${humanSize(layer.size)} (${layer.size} bytes)`);
    if (sharedWith) md.appendMarkdown(`  \n${sharedWithLabel(sharedWith)} (Show Images Sharing This Layer lists them)`);
    for (const p of layer.problems) md.appendMarkdown(`  \n$(warning) ${escapeMd(p.message)}`);
  }
  if (step.comment) md.appendMarkdown(`  \ncomment: ${escapeMd(step.comment)}`);
  md.supportThemeIcons = true;
  item.tooltip = md;
  item.iconPath = step.empty
    ? new vscode.ThemeIcon('circle-outline', new vscode.ThemeColor('disabledForeground'))
    : layer?.problems.length
      ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
      : new vscode.ThemeIcon('layers');
  item.contextValue = step.empty ? 'emptyStep' : sharedWith ? 'layer.shared' : 'layer';
  // A click opens the step's JSON with its changes from the step below (and, through the
  // selection, lists the layer's files in the Layer Files view).
  item.command = { command: 'dockerLayers.openLayerJson', title: 'Open Layer JSON', arguments: [{ kind: 'step', image, stepIndex: index }] };
  return item;
}

function containerItem(c: Container): vscode.TreeItem {
  const item = new vscode.TreeItem(c.name || shortId(c.id), vscode.TreeItemCollapsibleState.None);
  item.id = c.key;
  item.description = `${shortId(c.id)} · ${c.imageRef ?? (c.imageId ? shortId(c.imageId) : '')}`;
  item.tooltip = `container ${c.id}\nimage ${c.imageRef ?? ''} ${c.imageId ?? ''}\ncreated ${c.created ?? 'unknown'}${
    c.problems.length ? '\n' + c.problems.map((p) => p.message).join('\n') : ''
  }`;
  item.iconPath = new vscode.ThemeIcon('vm');
  item.contextValue = 'container';
  return item;
}

/** Text from disk inside Markdown: escape everything Markdown or HTML could interpret. */
export function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>&~$]/g, (c) => `\\${c}`);
}

function escapeCode(s: string): string {
  return s.replace(/`/g, "'");
}
