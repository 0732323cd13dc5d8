// Compiled plans, kept by parsed document (Apollo keeps one parsed document per query text, so
// a document object stands for its text), operation, viewer and variables: the same list asked
// again with the same arguments, by the same kind of viewer, reuses its statement instead of
// compiling it again. Frontends do this all the time (a dashboard's first page, a list fetched
// again after a change); a page of 50 members with their groups compiles in about 100 µs, a
// sizeable part of what answering it costs the service.
//
// The key is exact: a plan depends on variables in ways that are not only values (a page size
// is a literal of the statement, a node id's type picks its table, a cursor's order its
// bounds), so a plan is reused only for the same variables. What the viewer contributes (its
// tenant scope, its kind, its name) is in the key too; nothing else goes into a plan.
import type { DocumentNode } from 'graphql';
import type { Viewer } from '../auth/viewer.js';
import type { ReadPlan } from './compile.js';

/** Plans kept in all: a plan is a statement's text and parameters, a few kilobytes. */
const MAX_PLANS = 500;

export class PlanCache {
  readonly #documentIds = new WeakMap<DocumentNode, number>();
  #nextDocument = 0;
  /** In use order: the least recently used first, so the first to go. */
  readonly #plans = new Map<string, ReadPlan>();

  constructor(private readonly max = MAX_PLANS) {}

  key(document: DocumentNode, operationName: string | null | undefined, viewer: Viewer, variables: Record<string, unknown> | undefined): string {
    let id = this.#documentIds.get(document);
    if (id === undefined) this.#documentIds.set(document, (id = this.#nextDocument++));
    const who = viewer.kind === 'tenant' ? `t:${(viewer.tenantIds ?? [viewer.tenantId]).join(',')}` : 'a';
    return `${id}\u0000${operationName ?? ''}\u0000${who}\u0000${viewer.name}\u0000${variables ? JSON.stringify(variables) : ''}`;
  }

  get(key: string): ReadPlan | undefined {
    const plan = this.#plans.get(key);
    if (plan) {
      this.#plans.delete(key);
      this.#plans.set(key, plan);
    }
    return plan;
  }

  set(key: string, plan: ReadPlan): void {
    this.#plans.set(key, plan);
    if (this.#plans.size > this.max) this.#plans.delete(this.#plans.keys().next().value as string);
  }
}
