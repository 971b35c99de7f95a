import { afterEach, describe, expect, it } from 'vitest';
import { clearRegisteredSecrets, redact, registerSecret, trimOutput } from '../../../src/util/redact.js';

afterEach(() => clearRegisteredSecrets());

describe('redact', () => {
  it('masks secret-looking assignments in .env and compose output', () => {
    const out = redact('DB_PASSWORD=hunter2secret\nCUSTOM_TAG=v15.40.1\n  ADMIN_PASSWORD: "s3cr3t!"\nSLACK_TOKEN=xyz123456');
    expect(out).not.toMatch(/hunter2secret|s3cr3t!|xyz123456/);
    expect(out).toContain('CUSTOM_TAG=v15.40.1');
  });
  it('masks private keys, URL credentials, GitHub and Slack tokens, auth headers', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
    const text = `${key}\nhttps://user:pa55word@registry.example.com/v2\nghp_${'a'.repeat(36)}\nhttps://hooks.slack.com/services/T000/B000/XXXXXXXX\nAuthorization: Bearer abc.def.ghi`;
    const out = redact(text);
    expect(out).not.toMatch(/b3BlbnNzaC1rZXktdjEAAAAA|pa55word|aaaaaaaaaaaaaaaa|XXXXXXXX|abc\.def\.ghi/);
  });
  it('masks registered values anywhere', () => {
    registerSecret('correct-horse-battery');
    expect(redact('the passphrase correct-horse-battery leaked')).toBe('the passphrase *** leaked');
  });
  it('trims to the tail and masks', () => {
    const long = 'x'.repeat(10_000) + '\nDB_PASSWORD=abcdef123\nend';
    const t = trimOutput(long, 100);
    expect(Buffer.byteLength(t)).toBeLessThan(160);
    expect(t).toMatch(/trimmed/);
    expect(t).toMatch(/end$/);
    expect(t).not.toContain('abcdef123');
  });
});

describe('redact performance', () => {
  it('is linear on long words (256 KiB of output)', () => {
    const t0 = Date.now();
    redact('x'.repeat(300_000));
    redact('a:'.repeat(150_000));
    redact('PASSWORD'.repeat(30_000));
    expect(Date.now() - t0).toBeLessThan(500);
  });
});
