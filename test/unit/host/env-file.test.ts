// The host-side .env editor, run through a real sh/awk locally (the same
// script the SSH executor sends).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envDiff, restoreEnv, setEnv } from '../../../src/host/env-file.js';
import { StepRecorder, type HostContext } from '../../../src/host/context.js';
import { joinArgv } from '../../../src/host/shell.js';
import type { CommandResult, HostExecutor, RemoteCommand } from '../../../src/host/types.js';
import { makeCustomer } from './customer.js';

class LocalExecutor implements HostExecutor {
  readonly target = 'local';
  async exec(cmd: RemoteCommand): Promise<CommandResult> {
    try {
      const stdout = execFileSync('sh', ['-c', joinArgv(cmd.argv)], { cwd: cmd.cwd, encoding: 'utf8', input: cmd.stdin ?? '' });
      return { code: 0, stdout, stderr: '', durationMs: 0 };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, stdout: err.stdout, stderr: err.stderr, durationMs: 0 };
    }
  }
  async close() {}
}

const ORIGINAL = `# frappe_docker .env
ERPNEXT_VERSION=v15.38.0
DB_PASSWORD=s3cret-value
export CUSTOM_IMAGE=127.0.0.1:5000/erpnext
CUSTOM_TAG=v15.38.0
CUSTOM_TAG=duplicate
HTTP_PUBLISH_PORT=8080
# trailing comment, no newline at end`;

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'fk-env-'));
  writeFileSync(join(dir, '.env'), ORIGINAL);
  chmodSync(join(dir, '.env'), 0o640);
  const customer = makeCustomer({ compose: { dir, files: [] } });
  const ctx: HostContext = { customer, exec: new LocalExecutor(), mode: 'apply', runId: 'run-7', changeId: 'run-7', steps: [] };
  return { dir, ctx, rec: new StepRecorder(ctx, 'set-tag') };
}

describe('.env editing', () => {
  it('diff shows exactly the tag line, secrets masked', async () => {
    const { ctx, rec } = setup();
    const d = await envDiff(ctx, rec, { variable: 'CUSTOM_TAG', value: 'v15.40.1' });
    expect(d).toContain('-CUSTOM_TAG=v15.38.0');
    expect(d).toContain('+CUSTOM_TAG=v15.40.1');
    expect(d).toContain('-CUSTOM_TAG=duplicate');
    expect(d).toContain('--- a/.env');
  });

  it('sets the tag atomically, keeps every other line, the mode, and a backup; restore brings it back', async () => {
    const { dir, ctx, rec } = setup();
    await setEnv(ctx, rec, { variable: 'CUSTOM_TAG', value: 'v15.40.1' });
    const now = readFileSync(join(dir, '.env'), 'utf8');
    expect(now.split('\n').filter((l) => l.startsWith('CUSTOM_TAG'))).toEqual(['CUSTOM_TAG=v15.40.1']);
    for (const keep of ['ERPNEXT_VERSION=v15.38.0', 'DB_PASSWORD=s3cret-value', 'export CUSTOM_IMAGE=127.0.0.1:5000/erpnext', 'HTTP_PUBLISH_PORT=8080', '# trailing comment, no newline at end']) {
      expect(now).toContain(keep);
    }
    expect(statSync(join(dir, '.env')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(dir, '.env.fleetkeeper-run-7.bak'), 'utf8')).toBe(ORIGINAL);
    // idempotent: a second run renders from the saved original
    await setEnv(ctx, rec, { variable: 'CUSTOM_TAG', value: 'v15.40.1', imageVariable: 'CUSTOM_IMAGE', image: 'reg.example/erpnext' });
    const again = readFileSync(join(dir, '.env'), 'utf8');
    expect(again).toContain('CUSTOM_IMAGE=reg.example/erpnext');
    expect(again).not.toContain('export CUSTOM_IMAGE');
    expect(existsSync(join(dir, '.env.fleetkeeper-tmp'))).toBe(false);
    await restoreEnv(ctx, rec);
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe(ORIGINAL);
  });

  it('appends the variable when .env lacks it', async () => {
    const { dir, ctx, rec } = setup();
    await setEnv(ctx, rec, { variable: 'NEW_TAG', value: 'v1' });
    expect(readFileSync(join(dir, '.env'), 'utf8').trimEnd().split('\n').pop()).toBe('NEW_TAG=v1');
  });
});
