// A fleet as it was at a commit of the local checkout: the base side of
// `fleetkeeper plan --base REF`. Reads go through git itself (ls-tree for the
// file list, one `cat-file --batch` process for every blob) so a fleet of
// hundreds of files costs two processes, not hundreds.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import type { FleetSource } from '../fleet/types.js';

const run = promisify(execFile);

async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  return stdout;
}

export interface GitInfo {
  /** Repository top level. */
  root: string;
  /** The fleet directory relative to root, "" or ending in "/". */
  prefix: string;
  head?: string;
  /** The fleet directory has uncommitted changes (tracked or untracked). */
  dirty: boolean;
}

/** Git facts about a fleet directory, or undefined when it is not inside a work tree. */
export async function gitInfo(dir: string): Promise<GitInfo | undefined> {
  const abs = resolve(dir);
  let root: string;
  try {
    root = (await git(abs, ['rev-parse', '--show-toplevel'])).trim();
  } catch {
    return undefined;
  }
  const prefix = (await git(abs, ['rev-parse', '--show-prefix'])).trim();
  const head = await resolveCommit(abs, 'HEAD').catch(() => undefined);
  const status = await git(abs, ['status', '--porcelain', '--untracked-files=all', '--', '.']);
  return { root, prefix, head, dirty: status.trim().length > 0 };
}

/** Resolves a ref to a full commit id; refuses option-like refs. */
export async function resolveCommit(cwd: string, ref: string): Promise<string> {
  if (!/^[A-Za-z0-9_./~^@{}-]{1,200}$/.test(ref) || ref.startsWith('-')) {
    throw new Error(`not a usable git ref: ${JSON.stringify(ref)}`);
  }
  try {
    return (await git(cwd, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim();
  } catch {
    throw new Error(`git ref ${ref} does not name a commit in ${cwd}`);
  }
}

export class GitRefSource implements FleetSource {
  readonly label: string;
  private blobs?: Promise<Map<string, Uint8Array>>;

  /**
   * @param root    repository top level
   * @param commit  full commit id (see resolveCommit)
   * @param prefix  fleet directory inside the repository, "" or ending in "/"
   * @param ref     how the user named it, for the label
   */
  constructor(
    readonly root: string,
    readonly commit: string,
    readonly prefix: string,
    ref: string,
  ) {
    this.label = `${prefix || './'}@${ref} (${commit.slice(0, 12)})`;
  }

  static async open(fleetDir: string, ref: string): Promise<GitRefSource> {
    const info = await gitInfo(fleetDir);
    if (!info) throw new Error(`${fleetDir} is not inside a git work tree: --base needs one`);
    const commit = await resolveCommit(info.root, ref);
    return new GitRefSource(info.root, commit, info.prefix, ref);
  }

  async list(): Promise<string[]> {
    return [...(await this.load()).keys()].sort();
  }

  async read(path: string): Promise<Uint8Array> {
    const b = (await this.load()).get(path);
    if (!b) throw new Error(`${path} does not exist at ${this.label}`);
    return b;
  }

  private load(): Promise<Map<string, Uint8Array>> {
    return (this.blobs ??= this.readAll());
  }

  private async readAll(): Promise<Map<string, Uint8Array>> {
    const args = ['ls-tree', '-r', '-z', '--full-tree', this.commit];
    if (this.prefix) args.push('--', this.prefix.replace(/\/$/, ''));
    const listing = await git(this.root, args);
    const entries: Array<{ oid: string; path: string }> = [];
    for (const rec of listing.split('\0')) {
      if (!rec) continue;
      const tab = rec.indexOf('\t');
      const [, type, oid] = rec.slice(0, tab).split(' ');
      const full = rec.slice(tab + 1);
      if (type !== 'blob' || !oid || !full.startsWith(this.prefix)) continue;
      const path = full.slice(this.prefix.length);
      // Same rule as the local source: dot files and dirs are not fleet files.
      if (path.split('/').some((p) => p.startsWith('.'))) continue;
      entries.push({ oid, path });
    }
    const contents = await catFileBatch(this.root, entries.map((e) => e.oid));
    return new Map(entries.map((e, i) => [e.path, contents[i]!]));
  }
}

/** Reads blobs through one `git cat-file --batch` process, in order. */
function catFileBatch(cwd: string, oids: string[]): Promise<Uint8Array[]> {
  if (oids.length === 0) return Promise.resolve([]);
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`git cat-file failed (${code}): ${stderr.trim()}`));
      const buf = Buffer.concat(chunks);
      const out: Uint8Array[] = [];
      let pos = 0;
      for (let i = 0; i < oids.length; i++) {
        const nl = buf.indexOf(0x0a, pos);
        const header = buf.subarray(pos, nl).toString('utf8');
        const size = Number(header.split(' ')[2]);
        if (!Number.isFinite(size)) return reject(new Error(`git cat-file: unexpected answer "${header}"`));
        out.push(new Uint8Array(buf.subarray(nl + 1, nl + 1 + size)));
        pos = nl + 1 + size + 1; // content is followed by a newline
      }
      resolvePromise(out);
    });
    child.stdin.end(oids.join('\n') + '\n');
  });
}
