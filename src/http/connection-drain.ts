// Graceful shutdown of the HTTP server's connections, beyond what Node and Fastify do.
import type { Server, ServerResponse } from 'node:http';

export interface ConnectionDrain {
  /** From now on every connection closes once it has answered what it was asked. */
  begin(): void;
  /** Requests open since begin() without a complete answer: once the server has closed, cut off. */
  unanswered(): number;
}

/**
 * What Node and Fastify leave undone when the server closes. Node drops the keep-alive
 * connections that are idle at that moment, but one busy with a request stays open once it has
 * answered, idle, and the shutdown waits for it until Apollo's drain cuts every connection
 * 10 s later: so while draining, connections are closed as soon as they go idle. A request
 * arriving meanwhile (its headers were still on the way) is answered 503 by Fastify
 * (return503OnClosing), which keeps headers already set: Retry-After tells the sender when to
 * come back, as the webhooks' own 503s do.
 */
export function drainConnections(server: Server): ConnectionDrain {
  // Responses open when draining began or since; kept once draining, so that whatever is
  // unfinished after the server has closed is known to have been cut off (the server can
  // report itself closed before the sockets it destroyed have emitted 'close').
  const open = new Set<ServerResponse>();
  let draining = false;
  // After 'finish' Node has released the socket; a pipelined request already received keeps
  // its connection busy, so only connections with nothing left to do are closed.
  const closeIdle = () => setImmediate(() => server.closeIdleConnections());
  // Ahead of Fastify's own listener, so the headers are set before Fastify answers.
  server.prependListener('request', (_request, response: ServerResponse) => {
    open.add(response);
    response.once('close', () => {
      if (!draining) open.delete(response);
    });
    if (draining) {
      response.setHeader('retry-after', '5');
      response.once('finish', closeIdle);
    }
  });
  return {
    begin: () => {
      draining = true;
      for (const response of open) response.once('finish', closeIdle);
    },
    unanswered: () => [...open].filter((response) => !response.writableFinished).length,
  };
}
