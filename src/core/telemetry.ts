/**
 * How background work reports on itself to whatever watches the registry (the Prometheus metrics
 * in ../metrics, when enabled). The features call it; the composition root decides what listens.
 * Every method is cheap and never throws; labels must come from a small, bounded set (a kind, a
 * configured target or destination), never from client input such as a repository name.
 */
export interface Telemetry {
  /** A garbage-collection pass finished: its duration and the bytes and blobs it removed from the blob store. */
  gcPass(seconds: number, reclaimed: { bytes: number; blobs: number }): void;
  /** A lifecycle pass over every repository with a policy finished, expiring `expiredImages`. */
  lifecyclePass(seconds: number, expiredImages: number): void;
  /** An image scan finished (or failed, to be retried). */
  scanDone(seconds: number, outcome: 'complete' | 'failed'): void;
  /** An event could not be delivered to `target` (a rule's target id); it will be retried. */
  eventDeliveryFailed(target: string): void;
}

/** The telemetry of a registry nobody watches. */
export const noTelemetry: Telemetry = {
  gcPass: () => undefined,
  lifecyclePass: () => undefined,
  scanDone: () => undefined,
  eventDeliveryFailed: () => undefined,
};
