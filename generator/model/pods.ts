/**
 * Service name of a pod: a Deployment pod `name-<replicaset hash>-<pod hash>` or a StatefulSet pod
 * `name-<ordinal>` belongs to `name`; anything else is taken as the service name itself.
 */
export function serviceOfPod(pod: string): string {
  const deployment = /^(.+?)-[a-z0-9]{6,10}-[a-z0-9]{5}$/.exec(pod);
  if (deployment) return deployment[1]!;
  const statefulSet = /^(.+)-\d+$/.exec(pod);
  if (statefulSet) return statefulSet[1]!;
  const bare = /^(.+)-[a-z0-9]{5}$/.exec(pod);
  if (bare && /\d/.test(pod.slice(-5))) return bare[1]!;
  return pod;
}
