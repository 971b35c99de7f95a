// A fleet held in memory: tests, benchmarks, and trees fetched from GitHub.
import type { FleetSource } from './types.js';

export class MemorySource implements FleetSource {
  private readonly files: Map<string, Uint8Array>;

  constructor(files: Record<string, string | Uint8Array> | Map<string, string | Uint8Array>, readonly label = 'memory') {
    const enc = new TextEncoder();
    const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
    this.files = new Map(entries.map(([k, v]) => [k, typeof v === 'string' ? enc.encode(v) : v]));
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }

  async read(path: string): Promise<Uint8Array> {
    const f = this.files.get(path);
    if (!f) throw new Error(`no such file: ${path}`);
    return f;
  }
}
