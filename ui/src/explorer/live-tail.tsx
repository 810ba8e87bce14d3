/**
 * Live tail: the records matching the query as the tenant's actors accept
 * them (GET /v1/tail, a WebSocket; the session cookie authenticates it).
 * Newest first; scrolling away from the top pauses the list (records keep
 * arriving and are counted) until "Resume"; the server's "N dropped" notices
 * are shown; a lost connection reconnects with backoff.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { typedQuery } from '../encryption/blind-state.ts';
import { BodyText } from '../encryption/body.tsx';
import { levelOf, type LogView } from './data.ts';
import { matcherOf } from './highlight.tsx';
import { search, selectRow } from './search-state.ts';

const MAX_LIVE_ROWS = 2000;

type TailMessage =
  | { type: 'hello' }
  | { type: 'logs'; logs: LogView[] }
  | { type: 'dropped'; count: number }
  | { type: 'pong' }
  | { type: 'error'; message: string };

export function LiveTail() {
  const q = search.value.q;
  const [rows, setRows] = useState<LogView[]>([]);
  const [paused, setPaused] = useState(false);
  const [waiting, setWaiting] = useState(0);
  const [dropped, setDropped] = useState(0);
  const [status, setStatus] = useState<'connecting' | 'live' | 'reconnecting' | 'failed'>('connecting');
  const [error, setError] = useState<string | null>(null);
  const pausedRef = useRef(false);
  const pending = useRef<LogView[]>([]);
  const matcher = matcherOf(typedQuery(q));

  useEffect(() => {
    let socket: WebSocket | null = null;
    let closed = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setRows([]);
    setDropped(0);
    setError(null);
    const connect = () => {
      setStatus(attempt === 0 ? 'connecting' : 'reconnecting');
      const url = new URL(`/v1/tail?q=${encodeURIComponent(q)}`, window.location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      socket = new WebSocket(url);
      socket.onopen = () => {
        attempt = 0;
      };
      socket.onmessage = (event) => {
        let message: TailMessage;
        try {
          message = JSON.parse(String(event.data)) as TailMessage;
        } catch {
          return;
        }
        if (message.type === 'hello') setStatus('live');
        else if (message.type === 'dropped') setDropped((d) => d + message.count);
        else if (message.type === 'error') setError(message.message);
        else if (message.type === 'logs') {
          const fresh = [...message.logs].reverse();
          if (pausedRef.current) {
            pending.current = [...fresh, ...pending.current].slice(0, MAX_LIVE_ROWS);
            setWaiting(pending.current.length);
          } else {
            setRows((r) => [...fresh, ...r].slice(0, MAX_LIVE_ROWS));
          }
        }
      };
      socket.onclose = (event) => {
        if (closed) return;
        if (event.code === 1008 || event.code === 4401) {
          setStatus('failed');
          setError('The live tail was refused: sign in again.');
          return;
        }
        attempt++;
        setStatus('reconnecting');
        timer = setTimeout(connect, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)) * (0.8 + Math.random() * 0.4));
      };
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(timer);
      socket?.close(1000, 'tail off');
    };
  }, [q]);

  const resume = () => {
    pausedRef.current = false;
    setPaused(false);
    setRows((r) => [...pending.current, ...r].slice(0, MAX_LIVE_ROWS));
    pending.current = [];
    setWaiting(0);
  };

  return (
    <section class="live" aria-label="Live tail" data-testid="live-tail">
      <p class="live-status" aria-live="polite" data-testid="tail-status" data-state={status}>
        <span class={`dot dot-${status}`} />{' '}
        {status === 'live' ? 'Live' : status === 'failed' ? 'Stopped' : status === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'}
        {dropped > 0 && <span data-testid="tail-dropped"> · {dropped.toLocaleString('en')} dropped (more than the tail can show)</span>}
        {paused && (
          <button type="button" onClick={resume}>
            Resume ({waiting} new)
          </button>
        )}
      </p>
      {error && (
        <p class="message error" role="alert">
          {error}
        </p>
      )}
      <ol
        class="live-rows"
        onScroll={(e) => {
          const away = (e.currentTarget as HTMLElement).scrollTop > 40;
          if (away !== pausedRef.current) {
            pausedRef.current = away;
            setPaused(away);
            if (!away) resume();
          }
        }}
      >
        {rows.map((log) => (
          <li key={log.id} data-testid="live-row">
            <button type="button" class="row" onClick={() => selectRow(log.id)}>
              <span class="col-time">{log.timestamp.slice(11, 23)}</span>
              <span class="col-level">
                <span class={`badge level-${levelOf(log.severityNumber)}`}>{log.severityText || levelOf(log.severityNumber)}</span>
              </span>
              <span class="col-service">{log.service}</span>
              <span class="col-body">
                <BodyText record={log} matcher={matcher} />
              </span>
            </button>
          </li>
        ))}
        {rows.length === 0 && status === 'live' && <li class="muted">Waiting for records that match…</li>}
      </ol>
    </section>
  );
}
