// A fleet in a local directory (a checkout of the fleet repo).
import { readdir, open } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { FleetSource } from './types.js';

/** Reads stop here: anything bigger is refused by the loader anyway. */
const READ_CAP = 1024 * 1024;

export class LocalDirSource implements FleetSource {
  readonly label: string;

  constructor(readonly dir: string) {
    this.label = dir;
  }

  /** Regular files below dir; entries starting with '.' (.git, .github, editor files) are skipped. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string, depth: number): Promise<void> => {
      if (depth > 8) return;
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.name.startsWith('.') || e.name === 'node_modules') continue;
        const full = join(d, e.name);
        if (e.isDirectory()) await walk(full, depth + 1);
        else if (e.isFile() || e.isSymbolicLink()) out.push(relative(this.dir, full).split(sep).join('/'));
      }
    };
    await walk(this.dir, 0);
    return out.sort();
  }

  async read(path: string): Promise<Uint8Array> {
    if (path.split('/').includes('..')) throw new Error(`refusing to read outside the fleet: ${path}`);
    const fh = await open(join(this.dir, path), 'r');
    try {
      const buf = Buffer.alloc(READ_CAP + 1);
      let n = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n >= buf.length) break;
      }
      return new Uint8Array(buf.subarray(0, n));
    } finally {
      await fh.close();
    }
  }
}
