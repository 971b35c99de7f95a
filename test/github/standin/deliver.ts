// Sends one signed webhook (built from @octokit/webhooks-examples, see
// ../payloads.ts) to a running app, for demos against serve.ts:
//
//   npx tsx test/github/standin/deliver.ts --env /tmp/fk-standin/standin.env --url http://127.0.0.1:3000/api/github/webhooks \
//     pull_request --head SHA --head-ref BRANCH [--fork]
//   ... push --before SHA --after SHA
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pullRequestPayload, pushPayload } from '../payloads.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    env: { type: 'string', default: '/tmp/fk-standin/standin.env' },
    url: { type: 'string', default: 'http://127.0.0.1:3000/api/github/webhooks' },
    head: { type: 'string' },
    'head-ref': { type: 'string' },
    base: { type: 'string' },
    before: { type: 'string' },
    after: { type: 'string' },
    fork: { type: 'boolean', default: false },
  },
});
const env = Object.fromEntries(
  readFileSync(values.env!, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
) as Record<string, string>;
const event = positionals[0];
let payload: unknown;
if (event === 'pull_request') {
  payload = pullRequestPayload({ action: 'opened', headSha: values.head!, headRef: values['head-ref']!, baseSha: values.base ?? env.STANDIN_BASE!, fork: values.fork });
} else if (event === 'push') {
  payload = pushPayload({ before: values.before!, after: values.after! });
} else {
  throw new Error('event must be pull_request or push');
}
const body = JSON.stringify(payload);
const res = await fetch(values.url!, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': randomUUID(),
    'x-hub-signature-256': 'sha256=' + createHmac('sha256', env.WEBHOOK_SECRET!).update(body).digest('hex'),
  },
  body,
});
console.log(`${event}: HTTP ${res.status}`);
