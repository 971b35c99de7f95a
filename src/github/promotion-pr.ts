// Opens or updates the promotion PR for one target ring: all file edits in
// ONE commit made with the git data API (tree on base_tree, commit, ref), on
// the fixed branch fleetkeeper/promote-<ring>. If a PR from that branch is
// open it is updated (title, body), never duplicated.
import type { HostResult } from '../host/types.js';
import type { Promotion } from '../rollout/promote.js';
import type { RingResult } from '../rollout/types.js';
import { repoPath } from './annotations.js';
import { cell, code, duration, shortSha } from './markdown.js';
import type { GitHubClient, RepoRef } from './octokit.js';
import { redact } from '../util/redact.js';

export interface PromotionPrResult {
  number: number;
  htmlUrl: string;
  created: boolean;
  commit: string;
  branch: string;
}

export interface Evidence {
  ring: RingResult;
  tag: string;
  /** The apply check run with the full record. */
  applyRunUrl?: string | null;
  commit: string;
  bake?: { seconds: number; healthy: boolean; reason?: string };
  now: Date;
}

function healthOf(h: HostResult): string {
  const st = [...h.steps].reverse().find((s) => s.step === 'health');
  return st ? `${st.status === 'ok' ? '✅' : '❌'} ${st.message}` : h.outcome === 'unchanged' ? 'already healthy at the tag' : '—';
}

export function renderEvidence(e: Evidence): string {
  const ran = e.ring.hosts.filter((h) => h.toTag === e.tag && (h.outcome === 'upgraded' || h.outcome === 'unchanged'));
  const lines = [
    `### Evidence from ring ${e.ring.ring}`,
    '',
    `Rolled out by commit ${code(shortSha(e.commit))}${e.applyRunUrl ? ` ([apply check run](${e.applyRunUrl}))` : ''}.`,
    e.bake ? `Bake: ${duration(e.bake.seconds * 1000)} — ${e.bake.healthy ? 'healthy throughout' : `failed: ${e.bake.reason ?? 'unhealthy'}`}.` : '',
    '',
    '| Host | Result | Running the tag for | Health |',
    '| --- | --- | --- | --- |',
    ...ran.map((h) => {
      const since = new Date(h.startedAt).getTime() + h.durationMs;
      return `| ${cell(h.customerId)} | ${h.outcome} | ${duration(Math.max(0, e.now.getTime() - since))} | ${cell(healthOf(h))} |`;
    }),
  ];
  return lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n');
}

export async function openPromotionPr(
  octokit: GitHubClient,
  repo: RepoRef,
  opts: { promotion: Promotion; baseCommit: string; defaultBranch: string; fleetDir: string; evidence: string; author?: { name: string; email: string } },
): Promise<PromotionPrResult> {
  const { promotion: p } = opts;
  const { data: base } = await octokit.rest.git.getCommit({ ...repo, commit_sha: opts.baseCommit });
  const { data: tree } = await octokit.rest.git.createTree({
    ...repo,
    base_tree: base.tree.sha,
    tree: p.edits.map((e) => ({ path: repoPath(opts.fleetDir, e.path), mode: '100644' as const, type: 'blob' as const, content: e.after })),
  });
  const message = `${p.title}\n\nRing ${p.fromRing} completed with ${p.tag} and passed its bake.\nFiles: ${p.edits.map((e) => e.path).join(', ')}`;
  const { data: commit } = await octokit.rest.git.createCommit({
    ...repo,
    message,
    tree: tree.sha,
    parents: [opts.baseCommit],
    ...(opts.author ? { author: { ...opts.author, date: new Date().toISOString() } } : {}),
  });

  // The branch belongs to the bot: it is force-moved to the new commit.
  const ref = `heads/${p.branch}`;
  let exists = true;
  try {
    await octokit.rest.git.getRef({ ...repo, ref });
  } catch (e) {
    if ((e as { status?: number }).status !== 404) throw e;
    exists = false;
  }
  if (exists) await octokit.rest.git.updateRef({ ...repo, ref, sha: commit.sha, force: true });
  else await octokit.rest.git.createRef({ ...repo, ref: `refs/${ref}`, sha: commit.sha });

  const body = redact(`${p.body}\n\n${opts.evidence}\n\n<sub>Opened by fleetkeeper. Merging this PR deploys ring ${p.targetRing}; the check run on this PR is its dry run.</sub>`);
  const { data: open } = await octokit.rest.pulls.list({ ...repo, state: 'open', head: `${repo.owner}:${p.branch}`, base: opts.defaultBranch, per_page: 10 });
  const existing = open[0];
  if (existing) {
    const { data } = await octokit.rest.pulls.update({ ...repo, pull_number: existing.number, title: p.title, body });
    return { number: data.number, htmlUrl: data.html_url, created: false, commit: commit.sha, branch: p.branch };
  }
  const { data } = await octokit.rest.pulls.create({ ...repo, title: p.title, head: p.branch, base: opts.defaultBranch, body });
  return { number: data.number, htmlUrl: data.html_url, created: true, commit: commit.sha, branch: p.branch };
}
