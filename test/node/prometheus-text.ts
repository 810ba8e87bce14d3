/**
 * Checks Prometheus text exposition (format 0.0.4) two ways, so a test fails
 * on malformed output: parse-prometheus-text-format (a parser from npm) reads
 * it into families, and every line is checked against the format's grammar —
 * `# HELP` / `# TYPE` before a family's samples, metric and label names,
 * quoted and escaped label values, a float value — which that lenient parser
 * does not all enforce (an unterminated quote, for one). Node only.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface PrometheusFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABELS = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}(?:,[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE})*)?\\}`;
const VALUE = '(?:[-+]?(?:\\d+\\.?\\d*(?:[eE][-+]?\\d+)?|\\.\\d+(?:[eE][-+]?\\d+)?)|[-+]?Inf|NaN)';
const SAMPLE = new RegExp(`^(${NAME})(${LABELS})? ${VALUE}(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP (${NAME}) (?:[^\\\\\\n]|\\\\[\\\\n])*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/** Every problem with the text's lines (empty when it follows the format). */
export function exposition(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('\n')) problems.push('the text does not end with a newline');
  const typed = new Map<string, string>();
  const lines = text.split('\n').slice(0, -1);
  for (const [i, line] of lines.entries()) {
    const at = `line ${i + 1}: ${line.slice(0, 120)}`;
    if (line.startsWith('# HELP ')) {
      if (!HELP.test(line)) problems.push(`bad HELP, ${at}`);
      continue;
    }
    const type = TYPE.exec(line);
    if (line.startsWith('# TYPE ')) {
      if (!type) problems.push(`bad TYPE, ${at}`);
      else if (typed.has(type[1]!)) problems.push(`a second TYPE for ${type[1]}, ${at}`);
      else typed.set(type[1]!, type[2]!);
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) {
      problems.push(`not a sample, ${at}`);
      continue;
    }
    const name = sample[1]!;
    const family = typed.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const familyType = typed.get(family);
    if (!familyType) problems.push(`a sample before its TYPE, ${at}`);
    else if (family !== name && familyType !== 'histogram' && familyType !== 'summary') problems.push(`a _bucket/_sum/_count of a ${familyType}, ${at}`);
  }
  return problems;
}

export function parseExposition(text: string): PrometheusFamily[] {
  return parsePrometheusTextFormat(text) as PrometheusFamily[];
}
