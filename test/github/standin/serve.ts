// Runs the GitHub stand-in on its own, for demos and manual runs of the app:
//
//   npx tsx test/github/standin/serve.ts [--fleet DIR] [--port N] [--dir OUT]
//
// It creates a git repo with DIR (default test/fixtures/github/fleet) committed
// on master, a throwaway app key, and prints the environment for
// `probot run ./dist/github/app.js`. Webhooks: test/github/standin/deliver.ts.
// State (check runs, PRs, problems): GET http://HOST/_standin/state.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readTree } from '../harness.js';
import { GitRepo } from './git-repo.js';
import { GitHubStandin } from './server.js';

const { values } = parseArgs({
  options: {
    fleet: { type: 'string', default: new URL('../../fixtures/github/fleet/', import.meta.url).pathname },
    port: { type: 'string', default: '0' },
    dir: { type: 'string', default: '/tmp/fk-standin' },
  },
});
const out = resolve(values.dir!);
mkdirSync(out, { recursive: true });
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const keyPath = join(out, 'app-key.pem');
writeFileSync(keyPath, privateKey, { mode: 0o600 });
const git = new GitRepo(join(out, 'repo'));
const base = git.tryRevParse('refs/heads/master') ?? git.commit('master', readTree(values.fleet!), 'fleet');
const standin = new GitHubStandin({ appId: 1234, appPublicKey: publicKey, owner: 'Codertocat', repo: 'Hello-World', defaultBranch: 'master', installationId: 1, git });
await standin.start(Number(values.port));
const secret = randomBytes(16).toString('hex');
const env = {
  APP_ID: '1234',
  PRIVATE_KEY_PATH: keyPath,
  WEBHOOK_SECRET: secret,
  GHE_HOST: standin.host,
  GHE_PROTOCOL: 'http',
  STANDIN_REPO: git.dir,
  STANDIN_BASE: base,
};
writeFileSync(join(out, 'standin.env'), Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
console.log(`GitHub stand-in on ${standin.url} (OpenAPI from @octokit/openapi ${standin.openapiVersion})`);
console.log(`repo Codertocat/Hello-World in ${git.dir}, master at ${base}`);
console.log(`environment for the app written to ${join(out, 'standin.env')}`);
const stop = async () => {
  if (standin.problems.length) console.error(`problems:\n- ${standin.problems.join('\n- ')}`);
  await standin.stop();
  process.exit(standin.problems.length ? 1 : 0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
