// Small pieces shared by the staff pages.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Tag } from 'antd';
import type { OrderState, Paged } from '../api';
import { useI18n } from '../i18n';

const STATE_COLORS: Record<OrderState, string> = {
  awaiting_payment: 'gold',
  paid: 'blue',
  issuing: 'processing',
  issued: 'cyan',
  installed: 'cyan',
  completed: 'green',
  cancelled: 'default',
  expired: 'default',
  refunded: 'magenta',
};

export function StateTag({ state }: { state: OrderState }) {
  const { t } = useI18n();
  return <Tag color={STATE_COLORS[state]}>{t(`state.${state}`)}</Tag>;
}

/** Loads a server-paged list; reloads when `deps` or the page change. `tableProps` go on the antd Table. */
export function usePaged<T>(load: (page: number, pageSize: number) => Promise<Paged<T>>, deps: unknown[]) {
  const { t } = useI18n();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [data, setData] = useState<Paged<T> | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(load, deps);
  // Only the newest load may fill the table: a slow earlier answer (the first load, a filter typed
  // since) arriving after a reload would otherwise show stale rows (e.g. an invoice just mailed).
  const latest = useRef(0);
  const reload = useCallback(() => {
    const seq = ++latest.current;
    setLoading(true);
    setError(null);
    run(page, pageSize)
      .then(
        (d) => seq === latest.current && setData(d),
        (e: Error) => seq === latest.current && setError(e.message),
      )
      .finally(() => seq === latest.current && setLoading(false));
  }, [run, page, pageSize]);
  useEffect(reload, [reload]);
  useEffect(() => setPage(1), [run]);
  return {
    data,
    loading,
    error,
    reload,
    tableProps: {
      loading,
      dataSource: data?.items ?? [],
      pagination: {
        current: page,
        pageSize,
        total: data?.total ?? 0,
        showSizeChanger: true,
        showTotal: (n: number) => t(data?.totalCapped ? 'totalCapped' : 'total', { n }),
        onChange: (p: number, s: number) => {
          setPage(p);
          setPageSize(s);
        },
      },
    },
  };
}
