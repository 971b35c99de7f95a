// The GitHub App against real hosts: the testbed's sshd + Docker Compose
// hosts (test/testbed), the real SSH driver, the GitHub stand-in. A PR's live
// plan observes a host read-only; the merge upgrades it for real; a bad tag
// is rolled back and reported with its annotation and Retry button.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffFleets, loadFleet, setCustomerTag } from '../../src/fleet/index.js';
import { createOfflineDriver, createSshDriver } from '../../src/host/driver-ssh.js';
import { MemoryStateStore } from '../../src/rollout/state.js';
import { loadSshCredentials } from '../../src/ssh/credentials.js';
import { APPLY_CHECK, PLAN_CHECK } from '../../src/github/limits.js';
import { startTestbed, TAGS, type Testbed, type TestbedHost } from '../testbed/index.js';
import { fastClock } from './fake-hosts.js';
import { startHarness, type Harness } from './harness.js';
import { pullRequestPayload, pushPayload } from './payloads.js';

let tb: Testbed;
let h: Harness;
let base: string;
const TARGET = 'v15.40.1';

function customerYaml(tb: Testbed, host: TestbedHost, ring: string, tag: string): string {
  return [
    `displayName: Testbed ${host.id}`,
    `ring: ${ring}`,
    'ssh:',
    `  host: ${host.address}`,
    `  port: ${host.port}`,
    `  user: ${host.user}`,
    `  hostKey: ${host.hostKey}`,
    'compose:',
    `  dir: ${host.composeDir}`,
    `  project: ${host.project}`,
    'sites:',
    `  - ${host.site}`,
    'image:',
    `  repository: ${tb.imageRepo}`,
    `  tag: ${tag}`,
    'backup:',
    `  dir: ${host.composeDir.replace(/\/[^/]+\/?$/, '')}/fleetkeeper-backups`,
    '  keep: 2',
    'health:',
    `  url: ${host.healthUrl}`,
    '  attempts: 2',
    '  intervalSeconds: 1',
    '  timeoutSeconds: 5',
    'preflight:',
    '  minFreeDiskMb: 50',
    'timeouts:',
    '  connectSeconds: 10',
    '  commandSeconds: 120',
    '  pullSeconds: 180',
    '  migrateSeconds: 300',
    '  backupSeconds: 180',
    '',
  ].join('\n');
}

beforeAll(async () => {
  tb = await startTestbed({ name: 'fk-github-app', hosts: 2 });
  const credentials = loadSshCredentials({ FLEETKEEPER_SSH_KEY_FILE: tb.privateKeyPath });
  h = await startHarness({
    loadFleet: (s) => loadFleet(s),
    diffFleets,
    setTag: setCustomerTag,
    state: async () => new MemoryStateStore(),
    createDriver: () => createSshDriver({ credentials }),
    createOfflineDriver,
    clock: fastClock(),
    progressIntervalMs: 1000,
    appSlug: 'fleetkeeper',
  });
  const [a, b] = tb.hosts as [TestbedHost, TestbedHost];
  base = h.git.commit(
    'master',
    {
      'defaults.yml': 'image:\n  repository: frappe/erpnext\n',
      'rings/canary.yml': 'order: 1\nconcurrency: 1\nfailureBudget: 0\nbakeTime: 1m\nnext: early\nautoPromote: true\n',
      'rings/early.yml': 'order: 2\nconcurrency: 1\nfailureBudget: 0\nbakeTime: 0m\n',
      [`customers/${a.id}.yml`]: customerYaml(tb, a, 'canary', TAGS.initial),
      [`customers/${b.id}.yml`]: customerYaml(tb, b, 'early', TAGS.initial),
    },
    'testbed fleet',
  );
}, 600_000);

afterAll(async () => {
  try {
    h?.standin.assertClean();
  } finally {
    await h?.close();
    await tb?.stop();
  }
}, 180_000);

describe('GitHub App on the testbed', () => {
  it('same-repo PR: live plan observes the real host read-only and shows its .env diff', async () => {
    const a = tb.hosts[0]!;
    h.git.branch('bump', 'master');
    const head = h.git.commit('bump', { [`customers/${a.id}.yml`]: customerYaml(tb, a, 'canary', TARGET) });
    await h.deliverAndWait('pull_request', pullRequestPayload({ action: 'opened', headSha: head, headRef: 'bump', baseSha: base }));
    const [run] = h.standin.checkRunsNamed(PLAN_CHECK, head);
    expect(run!.conclusion, run!.output.summary ?? '').toBe('success');
    expect(run!.output.summary).toContain('Live plan');
    expect(run!.output.text).toContain(`+CUSTOM_TAG=${TARGET}`);
    expect(await tb.envTag(a.id)).toBe(TAGS.initial);
  }, 300_000);

  it('merge: the host is really upgraded, the check run completes, the promotion PR edits the early customer', async () => {
    const [a, b] = tb.hosts as [TestbedHost, TestbedHost];
    const before = h.git.revParse('refs/heads/master');
    const after = h.git.commit('master', { [`customers/${a.id}.yml`]: customerYaml(tb, a, 'canary', TARGET) }, `canary to ${TARGET}`);
    await h.deliverAndWait('push', pushPayload({ before, after }));
    const [run] = h.standin.checkRunsNamed(APPLY_CHECK, after);
    expect(run!.conclusion, run!.output.summary ?? '').toBe('success');
    expect(run!.writes.length).toBeGreaterThanOrEqual(3);
    expect(run!.output.summary).toContain('✅ upgraded');
    expect(await tb.envTag(a.id)).toBe(TARGET);
    expect(await tb.runningTag(a.id)).toBe(TARGET);
    expect(await tb.envTag(b.id)).toBe(TAGS.initial);
    const pr = [...h.standin.pulls.values()][0]!;
    expect(pr.title).toBe(`Promote ${TARGET} to early`);
    const branch = h.git.revParse('refs/heads/fleetkeeper/promote-early');
    expect(h.git.diffNameStatus(after, branch).map((f) => f.path)).toEqual([`customers/${b.id}.yml`]);
    expect(h.git.show(branch, `customers/${b.id}.yml`)).toContain(`tag: ${TARGET}`);
  }, 600_000);

  it('a tag that fails its health gate is rolled back: failure, annotation, Retry button', async () => {
    const a = tb.hosts[0]!;
    const before = h.git.revParse('refs/heads/master');
    const after = h.git.commit('master', { [`customers/${a.id}.yml`]: customerYaml(tb, a, 'canary', TAGS.unhealthy) }, 'canary to a bad tag');
    await h.deliverAndWait('push', pushPayload({ before, after }));
    const [run] = h.standin.checkRunsNamed(APPLY_CHECK, after);
    expect(run!.conclusion).toBe('failure');
    expect(run!.output.summary).toMatch(/rolled back|rollback failed/);
    expect(run!.annotations[0]).toMatchObject({ path: `customers/${a.id}.yml`, start_line: 15 });
    expect(run!.actions.map((x) => x.identifier)).toEqual(['retry-failed']);
    expect(await tb.runningTag(a.id)).toBe(TARGET);
  }, 600_000);
});
