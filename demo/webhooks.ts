// Webhooks as GitHub sends them: payloads from @octokit/webhooks-examples
// (the official examples) with this repository's data put in, signed with
// the app's webhook secret and POSTed to the app's webhook URL.
//
// Changed from the examples, and why:
// - repository (name, owner, URLs, default_branch main): the demo's fleet repo
//   on the stand-in, not Codertocat/Hello-World on github.com;
// - installation.id: the stand-in's installation;
// - pull_request number/title/body/head/base/sha: the PR the demo opened;
// - push ref/before/after/commits/head_commit: the real commits of the merge;
// - sender: the operator, or the app's bot account for events it caused.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { GitRepo } from '../test/github/standin/git-repo.js';
import type { GitHubStandin } from '../test/github/standin/server.js';

const require = createRequire(import.meta.url);
type Json = Record<string, any>;
const examples = JSON.parse(readFileSync(require.resolve('@octokit/webhooks-examples/api.github.com/index.json'), 'utf8')) as Array<{ name: string; examples: Json[] }>;

function example(event: string, pick: (x: Json) => boolean): Json {
  const found = examples.find((e) => e.name === event)?.examples.find((x) => x.installation?.id && pick(x));
  if (!found) throw new Error(`@octokit/webhooks-examples has no ${event} example with an installation`);
  return structuredClone(found);
}

/** Replaces every occurrence of `from` in every string of a JSON value. */
function replaceStrings(v: unknown, from: string, to: string): unknown {
  if (typeof v === 'string') return v.split(from).join(to);
  if (Array.isArray(v)) return v.map((x) => replaceStrings(x, from, to));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceStrings(x, from, to)]));
  return v;
}

export interface Person {
  login: string;
  type: 'User' | 'Bot';
}

export const OPERATOR: Person = { login: 'Codertocat', type: 'User' };

export class Webhooks {
  constructor(
    private readonly standin: GitHubStandin,
    private readonly url: string,
    private readonly secret: string,
  ) {}

  get bot(): Person {
    return { login: `${this.standin.appSlug}[bot]`, type: 'Bot' };
  }

  /** The example's repository/installation rewritten to the stand-in's repo. */
  private localize(p: Json): Json {
    const s = this.standin;
    let out = replaceStrings(p, 'https://api.github.com', s.baseUrl) as Json;
    out = replaceStrings(out, 'https://github.com', s.url) as Json;
    out = replaceStrings(out, 'Codertocat/Hello-World', s.fullName) as Json;
    const repo = out.repository;
    repo.name = s.repo;
    repo.full_name = s.fullName;
    repo.owner = { ...repo.owner, login: s.owner, type: 'Organization' };
    repo.default_branch = s.defaultBranch;
    if ('master_branch' in repo) repo.master_branch = s.defaultBranch;
    out.installation = { ...out.installation, id: s.installationId };
    return out;
  }

  private sender(p: Json, who: Person): void {
    p.sender = { ...p.sender, login: who.login, type: who.type };
  }

  pullRequestOpened(pr: { number: number; title: string; body: string; head: string; headSha: string; baseSha: string; author: Person }): Json {
    const p = this.localize(example('pull_request', (x) => x.action === 'opened'));
    const s = this.standin;
    p.number = pr.number;
    const x = p.pull_request;
    Object.assign(x, {
      number: pr.number,
      title: pr.title,
      body: pr.body,
      html_url: `${s.url}/${s.fullName}/pull/${pr.number}`,
      url: `${s.baseUrl}/repos/${s.fullName}/pulls/${pr.number}`,
      state: 'open',
      merged: false,
      user: { ...x.user, login: pr.author.login, type: pr.author.type },
    });
    const side = (ref: string, sha: string) => ({ ...x.base, label: `${s.owner}:${ref}`, ref, sha, user: { ...x.base.user, login: s.owner }, repo: p.repository });
    x.head = side(pr.head, pr.headSha);
    x.base = side(s.defaultBranch, pr.baseSha);
    this.sender(p, pr.author);
    return p;
  }

  /** A push to the default branch with the real commits between before and after. */
  push(git: GitRepo, before: string, after: string, pusher: Person): Json {
    const p = this.localize(example('push', (x) => x.ref === 'refs/heads/master' && !x.deleted));
    const s = this.standin;
    const commit = (sha: string) => {
      const info = git.commitInfo(sha);
      const parent = info.parents[0];
      const changes = parent ? git.diffNameStatus(parent, sha) : [];
      const list = (st: string) => changes.filter((c) => c.status.startsWith(st)).map((c) => c.path);
      return {
        id: sha,
        tree_id: info.tree,
        distinct: true,
        message: info.message,
        timestamp: info.committer.date,
        url: `${s.url}/${s.fullName}/commit/${sha}`,
        author: { name: info.author.name, email: info.author.email, username: pusher.login },
        committer: { name: info.committer.name, email: info.committer.email, username: pusher.login },
        added: list('A'),
        removed: list('D'),
        modified: list('M'),
      };
    };
    const shas = git.revList(`${before}..${after}`).slice(-20);
    Object.assign(p, {
      ref: `refs/heads/${s.defaultBranch}`,
      before,
      after,
      created: false,
      deleted: false,
      forced: false,
      base_ref: null,
      compare: `${s.url}/${s.fullName}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
      commits: shas.map(commit),
      head_commit: commit(after),
      pusher: { name: pusher.login, email: `${pusher.login.toLowerCase()}@users.noreply.github.com` },
    });
    this.sender(p, pusher);
    return p;
  }

  /** POSTs like GitHub's hookshot does; resolves with the HTTP status. */
  async deliver(event: string, payload: Json): Promise<{ status: number; delivery: string }> {
    const body = JSON.stringify(payload);
    const delivery = randomUUID();
    const res = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/fleetkeeper-demo',
        'x-github-event': event,
        'x-github-delivery': delivery,
        'x-github-hook-installation-target-type': 'integration',
        'x-github-hook-installation-target-id': String(this.standin.appId),
        'x-hub-signature-256': 'sha256=' + createHmac('sha256', this.secret).update(body).digest('hex'),
      },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    return { status: res.status, delivery };
  }
}
