// Bytes a Durable Object's SQLite database holds, read from the files wrangler dev keeps in its
// storage directory (<persist>/v3/do/<script>-<class>/<id>.sqlite, in WAL mode). The main file
// alone is stale until a checkpoint, so the size comes from the WAL when it has committed frames:
// each commit frame records the database size in pages, and the latest committed copy of page 1
// holds the freelist count. Pages in use = size − free pages: what the rows and their b-trees
// occupy, the figure that grows with stored messages (sql.databaseSize on Cloudflare counts the
// free pages too).
import { existsSync, openSync, readdirSync, readFileSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";

export interface DbSize {
  pageSize: number;
  pages: number;
  freePages: number;
}

const WAL_MAGIC = new Set([0x377f0682, 0x377f0683]);

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Size of one database (main file + WAL), or null if it is not a readable SQLite file. */
export function dbSize(file: string): DbSize | null {
  const head = readHead(file, 100);
  if (head.length < 100 || head.toString("latin1", 0, 15) !== "SQLite format 3") return null;
  const rawPs = head.readUInt16BE(16);
  let pageSize = rawPs === 1 ? 65536 : rawPs;
  let pages = head.readUInt32BE(28);
  let freePages = head.readUInt32BE(36);
  const walFile = `${file}-wal`;
  if (existsSync(walFile)) {
    const wal = readFileSync(walFile);
    if (wal.length >= 32 && WAL_MAGIC.has(wal.readUInt32BE(0))) {
      const ps = wal.readUInt32BE(8);
      const salt1 = wal.readUInt32BE(16);
      const salt2 = wal.readUInt32BE(20);
      let page1: Buffer | null = null;
      for (let off = 32; off + 24 + ps <= wal.length; off += 24 + ps) {
        if (wal.readUInt32BE(off + 8) !== salt1 || wal.readUInt32BE(off + 12) !== salt2) break; // an older WAL generation
        const pgno = wal.readUInt32BE(off);
        if (pgno === 1) page1 = wal.subarray(off + 24, off + 24 + ps);
        const commit = wal.readUInt32BE(off + 4);
        if (commit > 0) {
          pageSize = ps;
          pages = commit;
          if (page1) freePages = page1.readUInt32BE(36);
        }
      }
    }
  }
  return { pageSize, pages, freePages };
}

export interface StorageSize {
  databases: number;
  /** Pages × page size, free pages included. */
  allocatedBytes: number;
  /** Less the free pages. */
  inUseBytes: number;
}

/**
 * The Durable Object databases under a wrangler dev storage directory (metadata files aside),
 * all of them or those of one class (`<script>-<class>/`).
 */
export function storageSize(persistTo: string, className?: string): StorageSize {
  const out: StorageSize = { databases: 0, allocatedBytes: 0, inUseBytes: 0 };
  const root = join(persistTo, "v3", "do");
  let entries;
  try {
    entries = readdirSync(root, { recursive: true, withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith(".sqlite") || e.name === "metadata.sqlite") continue;
    if (className !== undefined && !e.parentPath.endsWith(`-${className}`)) continue;
    let s: DbSize | null = null;
    try {
      s = dbSize(join(e.parentPath, e.name));
    } catch {
      // removed while we read it (a connection closing)
    }
    if (!s) continue;
    out.databases++;
    out.allocatedBytes += s.pages * s.pageSize;
    out.inUseBytes += (s.pages - s.freePages) * s.pageSize;
  }
  return out;
}
