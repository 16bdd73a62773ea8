import { resolve } from 'node:path';
import { stringOpt, intOpt, type Command } from '../cli/command.ts';
import { KarmaError } from '../../policies/errors.ts';
import { analyseRun } from '../analyze/analysis.ts';
import { readRunDirectory, writeReport } from '../analyze/run-directory.ts';
import { renderReport } from '../analyze/report.ts';

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'explain what the agents learned: roles, goals, distilled rules, plots → report.md',
  usage: '--run DIR --out DIR [--seed N] [--max-depth N] [--success-threshold X]',
  options: {
    run: { type: 'string', description: 'run directory (trajectories/**/*.json, optional evaluation.json, training.json, twin.json, organisation.yaml, bundle.json)', valueName: 'DIR' },
    out: { type: 'string', description: 'where to write report.md, plots/*.svg and analysis.json', valueName: 'DIR' },
    seed: { type: 'string', description: 'seed of the sampling and clustering steps', default: '0', valueName: 'N' },
    'max-depth': { type: 'string', description: 'depth limit of the distilled decision trees', default: '4', valueName: 'N' },
    'success-threshold': { type: 'string', description: 'an episode with success rate ≥ this counts as successful (inferred goals)', default: '0.9', valueName: 'X' },
  },
  details: `Examples:
  karma-hpa analyze --run runs/2025-06-01 --out runs/2025-06-01/report
The report renders on GitHub; every number in it is defined in generator/analyze/README.md.`,
  async run(args, io) {
    const runDir = resolve(io.cwd, stringOpt(args, 'run', 'analyze', true));
    const outDir = resolve(io.cwd, stringOpt(args, 'out', 'analyze', true));
    const seed = intOpt(args, 'seed', 'analyze', 0, 0);
    const maxDepth = intOpt(args, 'max-depth', 'analyze', 4, 1, 12);
    const thresholdText = stringOpt(args, 'success-threshold', 'analyze') ?? '0.9';
    const successThreshold = Number(thresholdText);
    if (!(successThreshold >= 0 && successThreshold <= 1)) {
      throw new KarmaError(`--success-threshold must be a number in [0, 1], got "${thresholdText}"`, { where: 'karma-hpa analyze' });
    }
    const artifacts = readRunDirectory(runDir);
    io.err(`analysing ${artifacts.episodes.length} episodes from ${runDir}\n`);
    const analysis = analyseRun(artifacts, { seed, rules: { maxDepth }, goals: { successThreshold } });
    const report = renderReport(artifacts, analysis);
    const written = writeReport(outDir, report, analysis);
    io.out(`wrote ${written.length} files to ${outDir}: report.md, analysis.json and ${written.length - 2} plots\n`);
    for (const r of analysis.rules) io.out(`  ${r.agent}: ${r.rules.length} rules, fidelity ${(r.fidelity * 100).toFixed(1)} %\n`);
    if (analysis.roles) io.out(`  role purity ${(analysis.roles.purity * 100).toFixed(1)} % (chance ${(analysis.roles.chancePurity * 100).toFixed(1)} %)\n`);
    return 0;
  },
};
