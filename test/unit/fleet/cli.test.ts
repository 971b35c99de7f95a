// The real command line, as an operator or CI runs it.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

// tsx resolved from this repo, so the command also runs from a directory outside it.
const tsx = import.meta.resolve('tsx');

function fleetkeeper(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fleetkeeper validate', () => {
  it('exits 0 on the example fleet', () => {
    const r = fleetkeeper(['validate', 'fleet']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('fleet: 12 customers in 3 rings (canary 2, early 4, broad 6); no problems\n');
    expect(r.code).toBe(0);
  });

  it('exits 1 and names file:line:col on a copy with a broken tag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fk-validate-'));
    try {
      cpSync(join(root, 'fleet'), dir, { recursive: true });
      const f = join(dir, 'customers/kanzlei-weber.yml');
      writeFileSync(f, readFileSync(f, 'utf8').replace('tag: v15.40.1', 'tag: v15.40;rm'));
      const r = fleetkeeper(['validate', '.'], dir);
      expect(r.stdout).toBe([
        "customers/kanzlei-weber.yml:10:8 image.tag: 'v15.40;rm' is not a valid image tag (letters, digits, '.', '_', '-'; at most 128 characters; or sha256:<64 hex digits>)",
        '.: 1 error',
        '',
      ].join('\n'));
      expect(r.code).toBe(1);

      const json = fleetkeeper(['validate', dir, '--format', 'json']);
      expect(json.code).toBe(1);
      const parsed = JSON.parse(json.stdout) as { ok: boolean; errors: Array<{ file: string; line: number; path: string }> };
      expect(parsed.ok).toBe(false);
      expect(parsed.errors.map((e) => [e.file, e.line, e.path])).toEqual([[join(dir, 'customers/kanzlei-weber.yml'), 10, 'image.tag']]);

      const gh = fleetkeeper(['validate', '.', '--format', 'github'], dir);
      expect(gh.stdout.split('\n')[0]).toMatch(/^::error file=customers\/kanzlei-weber\.yml,line=10,col=8,endColumn=\d+,title=image\.tag::'v15\.40;rm' is not a valid image tag/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('defaults to the current directory and reports a missing directory', () => {
    expect(fleetkeeper(['validate'], join(root, 'fleet')).code).toBe(0);
    const r = fleetkeeper(['validate', 'no-such-dir']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read fleet directory 'no-such-dir'/);
  });
});
