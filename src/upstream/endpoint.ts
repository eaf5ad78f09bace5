/** One address of an upstream that the pool connects to. */
export interface Endpoint {
  /** The origin connected to, e.g. http://10.0.0.7:9000; its key in the pool cache and in state(). */
  address: string;
  /** The :authority of requests: the host and port the upstream was configured with. */
  authority: string;
  /** TLS server name when the address is not the configured host (discovery dns). */
  serverName?: string;
}
