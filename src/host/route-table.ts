import type { DescMethod } from "@bufbuild/protobuf";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { DeadlinePolicy } from "../protocol/deadline-header.js";

/** One RPC path and what serves it. */
export interface Route {
  /** "/greet.v1.GreetService/Greet" */
  path: string;
  method: DescMethod;
  /** Serves Connect, gRPC and gRPC-Web for this method. */
  handler: UniversalHandler;
  deadline: DeadlinePolicy;
  /** Where the implementation lives: a function file, or "(built-in)". */
  source: string;
}

/**
 * The RPC paths currently served. Fastify freezes its own routes after
 * `ready`, so one catch-all Fastify route dispatches through this table, and
 * hot reload replaces the table as a whole. A call looks its route up once,
 * when it arrives, and keeps that route (and the function version behind it)
 * until it ends.
 */
export class RouteTable {
  #routes: ReadonlyMap<string, Route> = new Map();

  get(path: string): Route | undefined {
    return this.#routes.get(path);
  }

  list(): Route[] {
    return [...this.#routes.values()];
  }

  replace(routes: Iterable<Route>): void {
    const next = new Map<string, Route>();
    for (const r of routes) next.set(r.path, r);
    this.#routes = next;
  }
}
