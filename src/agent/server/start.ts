// Starting and stopping the assistant: tokens, journal, HTTP server on loopback.
import type { FastifyBaseLogger } from 'fastify';
import { Agent, type AgentOptions } from '../agent.js';
import { buildAgentServer, listenLoopback } from './app.js';

export interface RunningAgent {
  agent: Agent;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  addresses: string[];
  close(): Promise<void>;
}

export async function startAgentServer(
  opts: AgentOptions & { port: number; allowOrigins: string[]; logger?: FastifyBaseLogger | false },
): Promise<RunningAgent> {
  const agent = new Agent(opts);
  await agent.start();
  const app = await buildAgentServer(agent, { allowOrigins: opts.allowOrigins, logger: opts.logger });
  let listening: Awaited<ReturnType<typeof listenLoopback>>;
  try {
    listening = await listenLoopback(app, opts.port);
  } catch (e) {
    await agent.close();
    throw e;
  }
  let closed = false;
  return {
    agent,
    port: listening.port,
    url: `http://127.0.0.1:${listening.port}`,
    addresses: listening.addresses,
    async close() {
      if (closed) return;
      closed = true;
      await listening.closeExtra();
      await app.close();
      await agent.close();
    },
  };
}
