/**
 * The Wasted Space view: one image's inefficient files as dive defines them
 * (core/efficiency.ts), biggest first, each with the steps that hold a copy.
 *
 * A tree view rather than a webview panel: the report is a ranked list with
 * one level of detail, which a tree shows natively (theme, keyboard, screen
 * readers, context menus, filtering by typing) with nothing from disk ever
 * rendered as HTML, so there is no CSP surface to keep safe.
 *
 * A file opens its versions (Show Path History: the copies, to compare any
 * two); a copy opens that version read-only as of its step.
 */
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { scoreText, type ImageEfficiency, type Offender } from './core/efficiency';
import { countOf, humanSize, shortStep, truncate } from './core/format';
import type { Image } from './core/model';
import { Disposable } from './dispose';
import { imageName } from './layerTargets';
import { mergedFileUri } from './layerUri';

export const WASTED_SPACE_VIEW = 'dockerLayers.wastedSpace';

/** Offenders listed; the rest are summed in one row (dive lists them all, but a tree of 100k rows helps no one). */
const MAX_ROWS = 500;

export type WastedNode =
  | { kind: 'summary'; image: Image; result: ImageEfficiency }
  | { kind: 'offender'; image: Image; result: ImageEfficiency; offender: Offender; rank: number }
  | { kind: 'copy'; image: Image; offender: Offender; step: number; size: number; deletes: boolean; nth: number }
  | { kind: 'more'; count: number; bytes: number };

export class WastedSpaceTreeProvider extends Disposable implements vscode.TreeDataProvider<WastedNode> {
  private readonly changed = this.register(new vscode.EventEmitter<WastedNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private shown: { image: Image; result: ImageEfficiency } | undefined;

  /** The image whose report is shown, if any. */
  get current(): { image: Image; result: ImageEfficiency } | undefined {
    return this.shown;
  }

  show(image: Image, result: ImageEfficiency): void {
    this.shown = { image, result };
    this.changed.fire(undefined);
  }

  clear(): void {
    this.shown = undefined;
    this.changed.fire(undefined);
  }

  getChildren(node?: WastedNode): WastedNode[] {
    const s = this.shown;
    if (!s) return [];
    if (!node) {
      const { image, result } = s;
      const rows: WastedNode[] = [{ kind: 'summary', image, result }];
      result.offenders.slice(0, MAX_ROWS).forEach((offender, rank) => rows.push({ kind: 'offender', image, result, offender, rank }));
      const rest = result.offenders.slice(MAX_ROWS);
      if (rest.length) rows.push({ kind: 'more', count: rest.length, bytes: rest.reduce((a, o) => a + o.bytes, 0) });
      return rows;
    }
    if (node.kind !== 'offender') return [];
    const { offender, result, image } = node;
    return offender.layers.map((layer, nth) => ({
      kind: 'copy',
      image,
      offender,
      step: result.steps[layer],
      size: offender.sizes[nth],
      deletes: offender.deletes[nth],
      nth,
    }));
  }

  getTreeItem(node: WastedNode): vscode.TreeItem {
    switch (node.kind) {
      case 'summary':
        return summaryItem(node.image, node.result);
      case 'offender':
        return offenderItem(node.image, node.offender, node.rank);
      case 'copy':
        return copyItem(node);
      case 'more': {
        const item = new vscode.TreeItem(`… ${node.count} more files`, vscode.TreeItemCollapsibleState.None);
        item.description = `${humanSize(node.bytes)} (docker-layers efficiency --no-trunc lists them all)`;
        return item;
      }
    }
  }
}

function summaryItem(image: Image, r: ImageEfficiency): vscode.TreeItem {
  const item = new vscode.TreeItem(`${imageName(image)}: ${scoreText(r.score)} efficient`, vscode.TreeItemCollapsibleState.None);
  item.id = `${image.key}#efficiency`;
  const user = r.wastedBytes === 0 ? '0 %' : Number.isFinite(r.userWastedPercent) ? `${(r.userWastedPercent * 100).toFixed(2)} %` : 'all';
  item.description = `${humanSize(r.wastedBytes)} wasted · ${user} of user bytes · ${countOf(r.offenders.length, 'file')}`;
  item.tooltip = [
    `efficiency ${scoreText(r.score)} (dive: Σ smallest copy of each path / Σ all copies)`,
    `wasted bytes ${r.wastedBytes} (Σ of every copy of each file held by two or more layers)`,
    `user wasted ${user} of ${r.userSizeBytes} bytes added above the base layer`,
    `image ${r.sizeBytes} bytes in ${r.steps.length} layers`,
  ].join('\n');
  item.iconPath = new vscode.ThemeIcon('dashboard');
  item.contextValue = 'efficiencySummary';
  return item;
}

function offenderItem(image: Image, o: Offender, rank: number): vscode.TreeItem {
  const item = new vscode.TreeItem(displayName(o.path), vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `${image.key}#wasted:${o.path}`;
  item.description = `${humanSize(o.bytes)} · ${o.count} copies`;
  item.tooltip = `${displayName(o.path)}\n#${rank + 1}: ${o.bytes} bytes over ${o.count} layers (dive counts every copy of a file held by two or more layers as wasted)\nClick to see its versions and compare them.`;
  item.iconPath = new vscode.ThemeIcon('file');
  item.contextValue = 'wastedFile';
  const top = image.steps.length - 1;
  // Show Path History takes a merged-file ref: the image, the step and the path.
  item.command = {
    command: 'dockerLayers.showPathHistory',
    title: 'Show Path History',
    arguments: [{ imageKey: image.key, step: top, merged: true, path: o.path, type: 'unknown' }],
  };
  return item;
}

function copyItem(node: Extract<WastedNode, { kind: 'copy' }>): vscode.TreeItem {
  const { image, offender, step, size, deletes } = node;
  const createdBy = image.steps[step]?.createdBy ?? '';
  const item = new vscode.TreeItem(`step ${step}`, vscode.TreeItemCollapsibleState.None);
  item.id = `${image.key}#wasted:${offender.path}@${node.nth}`;
  item.description = `${deletes ? `deleted${size ? ` (${humanSize(size)} below)` : ''}` : humanSize(size)} · ${truncate(shortStep(createdBy), 80)}`;
  item.tooltip = `${offender.path} in step ${step}: ${deletes ? 'deleted by a whiteout' : `${size} bytes`}\n${createdBy}`;
  item.iconPath = new vscode.ThemeIcon(deletes ? 'trash' : 'layers');
  item.contextValue = deletes ? 'wastedCopy.deleted' : 'wastedCopy';
  // A copy with bytes is a file: it opens as of its step (an empty folder's copy has nothing to open).
  if (!deletes && size > 0) {
    item.command = { command: 'vscode.open', title: 'Open This Version', arguments: [mergedFileUri(image, step, offender.path), { preview: true }] };
  }
  return item;
}
