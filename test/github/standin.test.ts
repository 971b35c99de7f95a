// The stand-in must be able to fail: requests that GitHub would reject (or
// that do not match GitHub's OpenAPI description) are recorded as problems
// and answered like GitHub answers them.
import { generateKeyPairSync } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitHubStandin } from './standin/server.js';

let standin: GitHubStandin;
let octokit: Octokit;
let head: string;
const repo = { owner: 'Codertocat', repo: 'Hello-World' };

beforeEach(async () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  standin = await new GitHubStandin({ appId: 5, appPublicKey: publicKey, ...repo, defaultBranch: 'master', installationId: 1 }).start();
  head = standin.git.commit('master', { 'README.md': 'hi\n' });
  // A plain Octokit without retries, so each bad request is seen exactly once. (The app's
  // token exchange with a JWT is covered by every app test.)
  octokit = new Octokit({ auth: standin.issueToken(), baseUrl: standin.baseUrl });
});

afterEach(async () => {
  await standin.stop();
  standin.git.remove();
});

const status = async (p: Promise<unknown>) => p.then(() => 200, (e: { status?: number }) => e.status ?? 0);

describe('GitHub stand-in validation', () => {
  it('accepts a valid check run and records it', async () => {
    const { data } = await octokit.rest.checks.create({ ...repo, name: 'x', head_sha: head, status: 'in_progress', output: { title: 't', summary: 's' } });
    expect(data.id).toBeGreaterThan(0);
    expect(standin.checkRuns.get(data.id)!.status).toBe('in_progress');
    standin.assertClean();
  });

  it('rejects more than 50 annotations, an over-long summary and unknown fields (OpenAPI)', async () => {
    const annotations = Array.from({ length: 51 }, (_, i) => ({ path: 'README.md', start_line: 1, end_line: 1, annotation_level: 'failure' as const, message: `m${i}` }));
    expect(await status(octokit.rest.checks.create({ ...repo, name: 'x', head_sha: head, output: { title: 't', summary: 's', annotations } }))).toBe(422);
    expect(await status(octokit.rest.checks.create({ ...repo, name: 'x', head_sha: head, output: { title: 't', summary: 'x'.repeat(65536) } }))).toBe(422);
    expect(await status(octokit.request('POST /repos/{owner}/{repo}/check-runs', { ...repo, name: 'x', head_sha: head, colour: 'red' } as never))).toBe(422);
    expect(standin.problems).toHaveLength(3);
    expect(standin.problems.join('\n')).toMatch(/maxItems|more than 50/);
    expect(standin.problems.join('\n')).toMatch(/65535/);
    expect(standin.problems.join('\n')).toMatch(/colour/);
    expect(() => standin.assertClean()).toThrow(/3 bad request/);
  });

  it("enforces GitHub's rules the description does not express", async () => {
    expect(await status(octokit.rest.checks.create({ ...repo, name: 'x', head_sha: head, status: 'completed' }))).toBe(422);
    expect(await status(octokit.rest.checks.create({ ...repo, name: 'x', head_sha: 'f'.repeat(40) }))).toBe(422);
    const action = { label: 'A label longer than twenty', identifier: 'x', description: 'd' };
    expect(await status(octokit.rest.checks.create({ ...repo, name: 'x', head_sha: head, actions: [action] }))).toBe(422);
    expect(standin.problems).toHaveLength(3);
  });

  it('flags calls to operations outside the subset as unexpected', async () => {
    expect(await status(octokit.rest.issues.createComment({ ...repo, issue_number: 1, body: 'hi' }))).toBe(404);
    expect(standin.problems.join('\n')).toMatch(/unexpected call/);
  });

  it('requires an installation token for repository calls and an app JWT for /app', async () => {
    const anon = new Octokit({ baseUrl: standin.baseUrl });
    expect(await status(anon.rest.git.getTree({ ...repo, tree_sha: head }))).toBe(401);
    expect(await status(octokit.rest.apps.getAuthenticated())).toBe(401);
  });

  it('serves the real git repository: trees, blobs, compare; builds trees and commits from the git data API', async () => {
    const next = standin.git.commit('master', { 'dir/a.yml': 'a: 1\n' });
    const { data: tree } = await octokit.rest.git.getTree({ ...repo, tree_sha: next, recursive: '1' });
    const entry = tree.tree.find((e) => e.path === 'dir/a.yml')!;
    const { data: blob } = await octokit.rest.git.getBlob({ ...repo, file_sha: entry.sha! });
    expect(Buffer.from(blob.content, 'base64').toString()).toBe('a: 1\n');
    const { data: cmp } = await octokit.rest.repos.compareCommitsWithBasehead({ ...repo, basehead: `${head}...${next}` });
    expect(cmp.files!.map((f) => f.filename)).toEqual(['dir/a.yml']);
    expect(cmp.merge_base_commit.sha).toBe(head);
    const { data: t2 } = await octokit.rest.git.createTree({ ...repo, base_tree: tree.sha, tree: [{ path: 'dir/a.yml', mode: '100644', type: 'blob', content: 'a: 2\n' }] });
    const { data: c2 } = await octokit.rest.git.createCommit({ ...repo, message: 'edit', tree: t2.sha, parents: [next] });
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/heads/edit', sha: c2.sha });
    expect(standin.git.show('edit', 'dir/a.yml')).toBe('a: 2\n');
    expect(standin.git.show('edit', 'README.md')).toBe('hi\n');
    // Not a fast-forward without force: GitHub refuses.
    expect(await status(octokit.rest.git.updateRef({ ...repo, ref: 'heads/edit', sha: head }))).toBe(422);
    standin.problems.length = 0;
  });
});
