/** Usage and limits: records and bytes per hour (GET /v1/usage), quota used and rate headroom (GET /v1/limits). */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { type ApiFailure, json } from '../api.ts';
import type { Page } from './page.ts';

interface Period {
  start: string;
  recordsAccepted: number;
  bytesAccepted: number;
  recordsRejected: Record<string, number>;
  queries: number;
}
interface Usage {
  hours: Period[];
  total: Omit<Period, 'start'>;
  currentMonth: { estimate?: { totalCents: number } } & Record<string, unknown>;
}
interface Quota {
  window: string;
  limitBytes: number;
  usedBytes: number;
  usedRecords: number;
  resetsAt: string;
  /** When it runs out at today's rate (null: not before it resets). */
  forecast: { bytesPerSecond: number; reachesLimitAt: string | null };
}
interface Limits {
  plan: { id: string; name: string };
  rate: Record<'records' | 'bytes', { perSecond: number; burst: number; remaining: number; fullInSeconds: number }>;
  quota: { daily: Quota; monthly: Quota };
  retentionDays: number;
}

function HourlyChart({ hours }: { hours: Period[] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (!element || hours.length === 0) return;
    const plot = new uPlot(
      {
        width: element.clientWidth || 600,
        height: 160,
        scales: { x: { time: true } },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor', size: 60 }],
        series: [
          {},
          { label: 'records accepted', stroke: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2f5bea', width: 2 },
        ],
      },
      [hours.map((h) => Date.parse(h.start) / 1000), hours.map((h) => h.recordsAccepted)],
      element,
    );
    return () => plot.destroy();
  }, [hours]);
  return <div ref={host} class="usage-chart" role="img" aria-label="Records accepted per hour" />;
}

function Meter({ label, quota }: { label: string; quota: Quota }) {
  const id = `meter-${label.replace(/\W+/g, '-').toLowerCase()}`;
  const { reachesLimitAt } = quota.forecast;
  return (
    <div class="meter">
      <label for={id}>{label}</label>
      <meter id={id} min={0} max={quota.limitBytes} value={quota.usedBytes} />
      <span class="muted">
        {quota.usedBytes.toLocaleString('en')} of {quota.limitBytes.toLocaleString('en')} bytes
      </span>
      <span class="forecast" data-testid="quota-forecast">
        {reachesLimitAt === null
          ? " · at today's rate, not used up before it resets"
          : ` · at today's rate, used up at ${reachesLimitAt.replace('T', ' ').slice(0, 16)} UTC`}
      </span>
    </div>
  );
}

function UsagePage() {
  const [usage, setUsage] = useState<Usage | null>(null);
  const [limits, setLimits] = useState<Limits | null>(null);
  const [error, setError] = useState<ApiFailure | null>(null);
  useEffect(() => {
    json<Limits>('/v1/limits').then(setLimits, setError);
    json<Usage>('/v1/usage').then(setUsage, setError);
  }, []);
  return (
    <div class="page">
      <h1>Usage and limits</h1>
      {error && (
        <p class="message error" role="alert">
          {error.explanation}
        </p>
      )}
      {!error && !limits && !usage && <p class="muted">Loading…</p>}
      {limits && (
        <section class="card" data-testid="limits">
          <h2>Plan {limits.plan.name}</h2>
          <Meter label="Today" quota={limits.quota.daily} />
          <Meter label="This month" quota={limits.quota.monthly} />
          <p>
            Rate headroom now: {limits.rate.records.remaining.toLocaleString('en')} records, {limits.rate.bytes.remaining.toLocaleString('en')} bytes (plan:{' '}
            {limits.rate.records.perSecond.toLocaleString('en')} records/s). Logs are kept {limits.retentionDays} days.
          </p>
        </section>
      )}
      {usage && (
        <section class="card">
          <h2>This month</h2>
          <p>
            {usage.total.recordsAccepted.toLocaleString('en')} records, {usage.total.bytesAccepted.toLocaleString('en')} bytes accepted;{' '}
            {Object.values(usage.total.recordsRejected)
              .reduce((a, b) => a + b, 0)
              .toLocaleString('en')}{' '}
            refused; {usage.total.queries.toLocaleString('en')} searches.
          </p>
          <HourlyChart hours={usage.hours} />
        </section>
      )}
    </div>
  );
}

export const usagePage: Page = { path: '/usage', title: 'Usage', allowed: (scopes) => scopes.has('billing:read') || scopes.has('admin'), component: UsagePage };
