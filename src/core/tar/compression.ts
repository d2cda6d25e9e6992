/**
 * A layer blob's bytes, decompressed as they stream: uncompressed tar, gzip or
 * zstd, told apart by their magic bytes (a media type can lie, or be missing as
 * in `docker save`). Node 20's zlib has no zstd: `fzstd` (pure JS, MIT) decodes it.
 */
import * as fs from 'node:fs';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { fromFsError } from '../errors';
import { openReadOnly, readAt, type FileRegion } from './tarIndex';

export type Compression = 'none' | 'gzip' | 'zstd';

/** The compression of the blob in `region`, from its first bytes. */
export function compressionOf(region: FileRegion): Compression {
  const fd = openReadOnly(region.file, region.noFollow);
  try {
    const head = readAt(fd, Math.min(4, region.size), region.start);
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } catch (err) {
    throw fromFsError(err, region.file);
  } finally {
    fs.closeSync(fd);
  }
}

/** The blob's decompressed bytes as a stream; destroy it to stop early (the file is closed). */
export function blobStream(region: FileRegion, compression: Compression): Readable {
  // Opened here (O_NOFOLLOW for a file of an OCI-layout folder): an open that fails throws, named; the stream closes the fd.
  const fd = openReadOnly(region.file, region.noFollow);
  let raw: fs.ReadStream;
  try {
    raw = fs.createReadStream(region.file, { fd, start: region.start, end: region.start + region.size - 1, highWaterMark: 1 << 20 });
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (region.size === 0) raw.destroy();
  if (compression === 'none') return raw;
  const decode = compression === 'gzip' ? zlib.createGunzip() : new ZstdDecode();
  return pipeline(raw, decode, () => undefined);
}

/** fzstd's streaming decoder as a Transform. */
class ZstdDecode extends Transform {
  private readonly decoder = new Decompress((data) => {
    this.push(Buffer.from(data));
  });

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}
