/**
 * Emulation of the Kubernetes autoscaling/v2 HorizontalPodAutoscaler controller (v1.28+ behaviour),
 * as pure functions. The twin calls reconcileHpa every HPA_SYNC_PERIOD_SECONDS of simulated time per
 * HPA, feeding back the returned recommendation and scale-event histories.
 */
export { reconcileHpa, HPA_SYNC_PERIOD_SECONDS, DEFAULT_HPA_CONTROLLER_CONFIG, DEFAULT_CPU_UTILIZATION } from './controller.ts';
export { reconcileHpaJson, hpaInputFromJson, hpaInputSchema, HPA_INPUT_HINT } from './jsonInput.ts';
export type { HpaReconcileJsonInput, HpaReconcileJsonResult, HpaPodJson } from './jsonInput.ts';
export { parseQuantityMilli, quantityToMilli } from './quantity.ts';
export type {
  HpaBehavior,
  HpaCondition,
  HpaConditionType,
  HpaControllerConfig,
  HpaReconcileInput,
  HpaReconcileResult,
  HpaScalingPolicy,
  HpaScalingRules,
  HpaSpec,
  MetricSpec,
  MetricTarget,
  PodPhase,
  PodSample,
  Quantity,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from './types.ts';
