/**
 * What an autoscaler can see of the cluster at one instant: the same shape whether it comes from the
 * twin (simulated metrics pipeline) or from a live cluster (Prometheus / metrics API) in the sidecar.
 * Observations for agents are built from snapshots only, so trained and deployed agents see alike.
 */
export interface ServiceSnapshot {
  /** Pods that exist (any phase except deleted). */
  replicas: number;
  /** Pods that are Running and Ready. */
  readyReplicas: number;
  /** The HPA's current desired replica count. */
  desiredReplicas: number;
  /** Mean CPU usage of ready pods as a fraction of their CPU request (1 = 100 %), as metrics report it. */
  cpuUtilization: number;
  /** Requests per second arriving at the service (offered, including those that will be dropped). */
  requestRate: number;
  /** requestRate divided by its value one observation period earlier (1 = unchanged). */
  requestRateChange: number;
  /** 95th-percentile latency of requests completed in the last period, milliseconds. */
  p95LatencyMs: number;
  /** Requests waiting in the service's queue. */
  pendingRequests: number;
  /** Share of requests in the last period that failed (dropped, timed out, or errored), 0..1. */
  errorRate: number;
  /** Pods in phase Failed or not ready after having been ready (crashed). */
  failedPods: number;
  /** Pods waiting in CrashLoopBackOff. */
  crashLoopPods: number;
  /** The HPA's current bounds. */
  minReplicas: number;
  maxReplicas: number;
}

export interface ClusterSnapshot {
  /** Epoch milliseconds of the observation. */
  timeMs: number;
  /** Seconds since the metrics behind this snapshot were sampled (staleness). */
  metricsAgeSeconds: number;
  services: Record<string, ServiceSnapshot>;
  /** Mean CPU utilisation of the nodes (0..1 of allocatable). */
  nodeCpuUtilization: number;
}
