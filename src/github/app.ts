// Entry point for `probot run ./dist/github/app.js`: the fleetkeeper app with
// its real parts, configured from the environment.
//
//   APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET  Probot's own
//   GHE_HOST, GHE_PROTOCOL                 another GitHub API host (e.g. the test stand-in)
//   FLEETKEEPER_FLEET_DIR                  fleet directory in the repo (default "." = repo root)
//   FLEETKEEPER_STATE_DIR                  where applied commits, bad tags, journals and pending
//                                          bakes live (bakes resume from it after a restart)
//                                          (default $XDG_STATE_HOME/fleetkeeper or ~/.local/state/fleetkeeper)
//   FLEETKEEPER_SSH_KEY_FILE               SSH private key file (or FLEETKEEPER_SSH_KEY with the key;
//   FLEETKEEPER_SSH_KEY_PASSPHRASE         and its passphrase, if any)
//   SLACK_WEBHOOK_URL                      optional: ring completed / failed / rolled back
//   FLEETKEEPER_APP_SLUG                   optional: the app's slug (else asked from GET /app)
//   FLEETKEEPER_PROGRESS_SECONDS           minimum seconds between check-run progress updates (default 3)
//
// Secrets (key, passphrase, webhook URL) are registered with the redactor and
// never written to a log, check run or pull request.
import type { ApplicationFunctionOptions, Probot } from 'probot';
import { diffFleets, loadFleet, setCustomerTag } from '../fleet/index.js';
import { createOfflineDriver, createSshDriver } from '../host/driver-ssh.js';
import { FileStateStore, stateDirFromEnv } from '../rollout/state.js';
import { loadSshCredentials, type SshCredentials } from '../ssh/credentials.js';
import { redact, registerSecret } from '../util/redact.js';
import { createApp } from './create-app.js';
import { slackNotifier } from './notify.js';

export default function fleetkeeper(app: Probot, options?: ApplicationFunctionOptions): void {
  const env = process.env;
  registerSecret(env.WEBHOOK_SECRET);
  registerSecret(env.SLACK_WEBHOOK_URL);
  let credentials: SshCredentials | undefined;
  let credentialsError: Error | undefined;
  try {
    credentials = loadSshCredentials(env);
  } catch (e) {
    // Plans of fork PRs still work without a key; anything that needs SSH says why it cannot.
    credentialsError = e as Error;
    app.log.warn(redact(credentialsError.message));
  }
  const progress = Number(env.FLEETKEEPER_PROGRESS_SECONDS ?? 3);
  createApp({
    fleetDir: env.FLEETKEEPER_FLEET_DIR ?? '.',
    loadFleet: (source) => loadFleet(source),
    diffFleets,
    setTag: setCustomerTag,
    state: () => FileStateStore.open(stateDirFromEnv(env.FLEETKEEPER_STATE_DIR)),
    createDriver: () => {
      if (!credentials) throw credentialsError ?? new Error('no SSH credentials');
      return createSshDriver({ credentials });
    },
    createOfflineDriver,
    notifier: slackNotifier(env.SLACK_WEBHOOK_URL, app.log),
    appSlug: env.FLEETKEEPER_APP_SLUG || undefined,
    progressIntervalMs: Number.isFinite(progress) && progress >= 0 ? progress * 1000 : 3000,
  })(app, options);
}
