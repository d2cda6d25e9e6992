/**
 * The one model every layout reader produces. Views and the CLI see only this;
 * they never read the disk themselves.
 */
import type { ErrorCode } from './errors';

export type LayoutKind = 'legacy-graph' | 'image-db' | 'containerd' | 'archive';

/** One layout found under a root: e.g. `image/overlay2` or containerd namespace `moby`. */
export interface Source {
  /** Stable key, unique within a store: `${root}#${kind}:${detail}`. */
  readonly key: string;
  /** The storage root the user configured. */
  readonly root: string;
  readonly kind: LayoutKind;
  /** The folder the layout lives in (`<root>/graph`, `<root>/image/overlay2`, the containerd root). */
  readonly dir: string;
  /** Storage driver (`aufs`, `overlay2`, `vfs`…) or containerd snapshotter (`overlayfs`). */
  readonly driver: string;
  /** containerd namespace (`moby` first); undefined for Docker's own layouts. */
  readonly namespace?: string;
  /** Human label: `image/overlay2`, `graph (aufs)`, `containerd moby/overlayfs`. */
  readonly label: string;
}

/** Something that went wrong with one item; never hides the other items. */
export interface Problem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly path?: string;
  /** The id of the image / layer / container concerned. */
  readonly subject?: string;
}

export interface Platform {
  readonly os?: string;
  readonly architecture?: string;
  readonly variant?: string;
}

/**
 * A history step as `docker history` shows it, bottom (index 0) to top.
 * Empty steps (ENV, CMD, LABEL…) have no layer of their own.
 */
export interface Step {
  readonly index: number;
  readonly createdBy: string;
  readonly created?: string;
  readonly comment?: string;
  readonly empty: boolean;
  /** Key of the layer this step made; undefined for an empty step. */
  readonly layerKey?: string;
  /** The layer's own size in bytes (0 for an empty step). */
  readonly size: number;
  /** The (intermediate) image whose top this step is, when one exists on disk (local builds). */
  readonly imageId?: string;
}

export interface Image {
  /** Unique within a store: `${source.key}/${id}`. */
  readonly key: string;
  /** `sha256:<hex>` (content-addressed, containerd) or the 64-hex graph id (legacy). */
  readonly id: string;
  readonly source: Source;
  /** `repo:tag`, e.g. `fixture/app:1.0`. */
  readonly tags: string[];
  /** `repo@sha256:…`. */
  readonly digests: string[];
  readonly created?: string;
  /** Sum of the sizes of its layers, as `docker image inspect` reports Size. */
  readonly size: number;
  /** Parent image id (local builds only). */
  readonly parentId?: string;
  readonly platform: Platform;
  /** Every history step bottom to top, empty ones included. */
  readonly steps: Step[];
  /** Keys of its layers bottom to top (the non-empty steps'). */
  readonly layerKeys: string[];
  /** An untagged image that is the parent of another (`docker images` hides these without `-a`). */
  readonly intermediate?: boolean;
  readonly problems: Problem[];
}

/**
 * Where a layer's files are and how to read them: a folder on disk or, with
 * `tar`, a tar blob inside an image archive (read in place by src/core/tar/).
 */
export interface LayerContent {
  /** Folder holding the files. */
  readonly dir: string;
  /**
   * `diff`: the folder holds only this layer's changes (overlay2, aufs, containerd overlayfs).
   * `snapshot`: the folder holds the whole filesystem as of this layer (vfs, btrfs, zfs);
   *  its own changes are found by comparing with `parentDir`.
   */
  readonly form: 'diff' | 'snapshot';
  /** Parent layer's snapshot folder (form `snapshot` only). */
  readonly parentDir?: string;
  /** How deletions are recorded: `.wh.` files (aufs, archives) or 0/0 character devices (overlay). */
  readonly whiteouts: 'aufs' | 'overlay';
  /** Content folders of the layers below, nearest first (form `diff`): decides added vs modified. */
  readonly lowerDirs: string[];
  /** Whiteout style of each lower folder, same order as `lowerDirs` (defaults to `whiteouts`). */
  readonly lowerWhiteouts?: ('aufs' | 'overlay')[];
  /**
   * Set when the layer lives in an image archive: its diff is this tar blob
   * (form `diff`, `.wh.` whiteouts, no `lowerDirs`), and `dir` is the file that
   * holds the blob, so that what shows a layer's place on disk still can.
   */
  readonly tar?: TarLayer;
}

/** A blob of an image archive: `size` bytes at offset `start` of `file` (the archive, or a blob file of an OCI-layout folder). */
export interface TarBlob {
  readonly file: string;
  readonly start: number;
  readonly size: number;
  /** Its name inside the archive (`<id>/layer.tar`, `blobs/sha256/<hex>`), for messages. */
  readonly name: string;
  /** A blob file of an OCI-layout folder: opened O_NOFOLLOW (a symlink swapped in after its lstat is refused). */
  readonly noFollow?: true;
}

/** A layer's diff as a tar blob of an image archive, over the blobs of the layers below it. */
export interface TarLayer {
  readonly blob: TarBlob;
  /** The blobs of the layers below, nearest first: decide added vs modified. */
  readonly lowerBlobs: readonly TarBlob[];
}

export interface Layer {
  /** Unique within a store: `${source.key}/${id}`. */
  readonly key: string;
  /** Chain id `sha256:…` (image-db, containerd), graph id (legacy), mount id (container rw layer). */
  readonly id: string;
  readonly source: Source;
  readonly diffId?: string;
  readonly parentKey?: string;
  readonly parentId?: string;
  /** Bytes of the layer's own files. */
  readonly size: number;
  /** True when the layer changes no file (legacy CMD layers, empty diffs). */
  readonly empty: boolean;
  /** Undefined when the content folder is missing (the problem says why). */
  readonly content?: LayerContent;
  readonly problems: Problem[];
}

export interface Container {
  readonly key: string;
  readonly id: string;
  /** Without the leading slash. */
  readonly name: string;
  /** Image id the container was created from. */
  readonly imageId?: string;
  /** The image reference it was started with (`fixture/app:1.0`). */
  readonly imageRef?: string;
  readonly created?: string;
  readonly source: Source;
  /** The container's read-write layer (its `docker diff`). */
  readonly layer?: Layer;
  /** Path to `config.v2.json` / `config.json`. */
  readonly configPath?: string;
  readonly problems: Problem[];
}

/** Which kind of JSON document stands for a layer (LAYOUTS.md, "A layer's JSON"). */
export type DocumentKind =
  /** `graph/<id>/json`, verbatim. */
  | 'legacy-json'
  /** The config of the (intermediate) image this step made, verbatim. */
  | 'image-config'
  /** The v1-compatible layer JSON `docker save` would write, made from the image's history. */
  | 'v1-compat';

export interface LayerDocument {
  readonly kind: DocumentKind;
  /** The document's text: verbatim bytes for `legacy-json` / `image-config`, pretty JSON for `v1-compat`. */
  readonly text: string;
  /** The file it was read from (undefined for `v1-compat`). */
  readonly path?: string;
  /** The image id whose step this document describes. */
  readonly imageId: string;
  readonly stepIndex: number;
}

/** What one reader found in one source. */
export interface SourceContents {
  readonly source: Source;
  readonly images: Image[];
  readonly layers: Layer[];
  readonly containers: Container[];
  /** Problems not tied to a single item (an unreadable repositories file…). */
  readonly problems: Problem[];
}

/** The one contract every layout reader implements. */
export interface LayoutReader {
  readonly source: Source;
  /** Reads the index of the source: images, layers, containers. Never throws for one bad item. */
  load(signal?: AbortSignal): Promise<SourceContents>;
  /** The JSON document for step `stepIndex` of `image` (see DocumentKind). */
  document(image: Image, stepIndex: number, signal?: AbortSignal): Promise<LayerDocument>;
}

export const HEX64 = /^[0-9a-f]{64}$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `sha256:abc…` → `abc…` (first 12 by default). */
export function shortId(id: string, length = 12): string {
  const hex = id.startsWith('sha256:') ? id.slice(7) : id;
  return hex.slice(0, length);
}
