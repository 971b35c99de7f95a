// A real git repository in a temp dir, driven with the git CLI. The stand-in
// serves GitHub's git and contents endpoints from it, and tests make their
// base/head commits in it, so what the app reads and writes are real git
// objects (a tree the app creates can be checked out and diffed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ENV = {
  GIT_AUTHOR_NAME: 'Fleet Operator',
  GIT_AUTHOR_EMAIL: 'operator@example.test',
  GIT_COMMITTER_NAME: 'Fleet Operator',
  GIT_COMMITTER_EMAIL: 'operator@example.test',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  size?: number;
  path: string;
}

export interface CommitInfo {
  sha: string;
  tree: string;
  parents: string[];
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  message: string;
}

export class GitRepo {
  readonly dir: string;
  private counter = 0;

  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'fk-standin-repo-'));
    mkdirSync(this.dir, { recursive: true });
    if (!existsSync(join(this.dir, '.git'))) {
      this.git(['init', '-q', '-b', 'main']);
      this.git(['config', 'commit.gpgsign', 'false']);
    }
  }

  git(args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): string {
    return execFileSync('git', args, {
      cwd: this.dir,
      env: { ...process.env, ...ENV, ...opts.env },
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    }).toString('utf8');
  }

  gitBuffer(args: string[]): Buffer {
    return execFileSync('git', args, { cwd: this.dir, env: { ...process.env, ...ENV }, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  }

  /** Write files (null = delete) in the work tree of `branch` and commit them; returns the commit sha. */
  commit(branch: string, files: Record<string, string | null>, message = `change ${++this.counter}`): string {
    const hasCommits = this.tryRevParse('HEAD') !== undefined;
    if (hasCommits) {
      if (this.tryRevParse(`refs/heads/${branch}`)) this.git(['checkout', '-q', branch]);
      else this.git(['checkout', '-q', '-b', branch]);
    } else if (branch !== 'main') {
      this.git(['checkout', '-q', '-b', branch]);
    }
    for (const [path, content] of Object.entries(files)) {
      const abs = join(this.dir, path);
      if (content === null) {
        if (existsSync(abs)) unlinkSync(abs);
      } else {
        mkdirSync(dirname(abs), { recursive: true });
        writeFileSync(abs, content);
      }
    }
    this.git(['add', '-A']);
    this.git(['commit', '-q', '--allow-empty', '-m', message]);
    return this.revParse('HEAD');
  }

  /** Start `branch` at `from` (a sha or branch). */
  branch(branch: string, from: string): void {
    this.git(['branch', '-f', branch, from]);
  }

  revParse(rev: string): string {
    return this.git(['rev-parse', '--verify', '--quiet', rev]).trim();
  }

  tryRevParse(rev: string): string | undefined {
    try {
      return this.revParse(rev) || undefined;
    } catch {
      return undefined;
    }
  }

  objectType(sha: string): string | undefined {
    try {
      return this.git(['cat-file', '-t', sha]).trim();
    } catch {
      return undefined;
    }
  }

  /** Entries of a tree (or of a commit's tree); recursive includes subtrees, like GitHub's recursive=1. */
  lsTree(treeish: string, recursive: boolean): TreeEntry[] {
    const args = ['ls-tree', '-l', '-z'];
    if (recursive) args.push('-r', '-t');
    args.push(treeish);
    return this.git(args)
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf('\t');
        const [mode, type, sha, size] = line.slice(0, tab).split(/\s+/) as [string, TreeEntry['type'], string, string];
        const e: TreeEntry = { mode, type, sha, path: line.slice(tab + 1) };
        if (type === 'blob') e.size = Number(size);
        return e;
      });
  }

  readBlob(sha: string): Buffer {
    return this.gitBuffer(['cat-file', 'blob', sha]);
  }

  /** Content of `path` at `rev`, or undefined when absent. */
  show(rev: string, path: string): string | undefined {
    try {
      return this.git(['show', `${rev}:${path}`]);
    } catch {
      return undefined;
    }
  }

  commitInfo(sha: string): CommitInfo {
    const raw = this.git(['cat-file', 'commit', sha]);
    const [head, ...rest] = raw.split('\n\n');
    const info: CommitInfo = {
      sha,
      tree: '',
      parents: [],
      author: { name: '', email: '', date: '' },
      committer: { name: '', email: '', date: '' },
      message: rest.join('\n\n').replace(/\n$/, ''),
    };
    for (const line of (head ?? '').split('\n')) {
      const sp = line.indexOf(' ');
      const key = line.slice(0, sp);
      const val = line.slice(sp + 1);
      if (key === 'tree') info.tree = val;
      else if (key === 'parent') info.parents.push(val);
      else if (key === 'author' || key === 'committer') {
        const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(val);
        if (m) info[key] = { name: m[1]!, email: m[2]!, date: new Date(Number(m[3]) * 1000).toISOString().replace('.000Z', 'Z') };
      }
    }
    return info;
  }

  /** Build a tree like GitHub's POST git/trees: entries on top of base_tree (content → new blob, sha null → delete). */
  createTree(baseTree: string | undefined, entries: Array<{ path: string; mode: string; type: string; sha?: string | null; content?: string }>): string {
    const index = join(this.dir, '.git', `standin-index-${process.pid}-${++this.counter}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      if (baseTree) this.git(['read-tree', baseTree], { env });
      else this.git(['read-tree', '--empty'], { env });
      for (const e of entries) {
        if (e.content !== undefined) {
          const sha = this.git(['hash-object', '-w', '--stdin'], { input: e.content }).trim();
          this.git(['update-index', '--add', '--cacheinfo', `${e.mode},${sha},${e.path}`], { env });
        } else if (e.sha === null) {
          this.git(['update-index', '--force-remove', e.path], { env });
        } else if (e.sha) {
          this.git(['update-index', '--add', '--cacheinfo', `${e.mode},${e.sha},${e.path}`], { env });
        }
      }
      return this.git(['write-tree'], { env }).trim();
    } finally {
      rmSync(index, { force: true });
    }
  }

  createCommit(tree: string, parents: string[], message: string, author?: { name: string; email: string }): string {
    const args = ['commit-tree', tree];
    for (const p of parents) args.push('-p', p);
    const env: Record<string, string> = {};
    if (author) {
      env.GIT_AUTHOR_NAME = env.GIT_COMMITTER_NAME = author.name;
      env.GIT_AUTHOR_EMAIL = env.GIT_COMMITTER_EMAIL = author.email;
    }
    return this.git(args, { input: message, env }).trim();
  }

  updateRef(ref: string, sha: string): void {
    this.git(['update-ref', ref, sha]);
  }

  isAncestor(ancestor: string, descendant: string): boolean {
    try {
      this.git(['merge-base', '--is-ancestor', ancestor, descendant]);
      return true;
    } catch {
      return false;
    }
  }

  mergeBase(a: string, b: string): string | undefined {
    try {
      return this.git(['merge-base', a, b]).trim();
    } catch {
      return undefined;
    }
  }

  revList(range: string): string[] {
    return this.git(['rev-list', '--reverse', range]).split('\n').filter(Boolean);
  }

  /** Files changed between two commits, like GitHub's compare file list. */
  diffNameStatus(from: string, to: string): Array<{ status: string; path: string; previous?: string; sha?: string }> {
    const parts = this.git(['diff', '--name-status', '-z', '-M', from, to]).split('\0').filter(Boolean);
    const out: Array<{ status: string; path: string; previous?: string }> = [];
    for (let i = 0; i < parts.length; ) {
      const st = parts[i++]!;
      if (st.startsWith('R') || st.startsWith('C')) {
        const previous = parts[i++]!;
        out.push({ status: st[0]!, previous, path: parts[i++]! });
      } else out.push({ status: st, path: parts[i++]! });
    }
    return out;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
