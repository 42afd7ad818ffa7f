// How the long-running commands (serve, demo, agent) stop: cleanly on SIGTERM/SIGINT, and when the
// npm launcher above them goes away. `npx certdesk agent` runs this process as npm exec → `sh -c` →
// node; npm hands SIGTERM to that shell only, which dies without passing it on, so the orphan would
// keep its port. No certdesk command spawns children of its own.

/** Poll interval for the launcher check; process.ppid is re-read from the OS on every access. */
const PARENT_POLL_MS = 500;

/**
 * Calls `close` once, then exits, on SIGTERM, SIGINT, or — when started through npm (npx, npm run)
 * — when the parent process changes (the launcher was stopped). Started directly (node, a service
 * manager, nohup) the parent is left alone: outliving a closed shell is then what was asked for.
 */
export function closeOnSignals(close: () => Promise<void>, env: NodeJS.ProcessEnv = process.env): void {
  let closing = false;
  let watch: NodeJS.Timeout | undefined;
  const shutdown = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    clearInterval(watch);
    let code = 0;
    try {
      await close();
    } catch (e) {
      process.stderr.write(`certdesk: error while stopping: ${(e as Error)?.message ?? String(e)}\n`);
      code = 1;
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  // npm sets npm_lifecycle_event ("npx", or the script name) for what it starts.
  if (env.npm_lifecycle_event !== undefined) {
    const launcher = process.ppid;
    watch = setInterval(() => {
      if (process.ppid !== launcher) void shutdown();
    }, PARENT_POLL_MS);
    watch.unref();
  }
}
