// The GitHub App end to end against the GitHub stand-in: official webhook
// payloads in over HTTP (signed), every REST call checked against GitHub's
// OpenAPI description, the fleet read from a real git repository, hosts
// simulated in memory (FakeHosts; the testbed test is in testbed.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffFleets, loadFleet, setCustomerTag } from '../../src/fleet/index.js';
import { createOfflineDriver } from '../../src/host/driver-ssh.js';
import { MemoryStateStore } from '../../src/rollout/state.js';
import { APPLY_CHECK, PLAN_CHECK } from '../../src/github/limits.js';
import type { AppDeps } from '../../src/github/create-app.js';
import { FakeHosts, fastClock } from './fake-hosts.js';
import { FIXTURE_FLEET, readTree, startHarness, type Harness } from './harness.js';
import { checkRunPayload, pullRequestPayload, pushPayload } from './payloads.js';

const OLD = 'v15.38.0';
const NEW = 'v15.40.1';

let h: Harness;
let hosts: FakeHosts;
let state: MemoryStateStore;
let notifications: string[];
let base: string;

async function setup(over: Partial<AppDeps> = {}, prefix = '') {
  hosts = new FakeHosts({ staging: OLD, alpha: OLD, beta: OLD, gamma: OLD });
  state = new MemoryStateStore();
  notifications = [];
  h = await startHarness({
    loadFleet: (s) => loadFleet(s),
    diffFleets,
    setTag: setCustomerTag,
    state: async () => state,
    createDriver: () => hosts.driver('ssh'),
    createOfflineDriver: () => createOfflineDriver(),
    notifier: { send: async (t) => void notifications.push(t) },
    clock: fastClock(),
    progressIntervalMs: 50,
    appSlug: 'fleetkeeper',
    ...over,
  });
  base = h.git.commit('master', { ...readTree(FIXTURE_FLEET, prefix), 'README.md': '# fleet repo\n' }, 'fleet');
}

function file(path: string): string {
  return readTree(FIXTURE_FLEET)[path]!;
}

/** Commit on a PR branch that changes staging's tag. */
function bumpOnBranch(branch: string, id = 'staging', tag = NEW): string {
  h.git.branch(branch, 'master');
  return h.git.commit(branch, { [`customers/${id}.yml`]: file(`customers/${id}.yml`).replace(`tag: ${OLD}`, `tag: ${tag}`) }, `bump ${id} to ${tag}`);
}

afterEach(async () => {
  if (process.env.FK_TIMING) {
    const r = h.standin.requests;
    const byOp: Record<string, number> = {};
    for (const x of r) byOp[x.operationId ?? '?'] = (byOp[x.operationId ?? '?'] ?? 0) + 1;
    console.log(r.length, 'requests', r.length ? (r.at(-1)!.at - r[0]!.at) : 0, 'ms', JSON.stringify(byOp));
  }
  try {
    h.standin.assertClean();
  } finally {
    await h.close();
  }
});

describe('fleet in a sub-directory (FLEETKEEPER_FLEET_DIR=fleet)', () => {
  beforeEach(() => setup({ fleetDir: 'fleet' }, 'fleet'));

  it('reads only the fleet directory; annotations carry the repo path', async () => {
    h.git.branch('sub', 'master');
    const broken = file('customers/staging.yml').replace(`tag: ${OLD}`, 'tag: "bad tag"');
    const head = h.git.commit('sub', { 'fleet/customers/staging.yml': broken, 'customers/ignored.yml': 'not: [a fleet file' });
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'sub', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion).toBe('failure');
    expect(run!.annotations.map((a) => a.path)).toEqual(['fleet/customers/staging.yml']);
    // Only files under fleet/ were fetched.
    const trees = h.standin.calls('git/get-tree');
    expect(trees.length).toBeGreaterThan(0);
  });

  it('a change outside the fleet directory is neutral', async () => {
    h.git.branch('docs', 'master');
    const head = h.git.commit('docs', { 'README.md': '# changed\n', 'customers/x.yml': 'x: 1\n' });
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'docs', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion).toBe('neutral');
    expect(h.standin.calls('git/get-blob')).toHaveLength(0);
  });
});

describe('pull request plan', () => {
  beforeEach(() => setup());

  it('valid PR: check run created in progress at once, then success with the plan', async () => {
    const head = bumpOnBranch('bump-staging');
    const status = await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'bump-staging', baseSha: base }));
    expect(status).toBe(200);
    const [run, ...more] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(more).toHaveLength(0);
    expect(run!.writes[0]).toMatchObject({ status: 'in_progress', name: PLAN_CHECK, head_sha: head });
    expect(run!.conclusion).toBe('success');
    expect(run!.output.summary).toContain('Live plan');
    expect(run!.output.summary).toMatch(/staging.*`v15\.38\.0` → `v15\.40\.1`/);
    expect(run!.output.text).toContain('#### staging');
    // Same-repo PR: the host was observed read-only through the SSH driver, and nothing was applied.
    expect(hosts.calls.filter((c) => c.op === 'converge' && c.mode === 'apply')).toHaveLength(0);
    expect(hosts.calls.some((c) => c.driver === 'ssh' && c.customerId === 'staging')).toBe(true);
    expect(hosts.hosts.get('staging')!.tag).toBe(OLD);
  });

  it('PR that changes no fleet customer: neutral', async () => {
    h.git.branch('docs', 'master');
    const head = h.git.commit('docs', { 'rings/broad.yml': file('rings/broad.yml') + '# a comment\n' });
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'synchronize', headSha: head, headRef: 'docs', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion).toBe('neutral');
  });

  it('invalid PR: failure with annotations on the exact lines', async () => {
    h.git.branch('broken', 'master');
    const staging = file('customers/staging.yml').replace(`tag: ${OLD}`, 'tag: "v15.40;rm -rf /"');
    const head = h.git.commit('broken', { 'customers/staging.yml': staging });
    const tagLine = staging.split('\n').findIndex((l) => l.includes('tag: "v15.40')) + 1;
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'broken', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion).toBe('failure');
    expect(run!.annotations.length).toBeGreaterThan(0);
    const a = run!.annotations.find((x) => x.path === 'customers/staging.yml');
    expect(a).toMatchObject({ start_line: tagLine, end_line: tagLine, annotation_level: 'failure' });
    expect(a!.message).toMatch(/tag/);
    // Nothing was planned or contacted for an invalid fleet.
    expect(hosts.calls).toHaveLength(0);
  });

  it('120 errors: annotations sent in batches of at most 50', async () => {
    h.git.branch('many', 'master');
    const files: Record<string, string> = {};
    // 120 customer files, each with exactly one error (an unknown key) on line 2.
    for (let i = 0; i < 120; i++) files[`customers/bad-${String(i).padStart(3, '0')}.yml`] = `ring: canary\nbogusKey${i}: 1\n`;
    const head = h.git.commit('many', files);
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'many', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion).toBe('failure');
    const sizes = run!.writes.map((w) => ((w.output as { annotations?: unknown[] } | undefined)?.annotations ?? []).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(3);
    expect(run!.annotations.length).toBeGreaterThanOrEqual(120);
    const onLine2 = run!.annotations.filter((a) => a.path.startsWith('customers/bad-') && a.start_line === 2);
    expect(new Set(onLine2.map((a) => a.path)).size).toBe(120);
    // The completion is the last write, after every batch.
    expect(run!.writes.at(-1)).toMatchObject({ status: 'completed', conclusion: 'failure' });
  }, 60_000);

  it('oversized output is truncated with a note, within 65,535 characters', async () => {
    h.git.branch('huge', 'master');
    const files: Record<string, string> = {};
    // 120 invalid customers whose messages quote a 500-character key: the error table is far over the limit.
    for (let i = 0; i < 120; i++) files[`customers/c-${String(i).padStart(3, '0')}.yml`] = `ring: canary\n${'k'.repeat(500)}${i}: 1\n`;
    const head = h.git.commit('huge', files);
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'huge', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion).toBe('failure');
    for (const w of run!.writes) {
      const o = w.output as { summary?: string; text?: string } | undefined;
      expect((o?.summary ?? '').length).toBeLessThanOrEqual(65535);
      expect((o?.text ?? '').length).toBeLessThanOrEqual(65535);
    }
    expect(run!.output.summary!.length).toBeGreaterThan(60000);
    expect(run!.output.summary).toContain('**Truncated:**');
  }, 60_000);

  it('fork PR: offline plan only, no SSH driver created, says so', async () => {
    const head = bumpOnBranch('fork-bump');
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'fork-bump', baseSha: base, fork: true }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion).toBe('success');
    expect(run!.output.summary).toContain('Offline plan');
    expect(run!.output.summary).toContain('fork');
    expect(hosts.driversCreated).toBe(0);
    expect(hosts.calls).toHaveLength(0);
  });

  it('same-repo PR that changes a host address: that host planned offline, never contacted at the new address', async () => {
    h.git.branch('move', 'master');
    const moved = file('customers/alpha.yml').replace('port: 2202', 'port: 2299').replace(`tag: ${OLD}`, `tag: ${NEW}`);
    const head = h.git.commit('move', { 'customers/alpha.yml': moved, 'customers/staging.yml': file('customers/staging.yml').replace(`tag: ${OLD}`, `tag: ${NEW}`) });
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'move', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.output.summary).toMatch(/Planned offline \(not contacted\): alpha/);
    expect(hosts.calls.some((c) => c.customerId === 'alpha')).toBe(false);
    expect(hosts.calls.some((c) => c.customerId === 'staging')).toBe(true);
  });

  it("ignores the app's own pull_request events", async () => {
    const head = bumpOnBranch('own');
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'own', baseSha: base, sender: { login: 'fleetkeeper[bot]', type: 'Bot' } }));
    expect(h.standin.checkRuns.size).toBe(0);
    expect(h.standin.requests.filter((r) => r.operationId !== 'apps/create-installation-access-token')).toHaveLength(0);
  });

  it('rejects a webhook with a bad signature', async () => {
    const head = bumpOnBranch('sig');
    const status = await h.deliver('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'sig', baseSha: base }), { secret: 'not-the-secret' });
    expect([400, 401]).toContain(status);
    await h.app.idle();
    expect(h.standin.requests).toHaveLength(0);
  });

  it('check_run.rerequested on the plan re-plans', async () => {
    const head = bumpOnBranch('again');
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'again', baseSha: base }));
    const [first] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    await h.deliverAndWait('check_run', checkRunPayload({ action: 'rerequested', checkRunId: first!.id, name: PLAN_CHECK, headSha: head }));
    const runs = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(runs).toHaveLength(2);
    // No pull request in the payload (as GitHub does for forks): offline, against the default branch.
    expect(runs[1]!.conclusion).toBe('success');
    expect(runs[1]!.output.summary).toContain('Offline plan');
  });
});
