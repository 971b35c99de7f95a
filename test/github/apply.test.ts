// Merge → apply: the apply check run, its progress, failures and the Retry
// button, the per-repo queue, redelivery, and promotion PRs written with the
// git data API into the stand-in's real git repository.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffFleets, loadFleet, setCustomerTag } from '../../src/fleet/index.js';
import { createOfflineDriver } from '../../src/host/driver-ssh.js';
import { MemoryStateStore } from '../../src/rollout/state.js';
import { APPLY_CHECK, BAKE_CHECK, PLAN_CHECK } from '../../src/github/limits.js';
import { FakeHosts, fastClock } from './fake-hosts.js';
import { FIXTURE_FLEET, readTree, startHarness, type Harness } from './harness.js';
import { checkRunPayload, pushPayload } from './payloads.js';

const OLD = 'v15.38.0';
const NEW = 'v15.40.1';
const NEWER = 'v15.41.0';

let h: Harness;
let hosts: FakeHosts;
let state: MemoryStateStore;
let notifications: string[];
let base: string;

const fixture = (path: string) => readTree(FIXTURE_FLEET)[path]!;
const withTag = (id: string, tag: string) => ({ [`customers/${id}.yml`]: fixture(`customers/${id}.yml`).replace(`tag: ${OLD}`, `tag: ${tag}`) });

beforeEach(async () => {
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
    bakeIntervalSeconds: 600,
    progressIntervalMs: 100,
    appSlug: 'fleetkeeper',
  });
  base = h.git.commit('master', readTree(FIXTURE_FLEET), 'fleet');
});

afterEach(async () => {
  try {
    h.standin.assertClean();
  } finally {
    await h.close();
  }
});

/** A merge to master that sets `id` to `tag`; returns [before, after]. */
function merge(id: string, tag: string): [string, string] {
  const before = h.git.revParse('refs/heads/master');
  const cur = h.git.show('master', `customers/${id}.yml`)!;
  const after = h.git.commit('master', { [`customers/${id}.yml`]: cur.replace(/tag: \S+/, `tag: ${tag}`) }, `${id} to ${tag}`);
  return [before, after];
}

describe('apply on push to the default branch', () => {
  it('apply check run goes in progress at once, updates as hosts progress, completes with the table; promotion PR opened', async () => {
    hosts.stepDelayMs = 300;
    const [before, after] = merge('staging', NEW);
    const status = await h.deliverAndWait('push', pushPayload({ before, after }));
    expect(status).toBe(200);
    const runs = h.standin.checkRunsNamed(APPLY_CHECK, after);
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.writes[0]).toMatchObject({ status: 'in_progress' });
    // Progress: several updates between creation and completion, throttled.
    const progress = run.writes.filter((w) => !w.conclusion).slice(1);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(run.conclusion).toBe('success');
    expect(run.output.summary).toMatch(/\| canary \| staging \| `v15\.38\.0` → `v15\.40\.1` \| ✅ upgraded \|/);
    expect(run.output.summary).toContain('staging-pre-v15.40.1.sql.gz');
    expect(hosts.hosts.get('staging')!.tag).toBe(NEW);
    // Only the changed customer was touched.
    expect(hosts.calls.filter((c) => c.op === 'converge' && c.mode === 'apply').map((c) => c.customerId)).toEqual(['staging']);

    // Promotion: one PR, one commit on fleetkeeper/promote-early with exactly the early customers' tag edits.
    const pulls = [...h.standin.pulls.values()];
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatchObject({ title: `Promote ${NEW} to early`, head: 'fleetkeeper/promote-early', base: 'master', state: 'open' });
    expect(pulls[0]!.body).toContain('Evidence from ring canary');
    expect(pulls[0]!.body).toContain('staging');
    expect(pulls[0]!.body).toContain(`/runs/${run.id}`);
    const branch = h.git.revParse('refs/heads/fleetkeeper/promote-early');
    expect(h.git.commitInfo(branch).parents).toEqual([after]);
    const changed = h.git.diffNameStatus(after, branch).map((f) => f.path).sort();
    expect(changed).toEqual(['customers/alpha.yml', 'customers/beta.yml']);
    expect(h.git.show(branch, 'customers/alpha.yml')).toBe(fixture('customers/alpha.yml').replace(`tag: ${OLD}`, `tag: ${NEW}`));
    expect(h.git.show(branch, 'customers/beta.yml')).toBe(fixture('customers/beta.yml').replace(`tag: ${OLD}`, `tag: ${NEW}`));
    expect(h.standin.calls('git/create-tree')).toHaveLength(1);
    expect(h.standin.calls('git/create-commit')).toHaveLength(1);
    // The bake ran after the apply, outside the queue, with its own check run; then the promotion.
    expect(run.output.summary).toContain('Ring canary now bakes `v15.40.1`');
    const [bake] = h.standin.checkRunsNamed(BAKE_CHECK, after);
    expect(bake!.conclusion).toBe('success');
    expect(bake!.output.summary).toContain(`Opened promotion PR [#${pulls[0]!.number}`);
    expect(hosts.calls.filter((c) => c.op === 'checkHealth' && c.customerId === 'staging').length).toBeGreaterThanOrEqual(2);
    // The promotion PR gets its own dry run (its webhook comes from the app and is ignored).
    const planRuns = h.standin.checkRunsNamed(PLAN_CHECK, branch);
    expect(planRuns).toHaveLength(1);
    expect(planRuns[0]!.conclusion).toBe('success');
    expect(planRuns[0]!.output.summary).toMatch(/alpha/);
    // Nothing in early was changed by the plan.
    expect(hosts.hosts.get('alpha')!.tag).toBe(OLD);
    expect(notifications.some((n) => n.includes('ring canary succeeded'))).toBe(true);
  }, 60_000);

  it('second promotion updates the same PR (force-moves its branch), never opens another', async () => {
    const [b1, a1] = merge('staging', NEW);
    await h.deliverAndWait('push', pushPayload({ before: b1, after: a1 }));
    const first = [...h.standin.pulls.values()];
    expect(first).toHaveLength(1);
    const [b2, a2] = merge('staging', NEWER);
    await h.deliverAndWait('push', pushPayload({ before: b2, after: a2 }));
    const pulls = [...h.standin.pulls.values()];
    expect(pulls).toHaveLength(1);
    expect(pulls[0]!.number).toBe(first[0]!.number);
    expect(pulls[0]!.title).toBe(`Promote ${NEWER} to early`);
    expect(h.standin.calls('pulls/create')).toHaveLength(1);
    expect(h.standin.calls('pulls/update')).toHaveLength(1);
    expect(h.standin.calls('git/update-ref')[0]!.body).toMatchObject({ force: true });
    const branch = h.git.revParse('refs/heads/fleetkeeper/promote-early');
    expect(h.git.commitInfo(branch).parents).toEqual([a2]);
    expect(h.git.show(branch, 'customers/alpha.yml')).toContain(`tag: ${NEWER}`);
    expect(h.git.diffNameStatus(a2, branch).map((f) => f.path).sort()).toEqual(['customers/alpha.yml', 'customers/beta.yml']);
  }, 60_000);

  it('failed host: failure conclusion, annotation on its image.tag line, Retry button; retry fixes it; bad tag never promoted', async () => {
    hosts.failing.add('staging');
    const [before, after] = merge('staging', NEW);
    await h.deliverAndWait('push', pushPayload({ before, after }));
    const [run] = h.standin.checkRunsNamed(APPLY_CHECK, after);
    expect(run!.conclusion).toBe('failure');
    expect(run!.output.summary).toContain('↩️ rolled back');
    expect(run!.output.summary).toContain('<!-- fleetkeeper:failed=staging -->');
    const tagLine = h.git.show(after, 'customers/staging.yml')!.split('\n').findIndex((l) => l.includes('tag:')) + 1;
    expect(run!.annotations).toEqual([expect.objectContaining({ path: 'customers/staging.yml', start_line: tagLine, end_line: tagLine, annotation_level: 'failure' })]);
    expect(run!.actions).toEqual([{ label: 'Retry failed', identifier: 'retry-failed', description: expect.any(String) }]);
    expect(hosts.hosts.get('staging')!.tag).toBe(OLD);
    expect(h.standin.pulls.size).toBe(0);
    expect(notifications.some((n) => n.includes('staging was rolled back'))).toBe(true);

    // The operator fixes the host and clicks "Retry failed".
    hosts.failing.delete('staging');
    await h.deliverAndWait('check_run', checkRunPayload({ action: 'requested_action', checkRunId: run!.id, name: APPLY_CHECK, headSha: after, summary: run!.output.summary!, identifier: 'retry-failed' }));
    const runs = h.standin.checkRunsNamed(APPLY_CHECK, after);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.conclusion).toBe('success');
    expect(hosts.hosts.get('staging')!.tag).toBe(NEW);
    // The tag was rolled back once: it is marked bad and never promoted automatically.
    expect(h.standin.pulls.size).toBe(0);
    const bakes = h.standin.checkRunsNamed(BAKE_CHECK, after);
    expect(bakes.at(-1)!.output.summary).toMatch(/No promotion from canary: tag v15\.40\.1 is marked bad/);
  }, 60_000);

  it('retry of a commit that is no longer the branch head is refused', async () => {
    hosts.failing.add('staging');
    const [b1, a1] = merge('staging', NEW);
    await h.deliverAndWait('push', pushPayload({ before: b1, after: a1 }));
    const [run] = h.standin.checkRunsNamed(APPLY_CHECK, a1);
    merge('gamma', NEWER); // master moves on (not delivered)
    hosts.failing.delete('staging');
    await h.deliverAndWait('check_run', checkRunPayload({ action: 'requested_action', checkRunId: run!.id, name: APPLY_CHECK, headSha: a1, summary: run!.output.summary!, identifier: 'retry-failed' }));
    const runs = h.standin.checkRunsNamed(APPLY_CHECK, a1);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.conclusion).toBe('neutral');
    expect(runs[1]!.output.title).toMatch(/refused/);
    expect(hosts.hosts.get('staging')!.tag).toBe(OLD);
  }, 60_000);

  it('a bake that finds a sick host fails, marks the tag bad and opens no promotion', async () => {
    const [before, after] = merge('staging', NEW);
    const origHealth = hosts.driver;
    // The host goes bad after its upgrade succeeded: the bake's health rounds see it.
    hosts.driver = (name?: string) => {
      const d = origHealth.call(hosts, name);
      return { ...d, checkHealth: async (c) => (c.id === 'staging' ? { healthy: false, detail: 'ping timed out' } : d.checkHealth(c)) };
    };
    await h.deliverAndWait('push', pushPayload({ before, after }));
    const [run] = h.standin.checkRunsNamed(APPLY_CHECK, after);
    expect(run!.conclusion).toBe('success');
    const [bake] = h.standin.checkRunsNamed(BAKE_CHECK, after);
    expect(bake!.conclusion).toBe('failure');
    expect(bake!.output.title).toMatch(/Bake of canary failed/);
    expect(await state.isBadTag(NEW)).toBeTruthy();
    expect(h.standin.pulls.size).toBe(0);
    expect(notifications.some((n) => n.includes('bake of ring canary') && n.includes('FAILED'))).toBe(true);
  }, 60_000);

  it('redelivered push: no second rollout', async () => {
    const [before, after] = merge('staging', NEW);
    const payload = pushPayload({ before, after });
    await h.deliverAndWait('push', payload);
    await h.deliverAndWait('push', payload);
    expect(h.standin.checkRunsNamed(APPLY_CHECK, after)).toHaveLength(1);
    expect(hosts.calls.filter((c) => c.op === 'converge' && c.mode === 'apply')).toHaveLength(1);
  }, 60_000);

  it('redelivered push after a restart: the existing apply check run stops a second rollout', async () => {
    const [before, after] = merge('staging', NEW);
    const payload = pushPayload({ before, after });
    await h.deliverAndWait('push', payload);
    await h.restart();
    await h.deliverAndWait('push', payload);
    expect(h.standin.checkRunsNamed(APPLY_CHECK, after)).toHaveLength(1);
    expect(hosts.calls.filter((c) => c.op === 'converge' && c.mode === 'apply')).toHaveLength(1);
    const lists = h.standin.calls('checks/list-for-ref');
    expect(lists).toHaveLength(2);
    expect(lists[1]!.query).toMatchObject({ check_name: APPLY_CHECK });
  }, 60_000);

  it('a push during a rollout queues behind it (one rollout at a time per repo)', async () => {
    hosts.stepDelayMs = 150;
    const [b1, a1] = merge('staging', NEW);
    const [b2, a2] = merge('gamma', NEWER);
    await h.deliver('push', pushPayload({ before: b1, after: a1 }));
    await h.deliver('push', pushPayload({ before: b2, after: a2 }));
    await h.app.idle();
    const r1 = h.standin.checkRunsNamed(APPLY_CHECK, a1)[0]!;
    const r2 = h.standin.checkRunsNamed(APPLY_CHECK, a2)[0]!;
    expect(r2.writes[0]).toMatchObject({ status: 'queued' });
    expect(r1.conclusion).toBe('success');
    expect(r2.conclusion).toBe('success');
    // The second rollout's first host started after the first rollout finished.
    const conv = hosts.calls.filter((c) => c.op === 'converge' && c.mode === 'apply').map((c) => c.customerId);
    expect(conv).toEqual(['staging', 'gamma']);
    const r1Done = h.standin.requests.findIndex((r) => r.operationId === 'checks/update' && (r.body as { check_run_id?: number; conclusion?: string }).conclusion && r.path.endsWith(`/${r1.id}`));
    const r2Started = h.standin.requests.findIndex((r) => r.operationId === 'checks/update' && (r.body as { status?: string }).status === 'in_progress' && r.path.endsWith(`/${r2.id}`));
    expect(r2Started).toBeGreaterThan(r1Done);
  }, 120_000);

  it("ignores the app's own pushes, other branches and deleted refs", async () => {
    const [before, after] = merge('staging', NEW);
    await h.deliverAndWait('push', pushPayload({ before, after, sender: { login: 'fleetkeeper[bot]', type: 'Bot' } }));
    await h.deliverAndWait('push', pushPayload({ before, after, ref: 'refs/heads/feature' }));
    await h.deliverAndWait('push', pushPayload({ before: after, after: '0000000000000000000000000000000000000000', deleted: true }));
    expect(h.standin.checkRuns.size).toBe(0);
    expect(hosts.calls).toHaveLength(0);
  });

  it('initial push (before = 0000…): plan only, nothing applied, says so', async () => {
    await h.deliverAndWait('push', pushPayload({ before: '0000000000000000000000000000000000000000', after: base }));
    const [run] = h.standin.checkRunsNamed(APPLY_CHECK, base);
    expect(run!.conclusion).toBe('neutral');
    expect(run!.output.title).toMatch(/Initial push: nothing applied/);
    expect(hosts.calls).toHaveLength(0);
  });
});
