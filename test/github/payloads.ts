// Webhook payloads for the tests, taken from @octokit/webhooks-examples (the
// official examples) and adjusted only where a field must differ. The
// stand-in serves "Codertocat/Hello-World" with default branch "master" and
// installation 1, as in the pull_request and push examples, so those keep
// their repository, owner, sender and installation as they are.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const examples = JSON.parse(readFileSync(require.resolve('@octokit/webhooks-examples/api.github.com/index.json'), 'utf8')) as Array<{
  name: string;
  examples: Array<Record<string, any>>;
}>;

/** The first example of `event` (with `action`, when given) that has an installation: Probot authenticates as it. */
export function example(event: string, action?: string, also: (x: Record<string, any>) => boolean = () => true): Record<string, any> {
  const list = examples.find((e) => e.name === event)?.examples ?? [];
  const found = list.find((x) => (action === undefined || x.action === action) && x.installation?.id && also(x));
  if (!found) throw new Error(`no ${event}${action ? `.${action}` : ''} example with an installation`);
  return structuredClone(found);
}

export function pullRequestPayload(opts: {
  action: 'opened' | 'synchronize' | 'reopened';
  number?: number;
  headSha: string;
  headRef: string;
  baseSha: string;
  fork?: boolean;
  sender?: { login: string; type: 'User' | 'Bot' };
}): Record<string, any> {
  const p = example('pull_request', opts.action);
  const pr = p.pull_request;
  // Changed: the commits must exist in the stand-in's git repo.
  pr.head.sha = opts.headSha;
  pr.base.sha = opts.baseSha;
  // Changed: the branch the test committed to.
  pr.head.ref = opts.headRef;
  pr.head.label = `${pr.head.user.login}:${opts.headRef}`;
  if (opts.number) {
    p.number = opts.number;
    pr.number = opts.number;
  }
  if (opts.fork) {
    // Changed: a fork PR's head lives in another repository (the example is same-repo).
    pr.head.repo = { ...structuredClone(pr.head.repo), id: pr.head.repo.id + 1, name: 'Hello-World', full_name: 'forker/Hello-World', owner: { ...pr.head.repo.owner, login: 'forker', id: 999 }, fork: true };
    pr.head.user = { ...pr.head.user, login: 'forker', id: 999 };
    pr.head.label = `forker:${opts.headRef}`;
  }
  if (opts.sender) p.sender = { ...p.sender, login: opts.sender.login, type: opts.sender.type };
  return p;
}

export function pushPayload(opts: { before: string; after: string; ref?: string; sender?: { login: string; type: 'User' | 'Bot' }; deleted?: boolean }): Record<string, any> {
  // The first push example with an installation to a branch: refs/heads/master, the default branch.
  const p = example('push', undefined, (x) => x.ref === 'refs/heads/master' && !x.deleted);
  // Changed: before/after (and head_commit/commits) must be commits of the stand-in's repo.
  p.before = opts.before;
  p.after = opts.after;
  if (opts.ref) p.ref = opts.ref;
  if (opts.deleted !== undefined) p.deleted = opts.deleted;
  p.compare = `https://github.com/Codertocat/Hello-World/compare/${opts.before.slice(0, 12)}...${opts.after.slice(0, 12)}`;
  if (p.head_commit) p.head_commit = { ...p.head_commit, id: opts.after, tree_id: p.head_commit.tree_id };
  p.commits = (p.commits ?? []).map((c: Record<string, unknown>) => ({ ...c, id: opts.after }));
  if (opts.sender) p.sender = { ...p.sender, login: opts.sender.login, type: opts.sender.type };
  return p;
}

/** Repository and installation as in the pull_request example (the check_run examples come from other repos). */
function ourRepository(): { repository: Record<string, any>; installation: Record<string, any> } {
  const pr = example('pull_request', 'opened');
  return { repository: pr.repository, installation: pr.installation };
}

export function checkRunPayload(opts: {
  action: 'requested_action' | 'rerequested';
  checkRunId: number;
  name: string;
  headSha: string;
  summary?: string;
  identifier?: string;
  pullRequests?: Array<Record<string, any>>;
  sender?: { login: string; type: 'User' | 'Bot' };
}): Record<string, any> {
  const p = example('check_run', opts.action);
  const ours = ourRepository();
  // Changed: the check_run examples belong to electron/electron and github/hello-world;
  // the repository and installation must be the stand-in's.
  p.repository = ours.repository;
  p.installation = ours.installation;
  const cr = p.check_run;
  // Changed: the check run must be one the app created in the stand-in.
  cr.id = opts.checkRunId;
  cr.name = opts.name;
  cr.head_sha = opts.headSha;
  cr.output = { ...cr.output, summary: opts.summary ?? cr.output.summary };
  cr.pull_requests = opts.pullRequests ?? [];
  if (cr.check_suite) cr.check_suite = { ...cr.check_suite, head_sha: opts.headSha, head_branch: 'master' };
  if (opts.action === 'requested_action') p.requested_action = { identifier: opts.identifier ?? 'retry-failed' };
  if (opts.sender) p.sender = { ...p.sender, login: opts.sender.login, type: opts.sender.type };
  return p;
}
