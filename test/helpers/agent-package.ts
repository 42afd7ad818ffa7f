// The packaged key assistant (npm run package:agent) for tests: built once per content of its inputs
// (the build script keeps outputs whose inputs did not change, and lets one build run at a time).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './agent.js';

export interface AgentPackage {
  /** dist-agent/certdesk-agent-linux-x64 */
  binary: string;
  /** dist-agent/certdesk-agent_<version>_amd64.deb */
  deb: string;
  version: string;
}

let built: AgentPackage | undefined;

export function packagedAgent(): AgentPackage {
  if (built) return built;
  execFileSync('npm', ['run', '--silent', 'package:agent'], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  const version = /export const AGENT_VERSION = '([^']+)'/.exec(
    readFileSync(path.join(REPO, 'src/agent/version.ts'), 'utf8'),
  )![1]!;
  built = {
    binary: path.join(REPO, 'dist-agent/certdesk-agent-linux-x64'),
    deb: path.join(REPO, `dist-agent/certdesk-agent_${version}_amd64.deb`),
    version,
  };
  return built;
}
