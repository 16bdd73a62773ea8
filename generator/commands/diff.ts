import { resolve } from 'node:path';
import { KarmaError } from '../../policies/errors.ts';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import type { Command } from '../cli/command.ts';
import { loadBundleFile } from '../bundle/load.ts';
import { explainBundleChange, renderBundleChange } from '../analyze/bundle-change.ts';

export const diffCommand: Command = {
  name: 'diff',
  summary: 'explain what changed between two PolicyBundles (Markdown for a pull request)',
  usage: 'OLD_BUNDLE NEW_BUNDLE [--json]',
  allowPositionals: true,
  options: {
    json: { type: 'boolean', description: 'print the explanation as JSON instead of Markdown' },
  },
  details: `Compares version, evaluation metrics per scenario (with 95 % CIs), distilled rules (added, removed,
thresholds moved), retrained agents, roles and Action Guides, guards and targets. Both files may be
JSON or YAML and are validated (schema and digest) first.
Example:
  karma-hpa diff bundles/chained-services@1.2.0.json bundles/chained-services.json > pr-body.md`,
  async run(args, io) {
    if (args.positionals.length !== 2) {
      throw new KarmaError(`expected two bundle files, got ${args.positionals.length}`, { where: 'karma-hpa diff', hint: 'karma-hpa diff OLD_BUNDLE NEW_BUNDLE [--json]' });
    }
    const [before, after] = args.positionals.map((p) => loadBundleFile(resolve(io.cwd, p))) as [ReturnType<typeof loadBundleFile>, ReturnType<typeof loadBundleFile>];
    const explanation = explainBundleChange(before, after);
    io.out(args.values.json ? canonicalPrettyJson(explanation) : renderBundleChange(explanation));
    return 0;
  },
};
