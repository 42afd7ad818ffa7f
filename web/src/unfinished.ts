// Installs the key assistant on this computer has not finished. The server may already call an
// order completed (the new certificate is on the key and in use) while the assistant still has to
// retire the old pair: only the assistant knows, so every page that shows orders asks it and offers
// 继续更新 for those. Asked only once the holder has connected to the assistant from a click.
import { useEffect, useState } from 'react';
import { UPDATE_STATES, type Order } from './api';
import { useApp } from './state';

export function useUnfinishedInstalls(): ReadonlySet<string> {
  const { agent, agentConnected } = useApp();
  const [ids, setIds] = useState<ReadonlySet<string>>(() => new Set());
  useEffect(() => {
    if (!agent || !agentConnected) return;
    let live = true;
    agent
      .renewals()
      .then((list) => live && setIds(new Set(list.filter((r) => r.status !== 'done').map((r) => r.orderId))))
      .catch(() => undefined); // assistant not running: the server's state is all we have
    return () => {
      live = false;
    };
  }, [agent, agentConnected]);
  return ids;
}

/** The order's update has begun and is not finished (on the server, or on this computer's key). */
export function updateUnfinished(o: Order, unfinished: ReadonlySet<string>): boolean {
  return (UPDATE_STATES.includes(o.state) && o.state !== 'paid') || unfinished.has(o.id);
}
