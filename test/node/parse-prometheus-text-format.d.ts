/** parse-prometheus-text-format ships no types: the one function the tests call (test/node/prometheus-text.ts). */
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
