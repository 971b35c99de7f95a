import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { joinArgv, quote, sh, UnsafeArgumentError } from '../../../src/host/shell.js';
import { remoteCommandLine } from '../../../src/host/executor-ssh.js';

// What a remote shell would receive: run the joined line through a real sh.
const runLocally = (line: string) => execFileSync('sh', ['-c', line], { encoding: 'utf8' });

const hostile = [
  '$(touch /tmp/fk-pwned)',
  '`id`',
  "'; rm -rf / #",
  'a b\tc',
  '"double" and \'single\'',
  '*',
  '~root',
  '--help',
  '-rf',
  '$HOME ${PATH}',
  'ä😀',
  '',
  '\\',
  "it's",
  '|&;<>(){}!',
];

describe('quoting', () => {
  it.each(hostile)('passes %j through a real shell verbatim', (v) => {
    expect(runLocally(joinArgv(['printf', '%s', v]))).toBe(v);
  });

  it('keeps plain words readable', () => {
    expect(quote('v15.40.1')).toBe('v15.40.1');
    expect(quote('/opt/erp-1/compose.yaml')).toBe('/opt/erp-1/compose.yaml');
    expect(quote("it's")).toBe(`'it'\\''s'`);
  });

  it('refuses NUL and line breaks in values', () => {
    expect(() => joinArgv(['echo', 'a\nb'])).toThrow(UnsafeArgumentError);
    expect(() => joinArgv(['echo', 'a\rb'])).toThrow(/line break/);
    expect(() => joinArgv(['echo', 'a\0b'])).toThrow(/NUL/);
    // A value that happens to follow -c is still a value unless it is a constant script.
    expect(() => joinArgv(['sh', '-c', 'echo 1\necho 2'])).toThrow(/line break/);
  });

  it('allows multi-line constant scripts from sh(), values stay positional', () => {
    const argv = sh('# test script\nprintf "%s|" "$1"\nprintf "%s" "$2"', '$(id)', "x'y");
    expect(runLocally(joinArgv(argv))).toBe("$(id)|x'y");
    // embedded in a longer argv (docker compose exec ... sh -c SCRIPT)
    expect(runLocally(joinArgv(['env', ...argv]))).toBe("$(id)|x'y");
    // but values given to sh() may not carry line breaks
    expect(() => joinArgv(sh('echo "$1"', 'a\nb'))).toThrow(UnsafeArgumentError);
  });

  it('bounds every remote command with a server-side timeout and quotes cwd', () => {
    const line = remoteCommandLine({ step: 'observe', argv: ['cat', '.env'], cwd: "/opt/a b'c", timeoutSeconds: 30, mutates: false });
    expect(line).toBe(`cd '/opt/a b'\\''c' && timeout -k 10 30 cat .env`);
    expect(() => remoteCommandLine({ step: 'observe', argv: ['echo', 'x\ny'], timeoutSeconds: 1, mutates: false })).toThrow();
  });
});
