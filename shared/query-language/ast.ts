/**
 * The query language's syntax tree, as the grammar (grammar.peggy) builds it.
 * Meaning is given to field names later, by the SQL compiler (compile-sql.ts)
 * and the in-memory evaluator (evaluate.ts), which share `resolveField`.
 */
export type Comparison = ':' | '=' | '>' | '>=' | '<' | '<=';

export interface Value {
  value: string;
  /** Quoted: matched as a whole phrase / exact value. */
  phrase: boolean;
  /** Ended in `*`: a prefix. */
  prefix: boolean;
  /** Offset of the value in the query text. */
  start: number;
}

export type QueryNode =
  | { type: 'all' }
  | { type: 'and'; children: QueryNode[] }
  | { type: 'or'; children: QueryNode[] }
  | { type: 'not'; child: QueryNode }
  | ({ type: 'text' } & Value)
  | ({ type: 'field'; field: string; op: Comparison } & Value);
