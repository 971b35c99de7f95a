// The batched observation: one remote command per look at a host, its
// sections parsed locally. Runs the real script with sh on this machine, with
// a stand-in `docker` CLI on PATH (the e2e tests use the real engine).
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOfflineDriver } from '../../../src/host/driver-ssh.js';
import { remoteCommandLine } from '../../../src/host/executor-ssh.js';
import { observe, parseObserveSections } from '../../../src/host/observe.js';
import { StepRecorder, type HostContext } from '../../../src/host/context.js';
import type { CommandResult, HostExecutor, RemoteCommand } from '../../../src/host/types.js';
import { makeCustomer } from './customer.js';

const run = promisify(execFile);

/** Runs each command with sh on this machine, exactly as the SSH executor would send it. */
class LocalExecutor implements HostExecutor {
  readonly target = 'local';
  readonly calls: RemoteCommand[] = [];
  constructor(private readonly path: string) {}
  async exec(cmd: RemoteCommand): Promise<CommandResult> {
    this.calls.push(cmd);
    const started = Date.now();
    const r = await run('sh', ['-c', remoteCommandLine(cmd)], { env: { ...process.env, PATH: this.path } }).catch(
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ ...e, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
    );
    return { code: (r as { code?: number }).code ?? 0, stdout: r.stdout, stderr: r.stderr, durationMs: Date.now() - started };
  }
  async close() {}
}

const FAKE_DOCKER = `#!/bin/sh
# stand-in docker CLI: answers what observe asks
case "$*" in
  info*) echo "$FK_ROOT";;
  *"config --no-interpolate"*) echo '{"services":{"backend":{"image":"\${CUSTOM_IMAGE}:\${CUSTOM_TAG}"}}}';;
  *"config --format json"*) echo '{"services":{"backend":{"image":"127.0.0.1:5000/erpnext:v15.39.0"}}}';;
  *" ps -a --format json"*)
    echo '{"Service":"backend","State":"running","Image":"127.0.0.1:5000/erpnext:v15.38.0"}'
    echo '{"Service":"configurator","State":"exited","ExitCode":0,"Image":"127.0.0.1:5000/erpnext:v15.38.0"}';;
  *" exec -T backend "*) printf 'a.erp.test\\nb.erp.test\\n';;
  *) echo "unexpected: $*" >&2; exit 9;;
esac
`;

describe('batched observation', () => {
  let root: string;
  let path: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fk-observe-'));
    await mkdir(join(root, 'bin'));
    await writeFile(join(root, 'bin', 'docker'), FAKE_DOCKER.replace('$FK_ROOT', root));
    await chmod(join(root, 'bin', 'docker'), 0o755);
    await mkdir(join(root, 'acme', '.fleetkeeper'), { recursive: true });
    await writeFile(join(root, 'acme', '.env'), 'CUSTOM_IMAGE=127.0.0.1:5000/erpnext\nCUSTOM_TAG=v15.39.0\nDB_PASSWORD=hunter2\n');
    await writeFile(join(root, 'acme', '.fleetkeeper', 'journal.json'), JSON.stringify({ runId: 'r0', fromTag: 'a', toTag: 'b', phase: 'healthy', backups: [], updatedAt: 'x' }));
    const backup = { site: 'a.erp.test', path: '/b/x.sql.gz', sizeBytes: 10, sha256: 'f'.repeat(64), createdAt: 'now' };
    await mkdir(join(root, 'backups', 'acme', 'r0'), { recursive: true });
    await writeFile(join(root, 'backups', 'acme', 'r0', 'manifest.json'), JSON.stringify({ backups: [backup] }));
    path = `${join(root, 'bin')}:${process.env.PATH}`;
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const ctxFor = (exec: HostExecutor, over: Parameters<typeof makeCustomer>[0] = {}): HostContext => ({
    customer: makeCustomer({
      compose: { dir: join(root, 'acme'), files: [] },
      backup: { dir: join(root, 'backups'), keep: 3, withFiles: false, minSizeRatio: 0.5 },
      ...over,
    }),
    exec,
    mode: 'plan',
    runId: 'r1',
    changeId: 'r1',
    steps: [],
  });

  it('is one remote command and fills every observation field', async () => {
    const exec = new LocalExecutor(path);
    const ctx = ctxFor(exec, { sites: 'all' });
    const o = await observe(ctx, new StepRecorder(ctx, 'observe'));
    expect(exec.calls).toHaveLength(1);
    expect(exec.calls[0]!.mutates).toBe(false);
    expect(o.reachable).toBe(true);
    expect(o.envTag).toBe('v15.39.0');
    expect(o.envImage).toBe('127.0.0.1:5000/erpnext');
    expect(o.runningTag).toBe('v15.38.0');
    expect(o.layout).toEqual({ kind: 'env', variable: 'CUSTOM_TAG', imageVariable: 'CUSTOM_IMAGE' });
    expect(o.composeConfigValid).toBe(true);
    expect(o.configuredImage).toBe('127.0.0.1:5000/erpnext:v15.39.0');
    expect(o.services.map((s) => s.service)).toEqual(['backend', 'configurator']);
    expect(o.configuratorExitCode).toBe(0);
    expect(o.freeDiskMb).toBeGreaterThan(0);
    expect(o.lock).toBeUndefined();
    expect(o.journal).toMatchObject({ runId: 'r0', phase: 'healthy' });
    expect(o.lastBackup).toMatchObject({ site: 'a.erp.test', sizeBytes: 10 });
    expect(o.sites).toEqual(['a.erp.test', 'b.erp.test']);
  });

  it('an unreadable .env and a failing compose config come back as such, not as a crash', async () => {
    const exec = new LocalExecutor(path);
    const ctx = ctxFor(exec, { compose: { dir: join(root, 'acme'), files: ['missing.yml'] } });
    // the stand-in docker refuses anything with -f (unexpected argv): both configs fail
    const bin = join(root, 'bin2');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'docker'), '#!/bin/sh\necho "no such file: missing.yml" >&2; exit 14\n');
    await chmod(join(bin, 'docker'), 0o755);
    const exec2 = new LocalExecutor(`${bin}:${process.env.PATH}`);
    const ctx2 = { ...ctx, exec: exec2 };
    const o = await observe(ctx2, new StepRecorder(ctx2, 'observe'));
    expect(o.reachable).toBe(true);
    expect(o.composeConfigValid).toBe(false);
    expect(o.composeConfigError).toMatch(/no such file: missing.yml/);
    expect(o.layout).toEqual({ kind: 'unknown', reason: 'docker compose config failed' });
    expect(o.services).toEqual([]);
  });

  it('a lost connection is unreachable, not a parse error', async () => {
    const lost: HostExecutor = {
      target: 'x',
      exec: async () => ({ code: null, stdout: '', stderr: 'connection reset', durationMs: 1 }),
      close: async () => {},
    };
    const ctx = ctxFor(lost);
    const o = await observe(ctx, new StepRecorder(ctx, 'observe'));
    expect(o).toMatchObject({ reachable: false, error: 'connection reset' });
  });
});

describe('parseObserveSections', () => {
  it('splits sections with their exit codes and stderr', () => {
    const out = '@@FK env 0@@\nA=1\n\n@@FK-ERR env@@\n\n@@FK cfg 3@@\n\n@@FK-ERR cfg@@\nbad\n\n@@FK-END@@\n';
    const s = parseObserveSections(out, { code: 0, stderr: '' });
    expect(s('env')).toEqual({ code: 0, stdout: 'A=1\n', stderr: '' });
    expect(s('cfg')).toEqual({ code: 3, stdout: '', stderr: 'bad\n' });
  });
  it('a missing section (output cut short) is a failure, never success', () => {
    const s = parseObserveSections('@@FK env 0@@\nA=1\n', { code: 0, stderr: '' });
    expect(s('ps').code).toBe(1);
    expect(parseObserveSections('', { code: 137, stderr: 'killed' })('env')).toMatchObject({ code: 137, stderr: 'killed' });
  });
});

describe('plan wording', () => {
  it('an offline plan for sites "all" says "would", never "turned", and names all sites', async () => {
    const r = await createOfflineDriver().converge(makeCustomer({ sites: 'all' }), { runId: 'plan-2', mode: 'plan' });
    const by = Object.fromEntries(r.steps.map((s) => [s.step, s]));
    expect(by['maintenance-on']).toMatchObject({ status: 'planned', message: 'would turn maintenance mode on for all sites' });
    expect(by['maintenance-off']).toMatchObject({ status: 'planned', message: 'would turn maintenance mode off for all sites' });
    expect(by['migrate']!.message).toMatch(/^would run bench migrate for all sites \(detached/);
    expect(r.steps.every((s) => s.status === 'planned')).toBe(true);
  });
  it('lists the sites when they are known', async () => {
    const r = await createOfflineDriver().converge(makeCustomer({ sites: ['a.test', 'b.test'] }), { runId: 'plan-3', mode: 'plan' });
    expect(r.steps.find((s) => s.step === 'migrate')!.message).toMatch(/for a\.test, b\.test \(detached/);
  });
});

describe('journal writes ride along with their step', () => {
  it('set-tag writes .env and the journal in one command; backup starts with the journal', async () => {
    const r = await createOfflineDriver().converge(makeCustomer(), { runId: 'plan-4', mode: 'plan' });
    const by = Object.fromEntries(r.steps.map((s) => [s.step, s]));
    expect(by['set-tag']!.commands).toHaveLength(1);
    expect(by['set-tag']!.commands![0]).toContain('<set tag in .env>');
    expect(by['set-tag']!.commands![0]).toContain('/srv/acme/.fleetkeeper/journal.json');
    expect(by['backup']!.commands![0]).toMatch(/<start backup>' sh \/srv\/acme\/\.fleetkeeper\/journal\.json/);
    expect(by['migrate']!.commands).toHaveLength(1);
    expect(by['migrate']!.commands![0]).toContain('<start migrate detached>');
  });
});
