import { HealthCheckResponse_ServingStatus as Status } from "../../proto/gen/grpc/health/v1/health_pb.js";

/**
 * The serving status behind grpc.health.v1.Health and /readyz: every
 * served service is SERVING, and so is the server as a whole ("") until
 * shutdown begins; from then on everything is NOT_SERVING.
 */
export class HealthStatus {
  #services = new Set<string>();
  #ready = false;
  #draining = false;
  #listeners = new Set<() => void>();

  /** The server answers calls: functions are loaded and it is not draining. */
  get ready(): boolean {
    return this.#ready && !this.#draining;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** The services now served (fully qualified names). */
  setServices(names: Iterable<string>): void {
    this.#services = new Set(names);
    this.#ready = true;
    this.#notify();
  }

  setDraining(): void {
    this.#draining = true;
    this.#notify();
  }

  /** Status of a service ("" for the whole server); undefined if unknown. */
  statusOf(service: string): Status | undefined {
    if (service !== "" && !this.#services.has(service)) return undefined;
    return this.ready ? Status.SERVING : Status.NOT_SERVING;
  }

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }
}
