/**
 * The histogram above the results: counts per bucket (GET /v1/logs/histogram),
 * stacked by level, drawn with uPlot. Drag across it to zoom into that range;
 * click a bar to zoom into its bucket — both are new history entries, so the
 * browser's back button zooms out again.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { histogram, histogramError, LEVELS } from './data.ts';
import { setAbsoluteRange } from './search-state.ts';

/** Bottom to top: the quiet levels first, so errors sit on top where the eye lands. */
const STACK = [...LEVELS].reverse();

/** An axis tick in UTC, 24-hour: the time of day, or the date for day-sized buckets. */
function axisTime(seconds: number, interval: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return interval >= 86_400 ? iso.slice(5, 10) : iso.slice(11, 16);
}

function color(level: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(`--level-${level}`).trim() || '#888';
}

export function HistogramChart() {
  const host = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<string | null>(null);
  const data = histogram.value;
  const error = histogramError.value;

  useEffect(() => {
    const element = host.current;
    if (!element || !data || data.buckets.length === 0) return;
    const xs = data.buckets.map((b) => Date.parse(b.start) / 1000);
    // Cumulative sums bottom-up; drawn largest first so each level shows as its own band.
    const cumulative: number[][] = [];
    let running = data.buckets.map(() => 0);
    for (const level of STACK) {
      running = running.map((sum, i) => sum + (data.buckets[i]!.levels[level] ?? 0));
      cumulative.push(running);
    }
    const drawOrder = [...STACK].reverse();
    const series: uPlot.Series[] = [
      {},
      ...drawOrder.map((level) => ({
        label: level,
        fill: color(level),
        stroke: color(level),
        width: 0,
        paths: uPlot.paths.bars!({ size: [0.9, 64], align: 1 }),
        points: { show: false },
      })),
    ];
    const plotData: uPlot.AlignedData = [xs, ...drawOrder.map((level) => cumulative[STACK.indexOf(level)]!)];
    const plot = new uPlot(
      {
        width: element.clientWidth || 600,
        height: 120,
        legend: { show: false },
        // UTC, as the results and the API's times are.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true, range: (_u, min, max) => [min, max + data.intervalSeconds] } },
        axes: [
          { stroke: 'currentColor', grid: { show: false }, values: (_u, splits) => splits.map((s) => axisTime(s, data.intervalSeconds)) },
          { stroke: 'currentColor', size: 40, grid: { stroke: 'rgba(128,128,128,0.2)' } },
        ],
        cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
        series,
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 3) return;
              const from = u.posToVal(u.select.left, 'x') * 1000;
              const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              if (to > from) setAbsoluteRange(from, to);
            },
          ],
          setCursor: [
            (u) => {
              const idx = u.cursor.idx;
              const bucket = idx === null || idx === undefined ? undefined : data.buckets[idx];
              if (!bucket) return setHover(null);
              const parts = STACK.filter((l) => (bucket.levels[l] ?? 0) > 0)
                .reverse()
                .map((l) => `${l} ${bucket.levels[l]}`);
              setHover(`${bucket.start.replace('T', ' ').slice(0, 19)} — ${bucket.total}${parts.length ? ` (${parts.join(', ')})` : ''}`);
            },
          ],
        },
      },
      plotData,
      element,
    );
    const zoomToBucket = () => {
      const idx = plot.cursor.idx;
      if (plot.select.width > 0 || idx === null || idx === undefined) return;
      const start = xs[idx]! * 1000;
      setAbsoluteRange(start, start + data.intervalSeconds * 1000);
    };
    plot.over.addEventListener('click', zoomToBucket);
    const resize = new ResizeObserver(() => plot.setSize({ width: element.clientWidth, height: 120 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data]);

  if (error) {
    return (
      <div class="histogram message" role="alert">
        The chart could not be drawn: {error.explanation}
      </div>
    );
  }
  return (
    <section class="histogram" aria-label={`Records over time: ${data?.total ?? 0} in the range, per ${data?.interval ?? '…'}`}>
      <div class="histogram-head">
        <span data-testid="histogram-total">{data ? `${data.total.toLocaleString('en')} records` : '…'}</span>
        <span class="muted">{hover ?? (data ? `per ${data.interval} · drag to zoom` : '')}</span>
      </div>
      <div ref={host} class="histogram-plot" data-testid="histogram" />
    </section>
  );
}
