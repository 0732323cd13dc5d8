// One serialisation of a pushed payload for every subscriber that shares it. Subscribers of
// the same operation, variables and scope share one execution per change (graphql/live/
// execute.ts), so they get the same `data` object; graphql-ws would still turn it into JSON
// once per socket, which at a thousand subscribers is most of the cost of a push. Here
// graphql-ws's message replacer swaps the payload for a marker and notes its JSON (made once
// per `data` object, then remembered while the object lives), and the socket's send puts it
// back. graphql-ws builds each message and hands it to the socket in one synchronous step, so
// the JSON noted is always that of the message being sent.
const MARKER = '\u0000payload';
const MARKER_JSON = JSON.stringify(MARKER);

const json = new WeakMap<object, string>();
let pending: string | undefined;

/** Only a plain `{ data }` payload is shared; anything with errors or extensions goes as it is. */
function sharedPayload(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'data') return undefined;
  const data = (value as { data: unknown }).data;
  if (typeof data !== 'object' || data === null) return undefined;
  let text = json.get(data);
  if (text === undefined) json.set(data, (text = JSON.stringify(data)));
  return `{"data":${text}}`;
}

/** graphql-ws's `jsonMessageReplacer`. */
export function frameReplacer(this: unknown, key: string, value: unknown): unknown {
  if (key !== 'payload' || (this as { type?: unknown } | null)?.type !== 'next') return value;
  const shared = sharedPayload(value);
  if (shared === undefined) return value;
  pending = shared;
  return MARKER;
}

/** What the socket sends for `data`: the noted payload put back in place of its marker. */
export function withSharedPayload(data: unknown): unknown {
  if (pending === undefined || typeof data !== 'string') return data;
  const payload = pending;
  pending = undefined;
  const at = data.indexOf(MARKER_JSON);
  return at < 0 ? data : data.slice(0, at) + payload + data.slice(at + MARKER_JSON.length);
}
