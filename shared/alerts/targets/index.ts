/**
 * Notification targets (issue 16): what a tenant configures (`TargetConfig`)
 * and the one entry point the delivery pipeline calls, `buildTargetRequest`,
 * which turns a notification into the HTTP request for that target. Pure:
 * nothing is sent here (see notification.ts for the decisions every target
 * shares, and each target's file for its receiver's format).
 *
 * Target URLs are taken as they are: refusing unsafe ones (SSRF) is done
 * where targets are configured and where requests are sent, not here. The
 * email target has no URL at all — the mail API is the deployment's
 * (`TargetDeployment.mail`).
 */
import { type AlertmanagerTarget, buildAlertmanagerRequest } from './alertmanager.ts';
import { type EmailTarget, type MailApi, buildEmailRequest } from './email.ts';
import type { AlertNotification, OutboundRequest } from './notification.ts';
import { type PagerDutyTarget, buildPagerDutyRequest } from './pagerduty.ts';
import { type SlackTarget, buildSlackRequest } from './slack.ts';
import { type WebhookTarget, buildWebhookRequest } from './webhook.ts';

export type { AlertmanagerTarget, EmailTarget, MailApi, PagerDutyTarget, SlackTarget, WebhookTarget };
export type { AlertNotification, AlertNotificationStatus, AlertSeverity, OutboundRequest } from './notification.ts';
export { verifyWebhookSignature, signWebhookPayload, WEBHOOK_SIGNATURE_HEADER } from './webhook.ts';

export type TargetConfig = WebhookTarget | SlackTarget | PagerDutyTarget | AlertmanagerTarget | EmailTarget;
export type TargetKind = TargetConfig['kind'];
export const TARGET_KINDS: readonly TargetKind[] = ['webhook', 'slack', 'pagerduty', 'alertmanager', 'email'];

/** What the deployment, not the tenant, configures for some targets. */
export interface TargetDeployment {
  /** The HTTP mail API for email targets; without it an email target cannot be delivered. */
  mail?: MailApi;
}

/**
 * The request that delivers `notification` to the target `config`. `now`
 * (milliseconds since the epoch) is the webhook's signature time and an
 * Alertmanager resolve's default `endsAt`; bodies do not otherwise depend on
 * it, so a retry builds the same body.
 */
export async function buildTargetRequest(
  config: TargetConfig,
  notification: AlertNotification,
  now: number = Date.now(),
  deployment: TargetDeployment = {},
): Promise<OutboundRequest> {
  switch (config.kind) {
    case 'webhook':
      return buildWebhookRequest(config, notification, now);
    case 'slack':
      return buildSlackRequest(config, notification, now);
    case 'pagerduty':
      return buildPagerDutyRequest(config, notification, now);
    case 'alertmanager':
      return buildAlertmanagerRequest(config, notification, now);
    case 'email':
      if (deployment.mail === undefined) throw new Error('email targets need a mail API, and this deployment has none configured');
      return buildEmailRequest(config, notification, deployment.mail);
    default: {
      const unknownKind: never = config;
      throw new TypeError(`unknown target kind: ${JSON.stringify((unknownKind as { kind?: unknown }).kind)}`);
    }
  }
}
