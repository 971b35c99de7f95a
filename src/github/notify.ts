// Optional Slack notifications (incoming webhook) when a ring completes,
// fails or is rolled back. The URL comes from SLACK_WEBHOOK_URL and is a
// secret: it is registered with the redactor and never printed.
import { IncomingWebhook } from '@slack/webhook';
import { redact, registerSecret } from '../util/redact.js';

export interface Notifier {
  send(text: string): Promise<void>;
}

export const silentNotifier: Notifier = { send: async () => {} };

export function slackNotifier(url: string | undefined, log?: { warn(obj: unknown, msg?: string): void }): Notifier {
  if (!url) return silentNotifier;
  registerSecret(url);
  const hook = new IncomingWebhook(url);
  return {
    async send(text: string) {
      try {
        await hook.send({ text: redact(text) });
      } catch (e) {
        // A notification failure never fails a rollout; the message must not echo the URL.
        log?.warn({ err: redact(String((e as Error).message ?? e)) }, 'slack notification failed');
      }
    },
  };
}
