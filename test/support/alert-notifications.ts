/**
 * One alert notification as the delivery pipeline hands it to a target, firing
 * and resolved: the shared sample of the target builders' tests
 * (test/shared/alert-targets.test.ts) and the receivers' stand-ins
 * (test/node/alert-receivers.test.ts).
 */
import type { AlertNotification } from '../../shared/alerts/targets/notification.ts';

export const FIRING: AlertNotification = {
  tenantId: 'acme',
  ruleId: 'r_01',
  ruleName: 'High error rate',
  severity: 'critical',
  status: 'firing',
  group: { service: 'api' },
  labels: { team: 'payments' },
  value: 153,
  threshold: 100,
  message: '153 errors in 5m on api',
  startsAt: '2026-11-26T06:00:00Z',
  explorerUrl: 'https://neurallog.example/explore?q=level%3Aerror&service=api',
  dedupKey: 'r_01:service=api:3',
};

export const RESOLVED: AlertNotification = { ...FIRING, status: 'resolved', value: 4, endsAt: '2026-11-26T06:20:00Z' };
