import { describe, expect, it } from 'vitest';
import { createOfflineDriver, createSshDriver } from '../../../src/host/driver-ssh.js';
import { converge } from '../../../src/host/procedure.js';
import { RecordingExecutor } from '../../../src/host/executor-recording.js';
import type { CommandResult, HostExecutor, RemoteCommand } from '../../../src/host/types.js';
import { makeCustomer } from './customer.js';

describe('offline plan', () => {
  it('runs the same procedure, records every mutating command and parses nothing', async () => {
    const driver = createOfflineDriver();
    const steps: string[] = [];
    const r = await driver.converge(makeCustomer(), { runId: 'plan-1', mode: 'plan', onStep: (s) => steps.push(`${s.step}:${s.status}`) });
    expect(r.outcome).toBe('planned');
    expect(r.message).toMatch(/would upgrade v15.40.1 \(host not observed/);
    const names = r.steps.map((s) => s.step);
    expect(names).toEqual(['observe', 'lock', 'preflight', 'backup', 'verify-backup', 'maintenance-on', 'set-tag', 'recreate', 'configurator', 'migrate', 'maintenance-off', 'health', 'prune', 'unlock']);
    expect(steps.length).toBe(names.length);
    const all = r.steps.flatMap((s) => s.commands ?? []).join('\n');
    expect(all).toContain('docker pull 127.0.0.1:5000/erpnext:v15.40.1');
    expect(all).toContain('bench --site erp.acme.test backup');
    expect(all).toContain('up -d --remove-orphans');
    expect(all).toContain('docker image prune -f');
    expect(r.steps.every((s) => s.status === 'planned')).toBe(true);
  });

  it('refuses to apply', async () => {
    const r = await createOfflineDriver().converge(makeCustomer(), { runId: 'x', mode: 'apply' });
    expect(r.outcome).toBe('refused');
  });
});

/** An executor that fails the test if anything reaches it. */
class TrapExecutor implements HostExecutor {
  readonly target = 'trap';
  calls: RemoteCommand[] = [];
  async exec(cmd: RemoteCommand): Promise<CommandResult> {
    this.calls.push(cmd);
    return { code: 0, stdout: '', stderr: '', durationMs: 0 };
  }
  async close() {}
}

describe('invalid values never reach a shell', () => {
  const hostile: Array<[string, Parameters<typeof makeCustomer>[0]]> = [
    ['tag with command substitution', { image: { repository: '127.0.0.1:5000/erpnext', tag: 'v1$(reboot)' } }],
    ['tag with newline', { image: { repository: '127.0.0.1:5000/erpnext', tag: 'v1\nreboot' } }],
    ['dir with ..', { compose: { dir: '/srv/../etc', files: [] } }],
    ['dir with quote', { compose: { dir: "/srv/a'b", files: [] } }],
    ['site with space', { sites: ['erp.acme.test; rm -rf /'] }],
    ['repository with spaces', { image: { repository: 'evil repo', tag: 'v1' } }],
    ['health url with backtick', { health: { url: 'http://x`id`', attempts: 1, intervalSeconds: 1, timeoutSeconds: 1 } }],
    ['compose file escaping', { compose: { dir: '/srv/acme', files: ['../../etc/passwd'] } }],
    ['project with slash', { compose: { dir: '/srv/acme', project: 'a/b', files: [] } }],
    ['user with dash option', { ssh: { host: '127.0.0.1', port: 22, user: '-oProxyCommand=x', hostKey: 'SHA256:' + 'A'.repeat(43) } }],
  ];
  it.each(hostile)('%s: refused before any command', async (_name, over) => {
    const trap = new TrapExecutor();
    const r = await converge(makeCustomer(over), trap, { runId: 'r1', mode: 'apply' });
    expect(r.outcome).toBe('refused');
    expect(r.message).toMatch(/refusing to run anything/);
    expect(trap.calls).toHaveLength(0);
    // the SSH driver refuses before opening a connection (127.0.0.1:22 is never dialled)
    const driver = createSshDriver({ credentials: { privateKey: 'unused' } });
    const d = await driver.converge(makeCustomer(over), { runId: 'r1', mode: 'plan' });
    expect(d.outcome).toBe('refused');
    expect(d.message).toMatch(/Nothing was run/);
    expect(driver.connectionsOpened()).toEqual({});
    expect(await driver.observe(makeCustomer(over))).toMatchObject({ reachable: false });
  });

  it('a bad run id is refused', async () => {
    const trap = new TrapExecutor();
    const r = await converge(makeCustomer(), trap, { runId: '../x', mode: 'apply' });
    expect(r.outcome).toBe('refused');
    expect(trap.calls).toHaveLength(0);
  });

  it('the recording executor refuses unsafe argv exactly like apply', async () => {
    const rec = new RecordingExecutor();
    await expect(rec.exec({ step: 'observe', argv: ['echo', 'a\nb'], timeoutSeconds: 1, mutates: true })).rejects.toThrow(/line break/);
  });
});
