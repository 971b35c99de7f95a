// The fleet as it is at one commit on GitHub: a FleetSource over the git
// trees and blobs APIs. One recursive tree listing per commit, blobs fetched
// on demand and cached (a blob sha names its content, so caching is exact).
// Only regular files inside the fleet directory are visible: no symlinks,
// no submodules, no path that climbs out.
import pLimit from 'p-limit';
import type { FleetSource } from '../fleet/types.js';
import type { GitHubClient, RepoRef } from './octokit.js';

export class FleetDirMissingError extends Error {}

/**
 * Blob contents by repo and sha, shared by every source of the app: a PR's
 * base and head share almost all files, and a sha always names the same bytes.
 */
export class BlobCache {
  private readonly map = new Map<string, Uint8Array>();
  private bytes = 0;
  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}
  get(key: string): Uint8Array | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v); // most recently used last
    }
    return v;
  }
  set(key: string, v: Uint8Array): void {
    if (this.map.has(key) || v.length > this.maxBytes / 4) return;
    this.map.set(key, v);
    this.bytes += v.length;
    for (const [k, old] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= old.length;
    }
  }
}

/** Blobs fetched at a time when a whole fleet is read (GitHub allows more, this is polite). */
const PREFETCH_CONCURRENCY = 8;

interface Entry {
  path: string;
  sha: string;
  size?: number;
}

export class GitHubFleetSource implements FleetSource {
  readonly label: string;
  private readonly blobs = new Map<string, Promise<Uint8Array>>();

  private constructor(
    private readonly octokit: GitHubClient,
    private readonly repo: RepoRef,
    readonly commit: string,
    /** Tree sha of the fleet directory: equal shas mean identical fleets. */
    readonly treeSha: string,
    private readonly files: Map<string, Entry>,
    fleetDir: string,
    private readonly cache: BlobCache,
  ) {
    this.label = `${repo.owner}/${repo.repo}@${commit.slice(0, 7)}${fleetDir ? `:${fleetDir}/` : ''}`;
  }

  /** Lists the fleet directory at `commit`. Throws FleetDirMissingError when it does not exist there. */
  static async open(octokit: GitHubClient, repo: RepoRef, commit: string, fleetDir: string, cache = new BlobCache()): Promise<GitHubFleetSource> {
    const dir = normalizeDir(fleetDir);
    let treeSha = commit;
    // Walk down to the fleet directory one level at a time (small listings).
    if (dir) {
      const { data: root } = await octokit.rest.git.getTree({ ...repo, tree_sha: commit });
      treeSha = root.sha;
      for (const part of dir.split('/')) {
        const { data } = await octokit.rest.git.getTree({ ...repo, tree_sha: treeSha });
        const sub = data.tree.find((e) => e.path === part && e.type === 'tree');
        if (!sub?.sha) throw new FleetDirMissingError(`the fleet directory "${dir}/" does not exist at ${commit.slice(0, 7)}`);
        treeSha = sub.sha;
      }
    }
    const files = new Map<string, Entry>();
    const { data } = await octokit.rest.git.getTree({ ...repo, tree_sha: treeSha, recursive: '1' });
    if (!dir) treeSha = data.sha;
    if (data.truncated) {
      // Very large trees: GitHub truncates recursive listings; walk level by level instead.
      await walk(octokit, repo, treeSha, '', files);
    } else {
      for (const e of data.tree) addEntry(files, e.path ?? '', e.type, e.mode, e.sha, e.size);
    }
    return new GitHubFleetSource(octokit, repo, commit, treeSha, files, dir, cache);
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }

  read(path: string): Promise<Uint8Array> {
    const e = this.files.get(path);
    if (!e) return Promise.reject(new Error(`${this.label}: no file ${path}`));
    let p = this.blobs.get(e.sha);
    if (!p) {
      const key = `${this.repo.owner}/${this.repo.repo}:${e.sha}`;
      const cached = this.cache.get(key);
      p = cached
        ? Promise.resolve(cached)
        : this.octokit.rest.git.getBlob({ ...this.repo, file_sha: e.sha }).then(({ data }) => {
            if (data.encoding !== 'base64' && data.encoding !== 'utf-8') throw new Error(`${this.label}: ${path}: unexpected blob encoding ${data.encoding}`);
            const bytes = new Uint8Array(Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8'));
            this.cache.set(key, bytes);
            return bytes;
          });
      p.catch(() => this.blobs.delete(e.sha));
      this.blobs.set(e.sha, p);
    }
    return p;
  }

  /** Fetches every YAML file in parallel (the loader reads one after another). */
  async prefetch(): Promise<void> {
    const limit = pLimit(PREFETCH_CONCURRENCY);
    await Promise.all([...this.files.keys()].filter((p) => /\.ya?ml$/.test(p)).map((p) => limit(() => this.read(p).catch(() => undefined))));
  }
}

export function normalizeDir(fleetDir: string): string {
  const d = fleetDir.trim().replace(/^\.\/?/, '').replace(/^\/+|\/+$/g, '');
  if (d.split('/').some((p) => p === '..' || p === '.')) throw new Error(`FLEETKEEPER_FLEET_DIR "${fleetDir}" must be a plain path inside the repo`);
  return d;
}

function addEntry(files: Map<string, Entry>, path: string, type?: string, mode?: string, sha?: string, size?: number) {
  // Regular files only: a symlink could point outside the fleet, a submodule is another repo.
  if (type !== 'blob' || !sha || (mode !== '100644' && mode !== '100755')) return;
  if (!path || path.split('/').some((p) => p === '..' || p === '.' || p === '')) return;
  files.set(path, { path, sha, size });
}

async function walk(octokit: GitHubClient, repo: RepoRef, tree: string, prefix: string, files: Map<string, Entry>) {
  const { data } = await octokit.rest.git.getTree({ ...repo, tree_sha: tree });
  for (const e of data.tree) {
    const path = prefix + (e.path ?? '');
    if (e.type === 'tree' && e.sha) await walk(octokit, repo, e.sha, `${path}/`, files);
    else addEntry(files, path, e.type, e.mode, e.sha, e.size);
  }
}
