/**
 * Plain-data types of the autoscaling/v2 HorizontalPodAutoscaler emulation. Numbers only in the hot
 * path: times are epoch milliseconds, CPU is in millicores, metric values are in the metric's base unit
 * (converted to milli-units inside, as the controller does with Quantity.MilliValue()).
 */

/** A Kubernetes quantity as it appears in a spec: a number in base units or a string such as "500m". */
export type Quantity = number | string;

export interface MetricTarget {
  type: 'Utilization' | 'Value' | 'AverageValue';
  averageUtilization?: number;
  averageValue?: Quantity;
  value?: Quantity;
}

export interface MetricIdentifier {
  name: string;
  selector?: { matchLabels?: Record<string, string> };
}

export interface ResourceMetricSpec {
  type: 'Resource';
  resource: { name: string; target: MetricTarget };
}
export interface PodsMetricSpec {
  type: 'Pods';
  pods: { metric: MetricIdentifier; target: MetricTarget };
}
export interface ObjectMetricSpec {
  type: 'Object';
  object: { describedObject: { kind: string; name: string; apiVersion?: string }; metric: MetricIdentifier; target: MetricTarget };
}
export interface ExternalMetricSpec {
  type: 'External';
  external: { metric: MetricIdentifier; target: MetricTarget };
}
export type MetricSpec = ResourceMetricSpec | PodsMetricSpec | ObjectMetricSpec | ExternalMetricSpec;

export interface HpaScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface HpaScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: 'Max' | 'Min' | 'Disabled';
  policies?: HpaScalingPolicy[];
}

export interface HpaBehavior {
  scaleUp?: HpaScalingRules;
  scaleDown?: HpaScalingRules;
}

/** The autoscaling/v2 spec fields the controller reads (scaleTargetRef is the caller's business). */
export interface HpaSpec {
  minReplicas?: number;
  maxReplicas: number;
  /** Empty or absent defaults to CPU utilization 80 %, as the API server defaults it. */
  metrics?: MetricSpec[];
  /** Absent (or null): the legacy path — 2×/4 scale-up cap and the controller-wide downscale window. */
  behavior?: HpaBehavior | null;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodSample {
  name: string;
  phase: PodPhase;
  /** Status of the pod's Ready condition. */
  ready: boolean;
  /** status.startTime; null when the kubelet has not started the pod yet. */
  startTimeMs: number | null;
  /** lastTransitionTime of the Ready condition; null when the pod has no Ready condition. */
  readyTransitionTimeMs: number | null;
  /** deletionTimestamp is set. */
  deleted: boolean;
  /** CPU request summed over the pod's containers; null when some container has no CPU request. */
  cpuRequestMilli: number | null;
  /** CPU usage from the resource metrics API; null when the API has no sample for the pod. */
  cpuUsageMilli: number | null;
  /** Timestamp of the usage sample (defaults to now). */
  metricTimestampMs?: number;
  /** Other resources (e.g. memory), in milli-units, for Resource metrics other than cpu. */
  resources?: Record<string, { requestMilli: number | null; usageMilli: number | null }>;
}

export interface TimestampedRecommendation {
  timestampMs: number;
  replicas: number;
}

/** Positive replicaChange: a scale-up event; negative: a scale-down event (kept apart as upstream does). */
export interface TimestampedScaleEvent {
  timestampMs: number;
  replicaChange: number;
}

export interface HpaControllerConfig {
  /** --horizontal-pod-autoscaler-tolerance */
  tolerance: number;
  /** --horizontal-pod-autoscaler-cpu-initialization-period */
  cpuInitializationPeriodSeconds: number;
  /** --horizontal-pod-autoscaler-initial-readiness-delay */
  initialReadinessDelaySeconds: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization */
  downscaleStabilizationSeconds: number;
  /** Window of a resource-metrics sample (metrics-server resolution). */
  metricWindowSeconds: number;
}

export interface HpaReconcileInput {
  nowMs: number;
  spec: HpaSpec;
  /** scale.spec.replicas of the target. */
  currentReplicas: number;
  /** scale.status.replicas; defaults to the pods that are neither terminated nor being deleted. */
  statusReplicas?: number;
  pods: PodSample[];
  /**
   * Pods/Object/External metric values by metric name, in base units. A Pods metric may give one value
   * per pod ({ podName: value }) or one number for every pod; an External metric may give several series
   * ({ series: value }), which are summed as upstream does.
   */
  metrics: Record<string, number | Record<string, number>>;
  recommendations: TimestampedRecommendation[];
  scaleEvents: TimestampedScaleEvent[];
  config?: Partial<HpaControllerConfig>;
}

export type HpaConditionType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';

export interface HpaCondition {
  type: HpaConditionType;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface HpaReconcileResult {
  desiredReplicas: number;
  /** Current CPU (or first resource) utilization, integer percent of request, when a Utilization metric was computed. */
  utilization?: number;
  /** Current value of the metric that set the proposal, in milli-units (millicores for CPU). */
  rawValue?: number;
  /** On a rescale the controller's event reason; otherwise the reason of the condition that explains the hold. */
  reason: string;
  /** Conditions set by this sync, in the order AbleToScale, ScalingActive, ScalingLimited. */
  conditions: HpaCondition[];
  recommendations: TimestampedRecommendation[];
  scaleEvents: TimestampedScaleEvent[];
}
