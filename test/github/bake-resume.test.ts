// Bakes survive a restart of the bot: the bake after an apply is kept in the
// (file) state store, and a new app instance on the same state directory
// resumes it with the time left, re-checks health, then promotes or marks the
// tag bad, continuing the same `fleetkeeper / bake` check run (or a new one
// when the old one cannot be updated). The canary ring bakes for a few real
// seconds; the restart happens in the middle of that.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffFleets, loadFleet, setCustomerTag } from '../../src/fleet/index.js';
import { createOfflineDriver } from '../../src/host/driver-ssh.js';
import { APPLY_CHECK, BAKE_CHECK } from '../../src/github/limits.js';
import { FileStateStore, type PendingBake } from '../../src/rollout/state.js';
import { FakeHosts } from './fake-hosts.js';
import { FIXTURE_FLEET, readTree, startHarness, type Harness } from './harness.js';
import { pushPayload } from './payloads.js';
import type { StoredCheckRun } from './standin/server.js';

const OLD = 'v15.38.0';
const NEW = 'v15.40.1';
const NEWER = 'v15.41.0';
const BAKE_SECONDS = 8;

let h: Harness;
let hosts: FakeHosts;
let dir: string;
let notifications: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fk-bake-resume-'));
  hosts = new FakeHosts({ staging: OLD, alpha: OLD, beta: OLD, gamma: OLD });
  notifications = [];
  h = await startHarness({
    loadFleet: (s) => loadFleet(s),
    diffFleets,
    setTag: setCustomerTag,
    // Each app instance opens the state directory anew, as a restarted process does.
    state: () => FileStateStore.open(dir),
    createDriver: () => hosts.driver('ssh'),
    createOfflineDriver: () => createOfflineDriver(),
    notifier: { send: async (t) => void notifications.push(t) },
    bakeIntervalSeconds: 1,
    progressIntervalMs: 100,
    appSlug: 'fleetkeeper',
  });
  const tree = readTree(FIXTURE_FLEET);
  const canary = tree['rings/canary.yml']!;
  expect(canary).toMatch(/^bakeTime: 1h$/m);
  tree['rings/canary.yml'] = canary.replace(/^bakeTime: 1h$/m, `bakeTime: ${BAKE_SECONDS}s`);
  h.git.commit('master', tree, 'fleet');
});

afterEach(async () => {
  try {
    h.standin.assertClean();
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function merge(id: string, tag: string): [string, string] {
  const before = h.git.revParse('refs/heads/master');
  const cur = h.git.show('master', `customers/${id}.yml`)!;
  const after = h.git.commit('master', { [`customers/${id}.yml`]: cur.replace(/tag: \S+/, `tag: ${tag}`) }, `${id} to ${tag}`);
  return [before, after];
}

/** What is on disk in the state directory right now. */
function pendingOnDisk(): PendingBake[] {
  try {
    const doc = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { bakes?: Record<string, PendingBake> };
    return Object.values(doc.bakes ?? {});
  } catch {
    return [];
  }
}

async function waitFor<T>(what: string, get: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Merge staging to `tag`, deliver the push, and wait until its bake is running and persisted. */
async function applyAndStartBake(tag: string): Promise<{ after: string; bake: StoredCheckRun; pending: PendingBake }> {
  const [before, after] = merge('staging', tag);
  expect(await h.deliver('push', pushPayload({ before, after }))).toBe(200);
  const bake = await waitFor('the bake check run', () => h.standin.checkRunsNamed(BAKE_CHECK, after)[0]);
  const pending = await waitFor('the pending bake on disk', () => pendingOnDisk().find((b) => b.commit === after && b.bakeRunId === bake.id));
  return { after, bake, pending };
}

const healthChecks = () => hosts.calls.filter((c) => c.op === 'checkHealth' && c.customerId === 'staging').length;
const conclusions = (run: StoredCheckRun) => run.writes.filter((w) => w.conclusion);

describe('a bake survives a restart of the bot', () => {
  it('resumes after a crash: waits the remaining time, re-checks health, continues its check run and opens the promotion PR', async () => {
    const { after, bake, pending } = await applyAndStartBake(NEW);
    expect(pending).toMatchObject({ key: 'Codertocat/Hello-World:canary', owner: 'Codertocat', repo: 'Hello-World', installationId: 1, defaultBranch: 'master', ring: 'canary', tag: NEW, commit: after, bakeRunUrl: expect.stringContaining(`/runs/${bake.id}`) });
    const [apply] = h.standin.checkRunsNamed(APPLY_CHECK, after);
    expect(pending.applyRunUrl).toContain(`/runs/${apply!.id}`);
    expect(Date.parse(pending.until) - Date.parse(pending.startedAt)).toBe(BAKE_SECONDS * 1000);
    // The evidence for the PR is kept, without the bulky host details.
    expect(JSON.stringify(pending.ringResult)).toContain('staging');
    expect(JSON.stringify(pending.ringResult)).not.toContain('"before"');

    await h.restart({ crash: true });
    // The crashed instance reported nothing and promoted nothing; the bake was not finished.
    expect(Date.now()).toBeLessThan(Date.parse(pending.until));
    expect(bake.conclusion).toBeNull();
    expect(h.standin.pulls.size).toBe(0);
    const checksBeforeRestart = healthChecks();

    await h.app.idle();
    // The promotion PR came only once the remaining bake time had passed.
    const creates = h.standin.calls('pulls/create');
    expect(creates).toHaveLength(1);
    expect(creates[0]!.at).toBeGreaterThanOrEqual(Date.parse(pending.until));
    const pulls = [...h.standin.pulls.values()];
    expect(pulls[0]).toMatchObject({ title: `Promote ${NEW} to early`, head: 'fleetkeeper/promote-early', state: 'open' });
    expect(pulls[0]!.body).toContain('Evidence from ring canary');
    expect(pulls[0]!.body).toContain(`/runs/${apply!.id}`);
    expect(pulls[0]!.body).toMatch(/\| staging \| upgraded \|/);
    const branch = h.git.revParse('refs/heads/fleetkeeper/promote-early');
    expect(h.git.diffNameStatus(after, branch).map((f) => f.path).sort()).toEqual(['customers/alpha.yml', 'customers/beta.yml']);
    // Health was checked again by the new instance, more than once (start and end of the time left).
    expect(healthChecks() - checksBeforeRestart).toBeGreaterThanOrEqual(2);

    // The same bake check run was continued and completed once.
    const runs = h.standin.checkRunsNamed(BAKE_CHECK, after);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.id).toBe(bake.id);
    expect(runs[0]!.writes.some((w) => w.status === 'in_progress' && JSON.stringify(w.output).includes('Resumed after a restart'))).toBe(true);
    expect(conclusions(runs[0]!)).toHaveLength(1);
    expect(runs[0]!.conclusion).toBe('success');
    expect(runs[0]!.output.summary).toContain(`Opened promotion PR [#${pulls[0]!.number}`);
    expect(runs[0]!.output.summary).toContain('resumed after a restart');
    expect(pendingOnDisk()).toEqual([]);

    // A further restart has nothing left to resume.
    const requests = h.standin.requests.length;
    await h.restart();
    await h.app.idle();
    expect(h.standin.requests.length).toBe(requests);
  }, 90_000);

  it('a host that turns sick while the bot is down: after the restart the bake fails, the tag is marked bad, no PR', async () => {
    const { after, bake } = await applyAndStartBake(NEW);
    await h.restart({ crash: true });
    hosts.hosts.get('staging')!.healthy = false;
    await h.app.idle();
    expect(h.standin.pulls.size).toBe(0);
    expect(h.standin.calls('pulls/create')).toHaveLength(0);
    const runs = h.standin.checkRunsNamed(BAKE_CHECK, after);
    expect(runs.map((r) => r.id)).toEqual([bake.id]);
    expect(runs[0]!.conclusion).toBe('failure');
    expect(runs[0]!.output.title).toBe(`Bake of canary failed: ${NEW} is not promoted`);
    expect(runs[0]!.output.summary).toContain('staging (not answering)');
    const store = await FileStateStore.open(dir);
    expect(await store.isBadTag(NEW)).toMatchObject({ tag: NEW, reason: expect.stringContaining('unhealthy during bake of ring canary') });
    expect(await store.pendingBakes()).toEqual([]);
    expect(notifications.some((n) => n.includes('bake of ring canary') && n.includes('FAILED'))).toBe(true);
  }, 90_000);

  it('when the old bake check run cannot be updated, a new one says it resumed after a restart', async () => {
    const { after, bake } = await applyAndStartBake(NEW);
    await h.restart({ crash: true });
    // GitHub no longer has the old run (e.g. deleted with its check suite).
    h.standin.checkRuns.delete(bake.id);
    await h.app.idle();
    const runs = h.standin.checkRunsNamed(BAKE_CHECK, after);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.id).not.toBe(bake.id);
    expect(runs[0]!.writes[0]).toMatchObject({ status: 'in_progress', head_sha: after });
    expect((runs[0]!.writes[0]!.output as { title: string }).title).toMatch(/resumed after a restart/);
    expect((runs[0]!.writes[0]!.output as { summary: string }).summary).toContain(`The earlier check run ([${bake.id}]`);
    expect(runs[0]!.conclusion).toBe('success');
    expect([...h.standin.pulls.values()].map((p) => p.title)).toEqual([`Promote ${NEW} to early`]);
    expect(pendingOnDisk()).toEqual([]);
  }, 90_000);

  it('runs once: resuming again, or a redelivered push, while it runs starts nothing twice; a finished bake left pending is only forgotten', async () => {
    const [before, after] = merge('staging', NEW);
    const { bake } = await (async () => {
      expect(await h.deliver('push', pushPayload({ before, after }))).toBe(200);
      const b = await waitFor('the bake check run', () => h.standin.checkRunsNamed(BAKE_CHECK, after)[0]);
      await waitFor('the pending bake on disk', () => pendingOnDisk().find((p) => p.bakeRunId === b.id));
      return { bake: b };
    })();
    await h.restart({ crash: true });
    // Re-triggered at once (during the resume) and once the bake runs, and the push redelivered.
    await h.app.resumeBakes();
    await waitFor('the resumed bake', () => bake.writes.some((w) => JSON.stringify(w.output ?? '').includes('Resumed after a restart')));
    await h.app.resumeBakes();
    expect(await h.deliver('push', pushPayload({ before, after }))).toBe(200);
    await h.app.idle();
    expect(h.standin.checkRunsNamed(BAKE_CHECK, after)).toHaveLength(1);
    expect(bake.writes.filter((w) => JSON.stringify(w.output ?? '').includes('Resumed after a restart'))).toHaveLength(1);
    expect(conclusions(bake)).toHaveLength(1);
    expect(bake.conclusion).toBe('success');
    expect(h.standin.calls('pulls/create')).toHaveLength(1);
    expect(h.standin.calls('git/create-commit')).toHaveLength(1);
    expect(hosts.calls.filter((c) => c.op === 'converge' && c.mode === 'apply')).toHaveLength(1);

    // A record left behind by a stop between completing the run and forgetting it: the
    // completed run shows the bake is done, so the next start only forgets it.
    const store = await FileStateStore.open(dir);
    const stale: PendingBake = { key: 'Codertocat/Hello-World:canary', id: 'stale', owner: 'Codertocat', repo: 'Hello-World', installationId: 1, defaultBranch: 'master', ring: 'canary', tag: NEW, commit: after, applyRunUrl: null, bakeRunId: bake.id, bakeRunUrl: null, startedAt: new Date().toISOString(), until: new Date().toISOString() };
    await store.savePendingBake(stale);
    await h.restart();
    await h.app.idle();
    expect(h.standin.calls('checks/get').at(-1)!.path).toContain(`/check-runs/${bake.id}`);
    expect(conclusions(bake)).toHaveLength(1);
    expect(h.standin.checkRunsNamed(BAKE_CHECK, after)).toHaveLength(1);
    expect(h.standin.calls('pulls/create')).toHaveLength(1);
    expect(h.standin.calls('pulls/update')).toHaveLength(0);
    expect(pendingOnDisk()).toEqual([]);
  }, 90_000);

  it('a newer apply to the ring supersedes a resumed bake: only the newer tag is promoted', async () => {
    const { bake, pending } = await applyAndStartBake(NEW);
    // Health checks after the restart wait until the newer apply reaches the host, so the
    // resumed bake is still running when it is superseded, however slow the machine is.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const driver = hosts.driver;
    hosts.driver = (name?: string) => {
      const d = driver.call(hosts, name);
      return {
        ...d,
        checkHealth: async (c) => (await gate, d.checkHealth(c)),
        converge: async (c, o) => {
          if (c.image.tag === NEWER) release();
          return d.converge(c, o);
        },
      };
    };
    await h.restart({ crash: true });
    await waitFor('the resumed bake', () => bake.writes.some((w) => JSON.stringify(w.output ?? '').includes('Resumed after a restart')));
    // The bake time is over while its last health round still runs: the newer apply must still win.
    await waitFor('the end of the bake time', () => Date.now() > Date.parse(pending.until));
    const [b2, a2] = merge('staging', NEWER);
    expect(await h.deliver('push', pushPayload({ before: b2, after: a2 }))).toBe(200);
    await h.app.idle();
    expect(bake.conclusion).toBe('cancelled');
    expect(bake.output.title).toMatch(/Bake of canary (interrupted by|superseded by) a newer apply/);
    const [newer] = h.standin.checkRunsNamed(BAKE_CHECK, a2);
    expect(newer!.conclusion).toBe('success');
    expect(h.standin.calls('pulls/create')).toHaveLength(1);
    expect([...h.standin.pulls.values()].map((p) => p.title)).toEqual([`Promote ${NEWER} to early`]);
    expect(h.git.show('refs/heads/fleetkeeper/promote-early', 'customers/alpha.yml')).toContain(`tag: ${NEWER}`);
    expect(pendingOnDisk()).toEqual([]);
  }, 90_000);
});
