import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KarmaError } from '../../policies/errors.ts';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import { parseYamlDocument } from '../../policies/documents.ts';
import { stringOpt, type Command } from '../cli/command.ts';
import { HPA_INPUT_HINT, hpaInputSchema, reconcileHpaJson, type HpaReconcileJsonResult } from '../twin/hpa/index.ts';

function describe(result: HpaReconcileJsonResult, currentReplicas: number): string {
  const lines = [`desired replicas: ${result.desiredReplicas} (current ${currentReplicas})`, `reason: ${result.reason}`];
  if (result.utilization !== undefined) lines.push(`utilization: ${result.utilization}% of request`);
  if (result.rawValue !== undefined) lines.push(`current value: ${result.rawValue}m`);
  lines.push('conditions:');
  for (const c of result.conditions) lines.push(`  ${c.type}=${c.status} ${c.reason}: ${c.message}`);
  lines.push(`recommendations kept: ${result.recommendations.length}; scale events kept: ${result.scaleEvents.length}`);
  return `${lines.join('\n')}\n`;
}

export const hpaCommand: Command = {
  name: 'hpa',
  summary: 'run one sync of the emulated HPA controller (autoscaling/v2) on a JSON input',
  usage: '--input FILE.json [--json]',
  options: {
    input: { type: 'string', valueName: 'FILE', description: 'JSON input: now, spec, currentReplicas, pods, metrics, recommendations, scaleEvents, config' },
    json: { type: 'boolean', description: 'print the result as JSON (desiredReplicas, utilization, rawValue, reason, conditions, recommendations, scaleEvents)' },
  },
  details: `
Times are RFC 3339; quantities are Kubernetes quantities ("500m", "1", "250Mi") or numbers in base units.
Feed the printed recommendations and scaleEvents into the next sync's input to follow the controller over time.
Example: karma-hpa hpa --input test/fixtures/hpa/scale-up.json --json`,
  run: async (args, io) => {
    const file = stringOpt(args, 'input', 'hpa', true);
    const path = resolve(io.cwd, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new KarmaError(`cannot read the input file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
        where: file,
        hint: 'pass an existing JSON file with --input',
      });
    }
    try {
      JSON.parse(text);
    } catch (e) {
      throw new KarmaError(`the input is not valid JSON: ${(e as Error).message}`, { where: file, hint: 'fix the JSON syntax at the position shown' });
    }
    // Parsed again for validation so schema errors carry line:col.
    const value = parseYamlDocument<unknown>(text, file, hpaInputSchema, 'HPA reconcile input', HPA_INPUT_HINT);
    const result = reconcileHpaJson(value, file);
    if (args.values.json) io.out(canonicalPrettyJson(result));
    else io.out(describe(result, (value as { currentReplicas: number }).currentReplicas));
    return 0;
  },
};
