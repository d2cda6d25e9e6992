/**
 * containerd's content store (`io.containerd.content.v1.content/blobs/sha256/<hex>`):
 * reads index, manifest and config blobs, checks them against their digests,
 * and resolves an image's target to the manifest for one platform.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { LayerError, fromFsError } from '../errors';
import { childPath, digestHex, exists, parseJson } from '../fsUtil';
import type { Platform, Problem } from '../model';
import { BLOBS_DIR, type Descriptor } from './containerdMeta';

/** Index, manifest and config blobs are small; anything larger is not one. */
const MAX_JSON_BLOB = 32 * 1024 * 1024;
const MAX_INDEX_DEPTH = 4;

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

export interface JsonBlob {
  readonly digest: string;
  readonly file: string;
  /** The blob's bytes as text, verbatim. */
  readonly text: string;
  readonly value: any;
  /** False when the bytes do not hash to `digest`. */
  readonly verified: boolean;
}

interface PlatformDescriptor extends Descriptor {
  readonly platform?: Platform;
  readonly annotations?: Record<string, string>;
}

export interface ResolvedManifest {
  readonly manifest: JsonBlob;
  readonly config: JsonBlob;
  /** Platform the index gave the chosen manifest (undefined for a plain manifest). */
  readonly platform?: Platform;
  /** The index's other platforms (`linux/arm64/v8`…); their blobs are often absent, which is normal. */
  readonly otherPlatforms: string[];
  readonly problems: Problem[];
}

/** Path of a blob; the digest is validated before it becomes a path. */
export function blobPath(dir: string, digest: string, what = 'blob digest'): string {
  return childPath(path.join(dir, BLOBS_DIR), digestHex(digest, what));
}

/** Reads a JSON blob and checks its digest (a mismatch is reported in `verified`, not thrown). */
export async function readJsonBlob(dir: string, digest: string, what: string): Promise<JsonBlob> {
  const file = blobPath(dir, digest, `${what} digest`);
  let bytes: Buffer;
  try {
    const stat = await fsp.stat(file);
    if (stat.size > MAX_JSON_BLOB) {
      throw new LayerError('corrupt', `${file}: ${what} blob is ${stat.size} bytes, too large for JSON`, file);
    }
    bytes = await fsp.readFile(file);
  } catch (err) {
    const e = fromFsError(err, file);
    if (e.code === 'not-found') {
      throw new LayerError('not-found', `${what} blob ${digest} is not in the content store (${file})`, file, err);
    }
    throw e;
  }
  const text = bytes.toString('utf8');
  const verified = 'sha256:' + createHash('sha256').update(bytes).digest('hex') === digest;
  return { digest, file, text, value: parseJson(text, file), verified };
}

function mismatch(blob: JsonBlob, what: string, subject: string): Problem {
  return { code: 'corrupt', message: `${blob.file}: ${what} content does not match its digest`, path: blob.file, subject };
}

export function platformString(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os ?? 'unknown', p.architecture ?? 'unknown', p.variant].filter(Boolean).join('/');
}

/** The platform of this machine, as image indexes name it. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

function matches(p: Platform | undefined, want: Platform): boolean {
  if (!p || p.os !== want.os || p.architecture !== want.architecture) return false;
  return !want.variant || !p.variant || p.variant === want.variant;
}

function isAttestation(d: PlatformDescriptor): boolean {
  return (
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown')
  );
}

/** Whether a blob is an image index or manifest: by its media type, else by its shape. */
export function manifestKind(mediaType: string | undefined, value: any): 'index' | 'manifest' | undefined {
  if (mediaType && INDEX_TYPES.has(mediaType)) return 'index';
  if (mediaType && MANIFEST_TYPES.has(mediaType)) return 'manifest';
  if (Array.isArray(value?.manifests)) return 'index';
  if (value?.config && Array.isArray(value?.layers)) return 'manifest';
  return undefined;
}

/**
 * Follows `target` (an index or a manifest) to the manifest for `host`, or,
 * when that is absent, the first platform whose manifest blob is present;
 * then reads its config. Throws when no manifest or config can be read.
 */
export async function resolveManifest(dir: string, target: Descriptor, host: Platform, subject: string): Promise<ResolvedManifest> {
  const problems: Problem[] = [];
  const otherPlatforms: string[] = [];
  let desc: PlatformDescriptor = target;
  let platform: Platform | undefined;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_INDEX_DEPTH) {
      throw new LayerError('corrupt', `image ${subject}: indexes nest more than ${MAX_INDEX_DEPTH} deep`);
    }
    const blob = await readJsonBlob(dir, desc.digest, depth === 0 ? 'image target' : 'manifest');
    if (!blob.verified) problems.push(mismatch(blob, 'manifest', subject));
    const kind = manifestKind(desc.mediaType || blob.value?.mediaType, blob.value);
    if (kind === 'manifest') {
      const cfg = blob.value.config as Descriptor | undefined;
      if (typeof cfg?.digest !== 'string') throw new LayerError('corrupt', `${blob.file}: manifest has no config digest`, blob.file);
      const config = await readJsonBlob(dir, cfg.digest, 'config');
      if (!config.verified) problems.push(mismatch(config, 'config', subject));
      if (typeof config.value !== 'object' || config.value === null) {
        throw new LayerError('corrupt', `${config.file}: config is not a JSON object`, config.file);
      }
      return { manifest: blob, config, platform, otherPlatforms, problems };
    }
    if (kind !== 'index') {
      const type = JSON.stringify(desc.mediaType);
      throw new LayerError('unsupported', `${blob.file}: media type ${type} is not an image index or manifest`, blob.file);
    }
    const list = (Array.isArray(blob.value.manifests) ? blob.value.manifests : []).filter(
      (d: PlatformDescriptor) => typeof d?.digest === 'string' && !isAttestation(d),
    ) as PlatformDescriptor[];
    const ordered = [...list.filter((d) => matches(d.platform, host)), ...list.filter((d) => !matches(d.platform, host))];
    let chosen: PlatformDescriptor | undefined;
    for (const d of ordered) {
      let present = false;
      try {
        present = await exists(blobPath(dir, d.digest, 'manifest digest'));
      } catch (err) {
        if (!(err instanceof LayerError)) throw err;
        problems.push({ code: err.code, message: `${blob.file}: ${err.message}`, path: blob.file, subject });
      }
      if (present) {
        chosen = d;
        break;
      }
    }
    if (!chosen) {
      throw new LayerError(
        'not-found',
        `image ${subject}: none of the ${list.length} manifests of index ${desc.digest} is in the content store`,
        blob.file,
      );
    }
    for (const d of list) if (d !== chosen) otherPlatforms.push(platformString(d.platform));
    desc = chosen;
    platform = chosen.platform;
  }
}
