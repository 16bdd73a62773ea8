import { resolve } from 'node:path';
import { stringOpt, intOpt, listOpt, type Command } from '../cli/command.ts';
import { KarmaError } from '../../policies/errors.ts';
import { analyseRun } from '../analyze/analysis.ts';
import { readRunDirectory, recordRun, writeReport } from '../analyze/run-directory.ts';
import { renderReport } from '../analyze/report.ts';

export const analyzeCommand: Command = {
  name: 'analyze',
  summary: 'explain what the agents learned: roles, goals, distilled rules, plots → report.md',
  usage: '--run DIR --out DIR [--seed N] [--max-depth N] [--success-threshold X] [--topology T --scenarios S[,S…] [--seeds N]]',
  options: {
    run: { type: 'string', description: 'run directory (trajectories/**/*.json, optional evaluation.json, training.json, twin.json, organisation.yaml, bundle.json)', valueName: 'DIR' },
    out: { type: 'string', description: 'where to write report.md, plots/*.svg and analysis.json', valueName: 'DIR' },
    seed: { type: 'string', description: 'seed of the sampling and clustering steps', default: '0', valueName: 'N' },
    'max-depth': { type: 'string', description: 'depth limit of the distilled decision trees', default: '4', valueName: 'N' },
    'success-threshold': { type: 'string', description: 'an episode with success rate ≥ this counts as successful (inferred goals)', default: '0.9', valueName: 'X' },
    topology: { type: 'string', description: 'record trajectories first: run DIR/policies.json (from karma-hpa train) and the default HPA in this topology', valueName: 'NAME|FILE' },
    scenarios: { type: 'string', multiple: true, description: 'scenarios to record (with --topology)', valueName: 'S' },
    seeds: { type: 'string', description: 'seeds per scenario to record (with --topology)', default: '5', valueName: 'N' },
  },
  details: `Examples:
  karma-hpa analyze --run runs/2025-06-01 --out runs/2025-06-01/report
  karma-hpa train --topology chained-services --scenarios ddos,mixed --out runs/mas
  karma-hpa analyze --run runs/mas --topology chained-services --scenarios ddos,mixed --seeds 5 --out runs/mas/report
With --topology the trained agents and the default HPA are run through the scenarios first and their
trajectories written to DIR/trajectories/recorded.json.
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
    const topology = stringOpt(args, 'topology', 'analyze');
    if (topology !== undefined) {
      const scenarios = listOpt(args, 'scenarios');
      if (scenarios.length === 0) throw new KarmaError('--topology needs --scenarios', { where: 'karma-hpa analyze', hint: 'e.g. --scenarios ddos,mixed' });
      const seeds = intOpt(args, 'seeds', 'analyze', 5, 1, 1000);
      const path = recordRun(runDir, topology, scenarios, seeds, io.cwd);
      io.err(`recorded ${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'} × ${seeds} seeds into ${path}\n`);
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
