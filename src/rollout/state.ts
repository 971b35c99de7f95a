// What the engine must remember between runs: which commit reached which host,
// which tags are bad, when a ring completed (bake and promotion survive a
// restart), and a per-rollout journal so a killed run can be resumed without
// redoing finished hosts. The file store keeps one JSON document per concern
// and replaces it atomically (write to a temp file, rename), so a crash leaves
// either the old or the new state, never half of one.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { HostOutcome } from '../host/types.js';

export interface AppliedRecord {
  commit: string;
  customerId: string;
  toTag: string;
  outcome: HostOutcome;
  at: string;
}

export interface BadTag {
  tag: string;
  reason: string;
  at: string;
}

export interface RingCompletion {
  ring: string;
  tag: string;
  completedAt: string;
  /** Set when the bake finished healthy. */
  bakedAt?: string;
}

/**
 * A bake that runs after an apply (the GitHub App's), kept so that a restarted
 * bot resumes it with the time left instead of silently never promoting.
 */
export interface PendingBake {
  /** One per repository and ring (`owner/repo:ring`): a newer apply to the ring replaces it. */
  key: string;
  /** Unique per bake, so an older bake that ends late never clears a newer one. */
  id: string;
  owner: string;
  repo: string;
  /** GitHub App installation to act as when resuming without a webhook. */
  installationId: number;
  defaultBranch: string;
  ring: string;
  tag: string;
  commit: string;
  applyRunUrl: string | null;
  bakeRunId?: number;
  bakeRunUrl?: string | null;
  startedAt: string;
  until: string;
  /** The ring's apply result (host details trimmed), for the promotion PR's evidence. */
  ringResult?: unknown;
}

export type JournalEntry =
  | { state: 'started'; toTag: string; runId: string; at: string }
  | { state: 'finished'; toTag: string; runId: string; outcome: HostOutcome; message: string; at: string };

export interface StateStore {
  getApplied(commit: string, customerId: string): Promise<AppliedRecord | undefined>;
  recordApplied(record: AppliedRecord): Promise<void>;

  isBadTag(tag: string): Promise<BadTag | undefined>;
  markBadTag(tag: string, reason: string): Promise<void>;
  badTags(): Promise<BadTag[]>;

  getRingCompletion(ring: string, tag: string): Promise<RingCompletion | undefined>;
  recordRingCompletion(c: RingCompletion): Promise<void>;

  /** Journal of one rollout, keyed by commit (or a digest of the desired state). */
  journal(key: string): Promise<Record<string, JournalEntry>>;
  journalHost(key: string, customerId: string, entry: JournalEntry): Promise<void>;
  /** Forget these hosts' entries (all when ids is omitted) in a rollout's journal. */
  clearJournal(key: string, ids?: string[]): Promise<void>;

  // Optional (added later): stores without them cannot resume bakes after a restart.
  pendingBakes?(): Promise<PendingBake[]>;
  savePendingBake?(bake: PendingBake): Promise<void>;
  /** Forgets the pending bake under `key`; when `id` is given, only if it is still that bake. */
  clearPendingBake?(key: string, id?: string): Promise<void>;
}

interface StateDoc {
  applied: Record<string, AppliedRecord>; // `${commit}\u0000${customer}`
  badTags: Record<string, BadTag>;
  rings: Record<string, RingCompletion>; // `${ring}\u0000${tag}`
  bakes?: Record<string, PendingBake>; // by PendingBake.key
}

function emptyDoc(): StateDoc {
  return { applied: {}, badTags: {}, rings: {} };
}

const key2 = (a: string, b: string) => `${a}\u0000${b}`;

/** In-memory store: unit tests, and plans (which must not remember anything). */
export class MemoryStateStore implements StateStore {
  protected doc: StateDoc = emptyDoc();
  protected journals: Record<string, Record<string, JournalEntry>> = {};

  async getApplied(commit: string, customerId: string) {
    return this.doc.applied[key2(commit, customerId)];
  }
  async recordApplied(r: AppliedRecord) {
    this.doc.applied[key2(r.commit, r.customerId)] = r;
    await this.persist();
  }
  async isBadTag(tag: string) {
    return this.doc.badTags[tag];
  }
  async markBadTag(tag: string, reason: string) {
    if (this.doc.badTags[tag]) return; // keep the first reason: it is the one that matters
    this.doc.badTags[tag] = { tag, reason, at: new Date().toISOString() };
    await this.persist();
  }
  async badTags() {
    return Object.values(this.doc.badTags);
  }
  async getRingCompletion(ring: string, tag: string) {
    return this.doc.rings[key2(ring, tag)];
  }
  async recordRingCompletion(c: RingCompletion) {
    this.doc.rings[key2(c.ring, c.tag)] = c;
    await this.persist();
  }
  async journal(key: string) {
    return { ...(this.journals[key] ?? {}) };
  }
  async journalHost(key: string, customerId: string, entry: JournalEntry) {
    (this.journals[key] ??= {})[customerId] = entry;
    await this.persistJournal(key);
  }
  async clearJournal(key: string, ids?: string[]) {
    const j = (this.journals[key] ??= {});
    for (const id of ids ?? Object.keys(j)) delete j[id];
    await this.persistJournal(key);
  }
  async pendingBakes() {
    return Object.values(this.doc.bakes ?? {});
  }
  async savePendingBake(b: PendingBake) {
    (this.doc.bakes ??= {})[b.key] = b;
    await this.persist();
  }
  async clearPendingBake(key: string, id?: string) {
    const cur = this.doc.bakes?.[key];
    if (!cur || (id !== undefined && cur.id !== id)) return;
    delete this.doc.bakes![key];
    await this.persist();
  }
  protected async persist(): Promise<void> {}
  protected async persistJournal(_key: string): Promise<void> {}
}

/**
 * Default state directory: per user, outside any checkout, so a CLI apply in a
 * fleet repo neither dirties the working tree (which would change what `plan`
 * compares against) nor risks being committed.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'fleetkeeper');
}

export function stateDirFromEnv(explicit?: string): string {
  return resolve(explicit || process.env.FLEETKEEPER_STATE_DIR || defaultStateDir());
}

/**
 * JSON files under `dir`: state.json (applied, bad tags, rings) and
 * journal/<key>.json per rollout. Writes are serialised per file and atomic.
 */
export class FileStateStore extends MemoryStateStore {
  private queue: Promise<void> = Promise.resolve();
  private loaded = false;

  private constructor(readonly dir: string) {
    super();
  }

  static async open(dir: string): Promise<FileStateStore> {
    const s = new FileStateStore(dir);
    await mkdir(join(dir, 'journal'), { recursive: true });
    s.doc = (await readJson<StateDoc>(join(dir, 'state.json'))) ?? emptyDoc();
    s.doc.applied ??= {};
    s.doc.badTags ??= {};
    s.doc.rings ??= {};
    s.loaded = true;
    return s;
  }

  private loading = new Map<string, Promise<void>>();

  override async journal(key: string) {
    // One load per key, shared by concurrent callers, so no write is lost to a late read.
    let loading = this.loading.get(key);
    if (!loading) {
      loading = readJson<Record<string, JournalEntry>>(this.journalPath(key)).then((j) => {
        this.journals[key] = { ...(j ?? {}), ...(this.journals[key] ?? {}) };
      });
      this.loading.set(key, loading);
    }
    await loading;
    return super.journal(key);
  }

  override async journalHost(key: string, customerId: string, entry: JournalEntry) {
    await this.journal(key); // load before the first write so earlier entries survive
    await super.journalHost(key, customerId, entry);
  }

  override async clearJournal(key: string, ids?: string[]) {
    await this.journal(key);
    await super.clearJournal(key, ids);
  }

  protected override persist() {
    if (!this.loaded) return Promise.resolve();
    return this.enqueue(() => atomicWrite(join(this.dir, 'state.json'), this.doc));
  }

  protected override persistJournal(key: string) {
    return this.enqueue(() => atomicWrite(this.journalPath(key), this.journals[key] ?? {}));
  }

  private journalPath(key: string) {
    // Keys are commits or hex digests; anything else is made file-name safe.
    return join(this.dir, 'journal', key.replace(/[^A-Za-z0-9_.-]/g, '_') + '.json');
  }

  private enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.queue.then(write);
    this.queue = next.catch(() => {});
    return next;
  }
}

let tmpCounter = 0;
async function atomicWrite(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`state file ${path} is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}
