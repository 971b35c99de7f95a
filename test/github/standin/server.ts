// A stand-in for the part of GitHub's REST API the app uses: a real HTTP
// server on 127.0.0.1, serving one repository from a real git repo, with
// check runs and pull requests kept in memory. Every request is recorded and
// checked against GitHub's OpenAPI description (openapi.ts); a request that
// matches no operation or fails validation is a problem and `assertClean()`
// fails the test. GitHub's own rules that the description does not express
// (completed needs a conclusion, one open PR per head/base, fast-forward
// ref updates, auth) are enforced here too.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { GitRepo, type CommitInfo, type TreeEntry } from './git-repo.js';
import { OpenApiValidator } from './openapi.js';

export interface RecordedRequest {
  method: string;
  path: string; // without the /api/v3 prefix
  query: Record<string, unknown>;
  body: unknown;
  operationId?: string;
  status: number;
  problems: string[];
  at: number;
}

export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: 'notice' | 'warning' | 'failure';
  message: string;
  title?: string;
  raw_details?: string;
}

export interface StoredCheckRun {
  id: number;
  name: string;
  head_sha: string;
  external_id: string | null;
  details_url: string | null;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  started_at: string | null;
  completed_at: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  annotations: Annotation[];
  actions: Array<{ label: string; description: string; identifier: string }>;
  /** Every create/update body in order, to assert on progress and batching. */
  writes: Array<Record<string, unknown>>;
}

export interface StoredPull {
  id: number;
  number: number;
  title: string;
  body: string | null;
  head: string; // branch name
  base: string;
  state: 'open' | 'closed';
  created_at: string;
  updated_at: string;
}

export interface StandinOptions {
  appId: number;
  appSlug?: string;
  /** PEM or KeyObject of the app's key pair: the stand-in checks JWTs like GitHub does. */
  appPublicKey: string | KeyObject;
  installationId?: number;
  owner?: string;
  repo?: string;
  defaultBranch?: string;
  git?: GitRepo;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: unknown[],
  ) {
    super(message);
  }
}

const DOCS = 'https://docs.github.com/rest';

export class GitHubStandin {
  readonly git: GitRepo;
  readonly owner: string;
  readonly repo: string;
  readonly repoId = 1296269;
  readonly appId: number;
  readonly appSlug: string;
  readonly installationId: number;
  readonly defaultBranch: string;
  readonly requests: RecordedRequest[] = [];
  readonly problems: string[] = [];
  readonly checkRuns = new Map<number, StoredCheckRun>();
  readonly pulls = new Map<number, StoredPull>();
  /** Rejects every call of an operation while set (to test error handling). */
  readonly failOperations = new Map<string, number>();

  private server?: Server;
  private port = 0;
  private readonly validator = new OpenApiValidator();
  private readonly publicKey: KeyObject;
  private readonly tokens = new Set<string>();
  private nextCheckRunId = 4000;
  private nextPull = 1;
  private nextPullId = 900000;

  constructor(opts: StandinOptions) {
    this.git = opts.git ?? new GitRepo();
    this.owner = opts.owner ?? 'Codertocat';
    this.repo = opts.repo ?? 'fleet';
    this.appId = opts.appId;
    this.appSlug = opts.appSlug ?? 'fleetkeeper';
    this.installationId = opts.installationId ?? 2311213;
    this.defaultBranch = opts.defaultBranch ?? 'main';
    this.publicKey = typeof opts.appPublicKey === 'string' ? createPublicKey(opts.appPublicKey) : opts.appPublicKey;
  }

  get openapiVersion(): string {
    return this.validator.version;
  }
  /** Host:port for GHE_HOST. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }
  get url(): string {
    return `http://${this.host}`;
  }
  /** What Probot derives from GHE_HOST + GHE_PROTOCOL=http. */
  get baseUrl(): string {
    return `${this.url}/api/v3`;
  }
  get fullName(): string {
    return `${this.owner}/${this.repo}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
  }

  /** Fails when any request was unexpected or did not match GitHub's description. */
  assertClean(): void {
    if (this.problems.length) throw new Error(`GitHub stand-in saw ${this.problems.length} bad request(s):\n- ${this.problems.join('\n- ')}`);
  }

  /** An installation token for tests that talk to the stand-in with a plain Octokit. */
  issueToken(): string {
    const token = `ghs_${randomBytes(18).toString('base64url')}`;
    this.tokens.add(token);
    return token;
  }

  calls(operationId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  checkRunsNamed(name: string, headSha?: string): StoredCheckRun[] {
    return [...this.checkRuns.values()].filter((c) => c.name === name && (!headSha || c.head_sha === headSha));
  }

  // ---------------------------------------------------------------- plumbing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://standin');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname === '/_standin/state') {
      // Not GitHub: a read-only view for demos and debugging (check runs, PRs, problems).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ checkRuns: [...this.checkRuns.values()], pulls: [...this.pulls.values()], problems: this.problems, requests: this.requests.length }, null, 2));
      return;
    }
    const rec: RecordedRequest = { method, path: url.pathname, query: {}, body: undefined, status: 0, problems: [], at: Date.now() };
    this.requests.push(rec);
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'x-github-media-type': 'github.v3; format=json',
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '4999',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
        ...headers,
      });
      res.end(status === 204 ? undefined : JSON.stringify(data));
    };
    const fail = (p: string) => {
      rec.problems.push(p);
      this.problems.push(`${method} ${url.pathname}${url.search}: ${p}`);
    };
    try {
      if (!url.pathname.startsWith('/api/v3/')) throw new HttpError(404, 'Not Found (the app must use the GHE-style /api/v3 base URL)');
      const path = url.pathname.slice('/api/v3'.length);
      rec.path = path;
      let body: unknown;
      if (raw.length) {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new HttpError(400, 'Problems parsing JSON');
        }
      }
      rec.body = body;
      const m = this.validator.match(method, path, url.searchParams, body);
      if (!m) {
        fail('no such operation in the OpenAPI subset (unexpected call)');
        throw new HttpError(404, 'Not Found');
      }
      rec.operationId = m.operationId;
      rec.query = m.query;
      if (m.problems.length) {
        for (const p of m.problems) fail(p);
        throw new HttpError(422, 'Invalid request.', m.problems);
      }
      this.authenticate(req, m.operationId, m.pathParams);
      const failing = this.failOperations.get(m.operationId);
      if (failing) throw new HttpError(failing, `Injected failure for ${m.operationId}`);
      const [status, data] = this.route(m.operationId, m.pathParams, m.query, body as Record<string, unknown>);
      send(status, data);
    } catch (e) {
      if (e instanceof HttpError) {
        // 404 from an existence check (get-ref) is normal; other client errors are the app's fault.
        if (e.status >= 400 && e.status !== 404 && !rec.problems.length && !this.failOperations.has(rec.operationId ?? '')) fail(`answered ${e.status}: ${e.message}`);
        send(e.status, { message: e.message, documentation_url: DOCS, status: String(e.status), ...(e.errors ? { errors: e.errors } : {}) });
      } else {
        fail(`stand-in error: ${(e as Error).stack ?? e}`);
        send(500, { message: 'Server Error' });
      }
    }
  }

  private authenticate(req: IncomingMessage, operationId: string, params: Record<string, string>): void {
    const auth = req.headers.authorization ?? '';
    if (operationId.startsWith('apps/')) {
      const m = /^bearer (.+)$/i.exec(auth);
      if (!m) throw new HttpError(401, 'A JSON web token could not be decoded');
      this.verifyJwt(m[1]!);
      if (operationId === 'apps/create-installation-access-token' && Number(params.installation_id) !== this.installationId) throw new HttpError(404, 'Not Found');
      return;
    }
    const m = /^(?:token|bearer) (.+)$/i.exec(auth);
    if (!m || !this.tokens.has(m[1]!)) throw new HttpError(401, 'Bad credentials');
    if (params.owner !== this.owner || params.repo !== this.repo) throw new HttpError(404, 'Not Found');
  }

  private verifyJwt(jwt: string): void {
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) throw new HttpError(401, 'A JSON web token could not be decoded');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iss?: string | number; exp?: number; iat?: number };
    if (header.alg !== 'RS256') throw new HttpError(401, "'alg' must be RS256");
    if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, 'base64url'))) throw new HttpError(401, 'A JSON web token could not be decoded');
    if (String(payload.iss) !== String(this.appId)) throw new HttpError(401, "'Issuer' claim ('iss') must be an Integer");
    const now = Math.floor(Date.now() / 1000);
    if (!payload.exp || payload.exp < now || payload.exp - (payload.iat ?? now) > 600) throw new HttpError(401, "'Expiration time' claim ('exp') is too far in the future");
  }

  // ------------------------------------------------------------ operations

  private route(op: string, p: Record<string, string>, q: Record<string, unknown>, body: Record<string, unknown>): [number, unknown] {
    switch (op) {
      case 'apps/get-authenticated':
        return [200, this.appObject()];
      case 'apps/create-installation-access-token': {
        const token = `ghs_${randomBytes(18).toString('base64url')}`;
        this.tokens.add(token);
        return [201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'), permissions: this.permissions(), repository_selection: 'selected' }];
      }
      case 'git/get-tree':
        return [200, this.getTree(p.tree_sha!, q.recursive !== undefined)];
      case 'git/get-blob':
        return [200, this.getBlob(p.file_sha!)];
      case 'git/get-commit':
        return [200, this.gitCommitObject(this.resolveCommit(p.commit_sha!))];
      case 'git/get-ref':
        return [200, this.getRef(p.ref!)];
      case 'git/create-tree':
        return [201, this.createTree(body)];
      case 'git/create-commit':
        return [201, this.createCommit(body)];
      case 'git/create-ref':
        return [201, this.createRef(body)];
      case 'git/update-ref':
        return [200, this.updateRef(p.ref!, body)];
      case 'repos/compare-commits-with-basehead':
        return [200, this.compare(p.basehead!)];
      case 'checks/create':
        return [201, this.createCheckRun(body)];
      case 'checks/update':
        return [200, this.updateCheckRun(Number(p.check_run_id), body)];
      case 'checks/get': {
        const run = this.checkRuns.get(Number(p.check_run_id));
        if (!run) throw new HttpError(404, 'Not Found');
        return [200, this.checkRunObject(run)];
      }
      case 'checks/list-for-ref':
        return [200, this.listCheckRuns(p.ref!, q)];
      case 'pulls/list':
        return [200, this.listPulls(q)];
      case 'pulls/create':
        return [201, this.createPull(body)];
      case 'pulls/update':
        return [200, this.updatePull(Number(p.pull_number), body)];
      default:
        throw new HttpError(404, `stand-in does not implement ${op}`);
    }
  }

  private api(path: string): string {
    return `${this.baseUrl}/repos/${this.fullName}${path}`;
  }
  private html(path: string): string {
    return `${this.url}/${this.fullName}${path}`;
  }

  permissions(): Record<string, string> {
    return { checks: 'write', contents: 'write', metadata: 'read', pull_requests: 'write' };
  }

  appObject() {
    return {
      id: this.appId,
      slug: this.appSlug,
      node_id: 'MDM6QXBwMQ==',
      client_id: 'Iv1.standin',
      owner: this.userObject(this.owner, 'Organization'),
      name: 'fleetkeeper',
      description: 'GitOps reconciler for ERPNext hosts',
      external_url: 'http://127.0.0.1/',
      html_url: `${this.url}/apps/${this.appSlug}`,
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
      permissions: this.permissions(),
      events: ['check_run', 'pull_request', 'push'],
      installations_count: 1,
    };
  }

  userObject(login: string, type: 'User' | 'Organization' | 'Bot' = 'User') {
    return {
      login,
      id: 21031067,
      node_id: 'MDQ6VXNlcjIxMDMxMDY3',
      avatar_url: `${this.url}/avatars/${login}`,
      gravatar_id: '',
      url: `${this.baseUrl}/users/${login}`,
      html_url: `${this.url}/${login}`,
      type,
      site_admin: false,
    };
  }

  repoObject() {
    return {
      id: this.repoId,
      node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5',
      name: this.repo,
      full_name: this.fullName,
      private: true,
      owner: this.userObject(this.owner),
      html_url: this.html(''),
      url: `${this.baseUrl}/repos/${this.fullName}`,
      default_branch: this.defaultBranch,
      fork: false,
    };
  }

  resolveCommit(rev: string): string {
    const sha = this.git.tryRevParse(`${rev}^{commit}`);
    if (!sha) throw new HttpError(422, `No commit found for SHA: ${rev}`);
    return sha;
  }

  private treeEntry(e: TreeEntry) {
    return {
      path: e.path,
      mode: e.mode,
      type: e.type,
      sha: e.sha,
      ...(e.type === 'blob' ? { size: e.size, url: this.api(`/git/blobs/${e.sha}`) } : { url: this.api(`/git/trees/${e.sha}`) }),
    };
  }

  private getTree(rev: string, recursive: boolean) {
    // GitHub accepts a tree sha, a commit sha or a ref here.
    const type = this.git.objectType(rev);
    const tree = type === 'tree' ? rev : this.git.tryRevParse(`${rev}^{tree}`);
    if (!tree) throw new HttpError(404, 'Not Found');
    return { sha: tree, url: this.api(`/git/trees/${tree}`), tree: this.git.lsTree(tree, recursive).map((e) => this.treeEntry(e)), truncated: false };
  }

  private getBlob(sha: string) {
    let buf: Buffer;
    try {
      buf = this.git.readBlob(sha); // fails unless sha names a blob
    } catch {
      throw new HttpError(404, 'Not Found');
    }
    // GitHub wraps base64 at 60 columns; Octokit users must cope with the newlines.
    const b64 = (buf.toString('base64').match(/.{1,60}/g) ?? []).join('\n');
    return { sha, node_id: `B_${sha.slice(0, 12)}`, size: buf.length, url: this.api(`/git/blobs/${sha}`), content: b64 + (b64 ? '\n' : ''), encoding: 'base64' };
  }

  gitCommitObject(sha: string) {
    const c: CommitInfo = this.git.commitInfo(sha);
    return {
      sha,
      node_id: `C_${sha.slice(0, 12)}`,
      url: this.api(`/git/commits/${sha}`),
      html_url: this.html(`/commit/${sha}`),
      author: c.author,
      committer: c.committer,
      message: c.message,
      tree: { sha: c.tree, url: this.api(`/git/trees/${c.tree}`) },
      parents: c.parents.map((s) => ({ sha: s, url: this.api(`/git/commits/${s}`), html_url: this.html(`/commit/${s}`) })),
      verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
    };
  }

  private refObject(ref: string, sha: string) {
    return { ref, node_id: `REF_${Buffer.from(ref).toString('base64url')}`, url: this.api(`/git/${ref}`), object: { type: 'commit', sha, url: this.api(`/git/commits/${sha}`) } };
  }

  private getRef(ref: string) {
    const full = `refs/${ref}`;
    const sha = this.git.tryRevParse(full);
    if (!sha) throw new HttpError(404, 'Not Found');
    return this.refObject(full, sha);
  }

  private createTree(body: Record<string, unknown>) {
    const entries = body.tree as Array<{ path: string; mode: string; type: string; sha?: string | null; content?: string }>;
    for (const e of entries) {
      if (e.content !== undefined && e.sha !== undefined) throw new HttpError(422, 'Use either tree.sha or content, not both');
      if (e.content === undefined && e.sha === undefined) throw new HttpError(422, 'tree.sha or content is required');
    }
    const base = body.base_tree as string | undefined;
    if (base && this.git.objectType(base) !== 'tree') throw new HttpError(422, 'base_tree is not a valid tree oid');
    const sha = this.git.createTree(base, entries);
    return this.getTree(sha, false);
  }

  private createCommit(body: Record<string, unknown>) {
    const tree = body.tree as string;
    if (this.git.objectType(tree) !== 'tree') throw new HttpError(422, 'Tree SHA does not exist');
    const parents = (body.parents as string[] | undefined) ?? [];
    for (const p of parents) if (this.git.objectType(p) !== 'commit') throw new HttpError(422, 'Parent SHA does not exist or is not a commit object');
    const author = body.author as { name: string; email: string } | undefined;
    const sha = this.git.createCommit(tree, parents, body.message as string, author ?? { name: `${this.appSlug}[bot]`, email: `${this.appId}+${this.appSlug}[bot]@users.noreply.github.com` });
    return this.gitCommitObject(sha);
  }

  private createRef(body: Record<string, unknown>) {
    const ref = body.ref as string;
    const sha = body.sha as string;
    if (!/^refs\/.+\/.+/.test(ref)) throw new HttpError(422, 'Reference name must start with refs/ and have at least two slashes.');
    if (this.git.tryRevParse(ref)) throw new HttpError(422, 'Reference already exists');
    if (this.git.objectType(sha) !== 'commit') throw new HttpError(422, 'Object does not exist');
    this.git.updateRef(ref, sha);
    return this.refObject(ref, sha);
  }

  private updateRef(ref: string, body: Record<string, unknown>) {
    const full = `refs/${ref}`;
    const old = this.git.tryRevParse(full);
    if (!old) throw new HttpError(422, 'Reference does not exist');
    const sha = body.sha as string;
    if (this.git.objectType(sha) !== 'commit') throw new HttpError(422, 'Object does not exist');
    if (!body.force && !this.git.isAncestor(old, sha)) throw new HttpError(422, 'Update is not a fast forward');
    this.git.updateRef(full, sha);
    return this.refObject(full, sha);
  }

  private commitSummary(sha: string) {
    const g = this.gitCommitObject(sha);
    return {
      sha,
      node_id: g.node_id,
      url: this.api(`/commits/${sha}`),
      html_url: g.html_url,
      comments_url: this.api(`/commits/${sha}/comments`),
      commit: { url: g.url, author: g.author, committer: g.committer, message: g.message, comment_count: 0, tree: g.tree, verification: g.verification },
      author: null,
      committer: null,
      parents: g.parents,
    };
  }

  private compare(basehead: string) {
    const m = /^(.+?)\.\.\.(.+)$/.exec(basehead);
    if (!m) throw new HttpError(404, 'Not Found');
    const base = this.resolveCommit(m[1]!);
    const head = this.resolveCommit(m[2]!);
    const mergeBase = this.git.mergeBase(base, head);
    if (!mergeBase) throw new HttpError(404, 'No common ancestor between base and head.');
    const ahead = this.git.revList(`${mergeBase}..${head}`);
    const behind = this.git.revList(`${mergeBase}..${base}`);
    const status = ahead.length && behind.length ? 'diverged' : ahead.length ? 'ahead' : behind.length ? 'behind' : 'identical';
    const STATUS: Record<string, string> = { A: 'added', D: 'removed', M: 'modified', R: 'renamed', C: 'copied', T: 'changed' };
    const files = this.git.diffNameStatus(mergeBase, head).slice(0, 300).map((f) => {
      const blob = this.git.tryRevParse(`${head}:${f.path}`) ?? '0000000000000000000000000000000000000000';
      return {
        sha: blob,
        filename: f.path,
        status: STATUS[f.status[0]!] ?? 'modified',
        additions: 0,
        deletions: 0,
        changes: 0,
        blob_url: this.html(`/blob/${head}/${f.path}`),
        raw_url: this.html(`/raw/${head}/${f.path}`),
        contents_url: this.api(`/contents/${f.path}?ref=${head}`),
        ...(f.previous ? { previous_filename: f.previous } : {}),
      };
    });
    return {
      url: this.api(`/compare/${basehead}`),
      html_url: this.html(`/compare/${basehead}`),
      permalink_url: this.html(`/compare/${this.owner}:${base.slice(0, 7)}...${this.owner}:${head.slice(0, 7)}`),
      diff_url: this.html(`/compare/${basehead}.diff`),
      patch_url: this.html(`/compare/${basehead}.patch`),
      base_commit: this.commitSummary(base),
      merge_base_commit: this.commitSummary(mergeBase),
      status,
      ahead_by: ahead.length,
      behind_by: behind.length,
      total_commits: ahead.length,
      commits: ahead.slice(0, 250).map((s) => this.commitSummary(s)),
      files,
    };
  }

  private applyCheckRunWrite(run: StoredCheckRun, body: Record<string, unknown>): void {
    run.writes.push(structuredClone(body));
    if (body.name !== undefined) run.name = body.name as string;
    if (body.details_url !== undefined) run.details_url = body.details_url as string;
    if (body.external_id !== undefined) run.external_id = body.external_id as string;
    if (body.started_at !== undefined) run.started_at = body.started_at as string;
    if (body.status !== undefined) run.status = body.status as StoredCheckRun['status'];
    if (body.conclusion !== undefined) {
      run.conclusion = body.conclusion as string;
      run.status = 'completed';
    }
    if (run.status === 'completed') {
      if (!run.conclusion) throw new HttpError(422, 'Conclusion is required when status is completed');
      run.completed_at = (body.completed_at as string | undefined) ?? run.completed_at ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    }
    const out = body.output as { title?: string; summary?: string; text?: string; annotations?: Annotation[] } | undefined;
    if (out) {
      run.output = { title: out.title ?? null, summary: out.summary ?? null, text: out.text ?? null };
      // GitHub appends annotations across updates.
      if (out.annotations) run.annotations.push(...out.annotations);
    }
    if (body.actions) run.actions = body.actions as StoredCheckRun['actions'];
  }

  private createCheckRun(body: Record<string, unknown>) {
    const head = body.head_sha as string;
    if (!/^[0-9a-f]{40}$/.test(head) || this.git.objectType(head) !== 'commit') throw new HttpError(422, 'No commit found for SHA: ' + head);
    if (body.status === 'completed' && !body.conclusion) throw new HttpError(422, 'Conclusion is required when status is completed');
    const run: StoredCheckRun = {
      id: this.nextCheckRunId++,
      name: body.name as string,
      head_sha: head,
      external_id: null,
      details_url: null,
      status: 'queued',
      conclusion: null,
      started_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      completed_at: null,
      output: { title: null, summary: null, text: null },
      annotations: [],
      actions: [],
      writes: [],
    };
    this.applyCheckRunWrite(run, body);
    this.checkRuns.set(run.id, run);
    return this.checkRunObject(run);
  }

  private updateCheckRun(id: number, body: Record<string, unknown>) {
    const run = this.checkRuns.get(id);
    if (!run) throw new HttpError(404, 'Not Found');
    if (body.status === 'completed' && !body.conclusion && !run.conclusion) throw new HttpError(422, 'Conclusion is required when status is completed');
    this.applyCheckRunWrite(run, body);
    return this.checkRunObject(run);
  }

  checkRunObject(run: StoredCheckRun) {
    return {
      id: run.id,
      head_sha: run.head_sha,
      node_id: `CR_${run.id}`,
      external_id: run.external_id,
      url: this.api(`/check-runs/${run.id}`),
      html_url: this.html(`/runs/${run.id}`),
      details_url: run.details_url,
      status: run.status,
      conclusion: run.conclusion,
      started_at: run.started_at,
      completed_at: run.completed_at,
      output: { ...run.output, annotations_count: run.annotations.length, annotations_url: this.api(`/check-runs/${run.id}/annotations`) },
      name: run.name,
      check_suite: { id: 5000 + run.id },
      app: this.appObject(),
      pull_requests: [],
    };
  }

  private listCheckRuns(ref: string, q: Record<string, unknown>) {
    const sha = this.git.tryRevParse(`${ref}^{commit}`);
    if (!sha) throw new HttpError(422, `No commit found for SHA: ${ref}`);
    let runs = [...this.checkRuns.values()].filter((r) => r.head_sha === sha);
    if (q.check_name) runs = runs.filter((r) => r.name === q.check_name);
    if (q.status) runs = runs.filter((r) => r.status === q.status);
    if (q.app_id !== undefined && Number(q.app_id) !== this.appId) runs = [];
    runs.sort((a, b) => b.id - a.id);
    const perPage = Number(q.per_page ?? 30);
    const page = Number(q.page ?? 1);
    return { total_count: runs.length, check_runs: runs.slice((page - 1) * perPage, page * perPage).map((r) => this.checkRunObject(r)) };
  }

  pullObject(pr: StoredPull) {
    const headSha = this.git.tryRevParse(`refs/heads/${pr.head}`) ?? null;
    const baseSha = this.git.tryRevParse(`refs/heads/${pr.base}`) ?? null;
    const bot = this.userObject(`${this.appSlug}[bot]`, 'Bot');
    return {
      url: this.api(`/pulls/${pr.number}`),
      id: pr.id,
      node_id: `PR_${pr.id}`,
      html_url: this.html(`/pull/${pr.number}`),
      diff_url: this.html(`/pull/${pr.number}.diff`),
      patch_url: this.html(`/pull/${pr.number}.patch`),
      issue_url: this.api(`/issues/${pr.number}`),
      commits_url: this.api(`/pulls/${pr.number}/commits`),
      review_comments_url: this.api(`/pulls/${pr.number}/comments`),
      review_comment_url: this.api('/pulls/comments{/number}'),
      comments_url: this.api(`/issues/${pr.number}/comments`),
      statuses_url: this.api(`/statuses/${headSha}`),
      number: pr.number,
      state: pr.state,
      locked: false,
      title: pr.title,
      user: bot,
      body: pr.body,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: pr.created_at,
      updated_at: pr.updated_at,
      closed_at: null,
      merged_at: null,
      merge_commit_sha: null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: { label: `${this.owner}:${pr.head}`, ref: pr.head, sha: headSha, user: this.userObject(this.owner), repo: this.repoObject() },
      base: { label: `${this.owner}:${pr.base}`, ref: pr.base, sha: baseSha, user: this.userObject(this.owner), repo: this.repoObject() },
      _links: {},
      author_association: 'NONE',
      auto_merge: null,
      draft: false,
    };
  }

  private listPulls(q: Record<string, unknown>) {
    let prs = [...this.pulls.values()];
    const state = (q.state as string | undefined) ?? 'open';
    if (state !== 'all') prs = prs.filter((p) => p.state === state);
    if (q.head) {
      const [owner, branch] = String(q.head).split(':');
      prs = branch === undefined ? [] : owner === this.owner ? prs.filter((p) => p.head === branch) : [];
    }
    if (q.base) prs = prs.filter((p) => p.base === q.base);
    return prs.sort((a, b) => b.number - a.number).map((p) => this.pullObject(p));
  }

  private createPull(body: Record<string, unknown>) {
    const head = String(body.head).replace(new RegExp(`^${this.owner}:`), '');
    const base = body.base as string;
    if (!this.git.tryRevParse(`refs/heads/${head}`)) throw new HttpError(422, 'Validation Failed', [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
    if (!this.git.tryRevParse(`refs/heads/${base}`)) throw new HttpError(422, 'Validation Failed', [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
    if ([...this.pulls.values()].some((p) => p.state === 'open' && p.head === head && p.base === base))
      throw new HttpError(422, 'Validation Failed', [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${this.owner}:${head}.` }]);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const pr: StoredPull = { id: this.nextPullId++, number: this.nextPull++, title: body.title as string, body: (body.body as string | undefined) ?? null, head, base, state: 'open', created_at: now, updated_at: now };
    this.pulls.set(pr.number, pr);
    return this.pullObject(pr);
  }

  private updatePull(n: number, body: Record<string, unknown>) {
    const pr = this.pulls.get(n);
    if (!pr) throw new HttpError(404, 'Not Found');
    if (body.title !== undefined) pr.title = body.title as string;
    if (body.body !== undefined) pr.body = body.body as string;
    if (body.state !== undefined) pr.state = body.state as StoredPull['state'];
    if (body.base !== undefined) pr.base = body.base as string;
    pr.updated_at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.pullObject(pr);
  }
}
