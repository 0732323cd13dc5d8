// An Apollo plugin telling how each GraphQL operation over HTTP went, for the metrics: its type
// (query, mutation, subscription, or unknown when it never parsed) and whether it answered
// errors, with its duration. Nothing of the operation's text or variables is passed on.
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLContext } from './context.js';

export type OperationObserver = (type: string, outcome: 'success' | 'error', seconds: number) => void;

export const operationMetrics = (observe: OperationObserver): ApolloServerPlugin<GraphQLContext> => ({
  requestDidStart: async () => {
    const started = process.hrtime.bigint();
    return {
      willSendResponse: async ({ operation, response }) => {
        const body = response.body;
        const errors = body.kind === 'single' ? (body.singleResult.errors?.length ?? 0) > 0 : false;
        observe(operation?.operation ?? 'unknown', errors ? 'error' : 'success', Number(process.hrtime.bigint() - started) / 1e9);
      },
    };
  },
});
