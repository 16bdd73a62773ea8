/**
 * Names of what a publish creates in the GitOps repository. Branch and tag differ so that short
 * names are unambiguous to git (`git show karma-hpa/<app>/v1.2.0` is the branch).
 */
export function releaseBranch(app: string, version: string): string {
  return `karma-hpa/${app}/v${version}`;
}

/** Prefix of every release tag of an app; the version follows it. */
export function releaseTagPrefix(app: string): string {
  return `karma-hpa-release/${app}/v`;
}

export function releaseTag(app: string, version: string): string {
  return `${releaseTagPrefix(app)}${version}`;
}
