/**
 * What an image archive says its images are, before any config is read:
 * `manifest.json` (`docker save` 1.10+) and an OCI `index.json` (Docker 25+,
 * OCI layouts; nested indexes give one image per platform). Every name taken
 * from them is validated: a config or layer is `<hex>.json`, `<hex>/layer.tar`
 * or `blobs/sha256/<hex>`, nothing else.
 */
import { LayerError, toProblem } from '../errors';
import { digestHex } from '../fsUtil';
import { DIGEST, type Platform, type Problem } from '../model';
import type { ArchiveFiles } from './archiveFiles';

/** One image as a manifest names it. */
export interface ImageEntry {
  /** The config's member name. */
  readonly config: string;
  /** The config's hex digest (its image id without `sha256:`). */
  readonly configHex: string;
  /** Layer blobs' member names, bottom first. */
  readonly layers: string[];
  readonly tags: string[];
  readonly digests: string[];
  readonly platform?: Platform;
  /** `manifest.json`'s `Parent`: the image this one was built on, when saved with it. */
  readonly parentId?: string;
  /** Where the entry was read (for messages). */
  readonly from: string;
}

const CONFIG_NAME = /^(?:([0-9a-f]{64})\.json|blobs\/sha256\/([0-9a-f]{64}))$/;
const LAYER_NAME = /^(?:[0-9a-f]{64}\/layer\.tar|blobs\/sha256\/[0-9a-f]{64})$/;

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

function parse(files: ArchiveFiles, name: string): any {
  const text = files.text(name);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new LayerError('corrupt', `${files.path}:${name} is not valid JSON: ${(err as Error).message}`, files.path, err);
  }
}

function configHexOf(name: unknown, from: string): string {
  const m = typeof name === 'string' ? CONFIG_NAME.exec(name) : null;
  if (!m) throw new LayerError('invalid-id', `${from}: the config name ${JSON.stringify(name)} is not <hex>.json or blobs/sha256/<hex>`);
  return m[1] ?? m[2];
}

function layerName(name: unknown, from: string): string {
  if (typeof name !== 'string' || !LAYER_NAME.test(name)) {
    throw new LayerError('invalid-id', `${from}: the layer name ${JSON.stringify(name)} is not <hex>/layer.tar or blobs/sha256/<hex>`);
  }
  return name;
}

const blobName = (digest: unknown, what: string): string => `blobs/sha256/${digestHex(String(digest), what)}`;

/** The entries of `manifest.json`; a bad entry is a problem, the others stay. */
export function manifestJsonEntries(files: ArchiveFiles, problems: Problem[]): ImageEntry[] {
  const list = parse(files, 'manifest.json');
  if (!Array.isArray(list)) throw new LayerError('corrupt', `${files.path}:manifest.json is not a list of images`, files.path);
  const out: ImageEntry[] = [];
  list.forEach((e: any, i: number) => {
    const from = `${files.path}:manifest.json[${i}]`;
    try {
      const tags = Array.isArray(e?.RepoTags) ? e.RepoTags.filter((t: unknown): t is string => typeof t === 'string') : [];
      const layers = Array.isArray(e?.Layers) ? e.Layers.map((l: unknown) => layerName(l, from)) : [];
      const parentId = typeof e?.Parent === 'string' && DIGEST.test(e.Parent) ? e.Parent : undefined;
      out.push({ config: e.Config, configHex: configHexOf(e?.Config, from), layers, tags, digests: [], parentId, from });
    } catch (err) {
      problems.push({ ...toProblem(err, `manifest.json[${i}]`), message: (err as Error).message });
    }
  });
  return out;
}

/** The images of an OCI `index.json`, one per platform of a nested index. */
export function ociIndexEntries(files: ArchiveFiles, problems: Problem[]): ImageEntry[] {
  const out: ImageEntry[] = [];
  const visit = (name: string, depth: number, inherited: { tags: string[] }) => {
    const index = parse(files, name);
    const manifests: any[] = Array.isArray(index?.manifests) ? index.manifests : [];
    for (const d of manifests) {
      const from = `${files.path}:${name} (${String(d?.digest).slice(0, 19)})`;
      try {
        const tags = refsOf(d?.annotations, inherited.tags);
        const blob = blobName(d?.digest, `${name}: manifest digest`);
        const type = typeof d?.mediaType === 'string' ? d.mediaType : '';
        if (INDEX_TYPES.has(type)) {
          if (depth >= 4) throw new LayerError('unsupported', `${from}: indexes nested too deep`);
          visit(blob, depth + 1, { tags });
          continue;
        }
        const platform = platformOf(d?.platform);
        if (!files.has(blob)) {
          const on = platform ? ` for ${[platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')}` : '';
          throw new LayerError('not-found', `${from}: the manifest${on} is not in the archive (${blob})`);
        }
        const manifest = parse(files, blob);
        const config = blobName(manifest?.config?.digest, `${blob}: config digest`);
        const layers = (Array.isArray(manifest?.layers) ? manifest.layers : []).map((l: any) => blobName(l?.digest, `${blob}: layer digest`));
        const repos = [...new Set(tags.map((t) => repoOf(t)).filter((r): r is string => !!r))];
        const digests = repos.map((r) => `${r}@${d.digest}`);
        out.push({ config, configHex: config.slice('blobs/sha256/'.length), layers, tags, digests, platform, from });
      } catch (err) {
        problems.push({ ...toProblem(err, String(d?.digest ?? name)), message: (err as Error).message });
      }
    }
  };
  visit('index.json', 0, { tags: [] });
  return out;
}

/** `io.containerd.image.name` (a full ref) and `org.opencontainers.image.ref.name` (a ref, or a tag of it). */
function refsOf(annotations: any, inherited: string[]): string[] {
  const full = typeof annotations?.['io.containerd.image.name'] === 'string' ? annotations['io.containerd.image.name'] : undefined;
  const ref = typeof annotations?.['org.opencontainers.image.ref.name'] === 'string' ? annotations['org.opencontainers.image.ref.name'] : undefined;
  const out = new Set(inherited);
  if (full) out.add(full);
  if (ref) {
    if (ref.includes(':') || ref.includes('/')) out.add(ref);
    else if (full && repoOf(full)) out.add(`${repoOf(full)}:${ref}`);
    else if (!full) out.add(ref);
  }
  return [...out];
}

/** `docker.io/library/x:1` → `docker.io/library/x`. */
function repoOf(ref: string): string | undefined {
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(':');
  const repo = colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
  return repo.includes('/') || colon > 0 ? repo : undefined;
}

function platformOf(p: any): Platform | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const s = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return { os: s(p.os), architecture: s(p.architecture), variant: s(p.variant) };
}
