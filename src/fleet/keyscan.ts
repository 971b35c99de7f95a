// Learn a host's SSH key without logging in: the handshake reaches the
// host-key check, we record the key, and refuse the connection there. No
// user name or credential is ever offered to the host.
import { NodeSSH } from 'node-ssh';
import { sha256Fingerprint } from '../ssh/fingerprint.js';

export interface ScannedKey {
  /** Key type from the key blob, e.g. ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa. */
  type: string;
  /** OpenSSH-style SHA256 fingerprint. */
  fingerprint: string;
}

export class KeyscanError extends Error {}

/** The key type written at the start of an SSH public key blob (uint32 length + name). */
export function keyTypeOf(blob: Uint8Array): string {
  if (blob.length < 4) return 'unknown';
  const len = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  if (len > 64 || 4 + len > blob.length) return 'unknown';
  return new TextDecoder().decode(blob.subarray(4, 4 + len));
}

/**
 * The host key `host:port` presents to fleetkeeper's SSH client (the same
 * algorithm preference the rollout uses, so the pinned key is the one it
 * will be checked against).
 */
export async function scanHostKey(host: string, port: number, timeoutMs = 10_000): Promise<ScannedKey> {
  let captured: Buffer | undefined;
  const ssh = new NodeSSH();
  // readyTimeout only starts once TCP is up; bound the TCP connect as well.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ssh.connection?.destroy();
      reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs + 1000);
  });
  try {
    await Promise.race([deadline, ssh.connect({
      host,
      port,
      // Required by node-ssh's config check; never sent: we stop before authentication.
      username: 'fleetkeeper-keyscan',
      readyTimeout: timeoutMs,
      agentForward: false,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        captured = Buffer.from(key);
        return false;
      },
    })]);
  } catch (e) {
    if (!captured) throw new KeyscanError(`no host key from ${host}:${port}: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
    // A late reset must not crash the process after we have stopped listening.
    ssh.connection?.on('error', () => {});
    ssh.dispose();
  }
  if (!captured) throw new KeyscanError(`no host key from ${host}:${port}`);
  return { type: keyTypeOf(captured), fingerprint: sha256Fingerprint(captured) };
}
