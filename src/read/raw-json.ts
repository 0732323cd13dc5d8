// The `data` of a response as JSON text from Postgres, carried through Apollo to the HTTP body
// without being parsed and serialised again in JavaScript.
import type { FormattedExecutionResult } from 'graphql';

export class RawJsonData {
  constructor(readonly text: string) {}

  /** For whoever serialises it without stringifyResult (logs, in-process callers): the same value. */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/**
 * Apollo's stringifyResult: its own (JSON.stringify and a newline), except that data held as
 * text is written as it is. The keys keep Apollo's order: errors, data, extensions.
 */
export function stringifyResult(result: FormattedExecutionResult): string {
  const data: unknown = result.data;
  if (!(data instanceof RawJsonData)) return `${JSON.stringify(result)}\n`;
  const parts: string[] = [];
  if (result.errors !== undefined) parts.push(`"errors":${JSON.stringify(result.errors)}`);
  parts.push(`"data":${data.text}`);
  if (result.extensions !== undefined) parts.push(`"extensions":${JSON.stringify(result.extensions)}`);
  return `{${parts.join(',')}}\n`;
}
