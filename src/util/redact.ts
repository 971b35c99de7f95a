// Secret masking for everything that leaves the process: logs, check runs,
// PR comments, step output. Two layers: values registered at runtime (the
// SSH passphrase, tokens read from the environment) are masked wherever they
// appear, and well-known secret shapes are masked even if nobody registered them.

const MASK = '***';
const registered = new Set<string>();

/** Mask this exact value from now on (ignored when too short to be a meaningful secret). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) registered.add(value);
}

/** For tests. */
export function clearRegisteredSecrets(): void {
  registered.clear();
}

// Quantifiers are bounded: output can be 256 KiB of one long word, and an
// unbounded prefix makes these regexes quadratic.
const PATTERNS: Array<[RegExp, string | ((...m: string[]) => string)]> = [
  // PEM / OpenSSH private keys, whole block.
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, `[private key ${MASK}]`],
  // Credentials in URLs: scheme://user:pass@host
  [/\b([a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/@]{1,256}:)[^\s@/]{1,512}@/gi, `$1${MASK}@`],
  // GitHub tokens, Slack tokens and webhooks.
  [/\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g, MASK],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g, MASK],
  [/(https:\/\/hooks\.slack\.com\/services\/)[A-Za-z0-9/_-]+/g, `$1${MASK}`],
  // Authorization headers.
  [/\b(authorization:\s*(?:bearer|basic|token)\s+)\S+/gi, `$1${MASK}`],
  // KEY=value / "key": "value" where the key name says secret (.env files, JSON, compose config).
  [
    /\b([A-Za-z0-9_.-]{0,64}(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|PASSPHRASE|CREDENTIALS?)[A-Za-z0-9_.-]{0,64})(["']?\s{0,8}[:=]\s{0,8}["']?)([^\s"',}]+)/gi,
    (_m: string, k: string, sep: string) => `${k}${sep}${MASK}`,
  ],
];

/** Return `text` with secrets masked. Safe on any string; idempotent. */
export function redact(text: string, extraSecrets: Iterable<string> = []): string {
  let out = text;
  const values = [...registered, ...extraSecrets].filter((v) => v && v.length >= 6);
  // Longest first, so a secret containing another is masked whole.
  values.sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join(MASK);
  for (const [re, rep] of PATTERNS) {
    out = out.replace(re, rep as never);
  }
  return out;
}

/** Keep the last `maxBytes` of output (the end of a log says why it failed), masked. */
export function trimOutput(text: string, maxBytes = 4096): string {
  const masked = redact(text);
  const buf = Buffer.from(masked, 'utf8');
  if (buf.length <= maxBytes) return masked;
  // Cut on a byte boundary, then drop a possibly split first character.
  const tail = buf.subarray(buf.length - maxBytes).toString('utf8').replace(/^\uFFFD/, '');
  return `[… ${buf.length - maxBytes} bytes trimmed …]\n${tail}`;
}
