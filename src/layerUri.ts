/**
 * URIs of the `docker-layer:` scheme. The path is for people (tab titles,
 * breadcrumbs, language detection by extension); the query carries the
 * identity (which store item), so two URIs with the same title never clash.
 *
 *   docker-layer:/sample%2Fapp%3A1.0/step-5.json?{"k":"json","image":"<image key>","step":5}
 *   docker-layer:/e140d2364ad9/etc/app/c.conf?{"k":"file","layer":"<layer key>","path":"/etc/app/c.conf"}
 *   docker-layer:/e140d2364ad9 (merged)/etc/app/c.conf?{"k":"file","image":"<image key>","step":5,"merged":true,…}
 *
 * A name that is not valid UTF-8 (core/byteNames.ts): the query carries its
 * mapped string, which the core reads by its bytes; the path shows it as
 * people see it (`bad-\xff.txt`), so a tab title never shows a private-use glyph.
 */
import * as vscode from 'vscode';
import { displayName } from './core/byteNames';
import { shortId, type Image, type Layer } from './core/model';

export const SCHEME = 'docker-layer';

export type LayerUriTarget =
  /** The JSON document of step `step` of an image, pretty-printed with sorted keys (for diffs). */
  | { k: 'json'; image: string; step: number }
  /** A path in one layer's own content. */
  | { k: 'file'; layer: string; path: string }
  /** A path in the merged filesystem of an image as of step `step` (that layer and all below). */
  | { k: 'merged'; image: string; step: number; path: string };

/** A readable, path-safe segment: `/` and `\` cannot split it. */
function segment(s: string): string {
  return s.replace(/[/\\]/g, '∕') || '_';
}

export function jsonDocUri(image: Image, step: number): vscode.Uri {
  const name = segment(image.tags[0] ?? shortId(image.id));
  return make(`/${name}/step-${step}.json`, { k: 'json', image: image.key, step });
}

export function layerFileUri(layer: Layer, entryPath: string): vscode.Uri {
  const path = normalizeEntryPath(entryPath);
  return make(`/${segment(shortId(layer.id))}${displayName(path)}`, { k: 'file', layer: layer.key, path });
}

export function mergedFileUri(image: Image, step: number, entryPath: string): vscode.Uri {
  const name = segment(`${image.tags[0] ?? shortId(image.id)}@${step}`);
  const path = normalizeEntryPath(entryPath);
  return make(`/${name}${displayName(path)}`, { k: 'merged', image: image.key, step, path });
}

export function parseLayerUri(uri: vscode.Uri): LayerUriTarget | undefined {
  if (uri.scheme !== SCHEME || !uri.query) return undefined;
  try {
    const t = JSON.parse(uri.query) as LayerUriTarget;
    if (t.k === 'json' && typeof t.image === 'string' && Number.isInteger(t.step)) return t;
    if (t.k === 'file' && typeof t.layer === 'string' && typeof t.path === 'string') return t;
    if (t.k === 'merged' && typeof t.image === 'string' && Number.isInteger(t.step) && typeof t.path === 'string') return t;
  } catch {
    // not one of ours
  }
  return undefined;
}

/** `etc//app/./x` → `/etc/app/x`; `..` segments are refused by the core when the path is read. */
export function normalizeEntryPath(p: string): string {
  const parts = p.split('/').filter((s) => s && s !== '.');
  return '/' + parts.join('/');
}

function make(path: string, target: LayerUriTarget): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path, query: JSON.stringify(target) });
}
