// The bot's SSH identity comes from its environment (a file path or the key
// itself), never from the fleet repo. The key and passphrase are registered
// with the redactor so they cannot leak through any log or report.
import { readFileSync } from 'node:fs';
import { registerSecret } from '../util/redact.js';

export interface SshCredentials {
  privateKey: string;
  passphrase?: string;
}

export class SshCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshCredentialsError';
  }
}

export function loadSshCredentials(env: NodeJS.ProcessEnv = process.env): SshCredentials {
  const file = env.FLEETKEEPER_SSH_KEY_FILE?.trim();
  const inline = env.FLEETKEEPER_SSH_KEY;
  let privateKey: string;
  if (file) {
    try {
      privateKey = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new SshCredentialsError(`FLEETKEEPER_SSH_KEY_FILE=${file}: cannot read the private key (${code})`);
    }
  } else if (inline && inline.trim()) {
    // Secrets stores often flatten newlines; accept "\n" escapes.
    privateKey = inline.includes('\n') ? inline : inline.replace(/\\n/g, '\n');
  } else {
    throw new SshCredentialsError(
      'no SSH private key: set FLEETKEEPER_SSH_KEY_FILE to a key file path, or FLEETKEEPER_SSH_KEY to the key itself',
    );
  }
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(privateKey)) {
    throw new SshCredentialsError(
      `${file ? `FLEETKEEPER_SSH_KEY_FILE=${file}` : 'FLEETKEEPER_SSH_KEY'}: not a private key (expected a PEM or OpenSSH "-----BEGIN ... PRIVATE KEY-----" block)`,
    );
  }
  registerSecret(privateKey.trim());
  const passphrase = env.FLEETKEEPER_SSH_KEY_PASSPHRASE || undefined;
  registerSecret(passphrase);
  return passphrase ? { privateKey, passphrase } : { privateKey };
}
