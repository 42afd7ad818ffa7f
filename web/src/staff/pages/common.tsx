// Small pieces shared by the staff pages.
import { useCallback, useEffect, useRef, useState } from 'react';
import { App, Form, Input, Modal, Segmented, Tag } from 'antd';
import { ApiError, fenOf, yuan, type Catalogue, type OrderState, type Paged } from '../api';
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

type ReviewState = 'pending' | 'approved' | 'rejected';

/**
 * A review queue (印章审核, 变更审核): the rows in one review state, the decision on one, and the
 * reject dialog's row and reason. A decision reloads the queue; an error stays shown until the next.
 */
export function useReviewQueue<R>(
  /** a stable function (api.sealReviews): a new one each render would reload each render */
  list: (state: ReviewState) => Promise<{ items: R[] }>,
  decideOn: (row: R, approve: boolean, why?: string) => Promise<unknown>,
) {
  const [state, setState] = useState<ReviewState>('pending');
  const [rows, setRows] = useState<R[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [rejecting, setRejecting] = useState<R | null>(null);
  const [reason, setReason] = useState('');
  const load = useCallback(() => {
    setError(null);
    list(state)
      .then((r) => setRows(r.items))
      .catch((e: unknown) => setError((e as Error).message));
  }, [list, state]);
  useEffect(load, [load]);
  const decide = async (row: R, approve: boolean, why?: string) => {
    setError(null);
    try {
      await decideOn(row, approve, why);
      setRejecting(null);
      setReason('');
      load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return { state, setState, rows, error, load, decide, rejecting, setRejecting, reason, setReason };
}

/** The review state a queue shows (待审核 / 已通过 / 已驳回). */
export function ReviewStateSwitch({ value, onChange }: { value: ReviewState; onChange: (s: ReviewState) => void }) {
  const { t } = useI18n();
  return (
    <Segmented<ReviewState>
      value={value}
      onChange={onChange}
      options={[
        { value: 'pending', label: t('sealPending') },
        { value: 'approved', label: t('sealApproved') },
        { value: 'rejected', label: t('sealRejected') },
      ]}
    />
  );
}

/** The reject dialog of a review queue: the reason the holder will see is required. */
export function RejectDialog<R>({
  queue,
  title,
  testId,
}: {
  queue: Pick<ReturnType<typeof useReviewQueue<R>>, 'rejecting' | 'setRejecting' | 'reason' | 'setReason' | 'decide'>;
  title: string;
  testId: string;
}) {
  const { t } = useI18n();
  const { rejecting, setRejecting, reason, setReason, decide } = queue;
  return (
    <Modal
      open={rejecting !== null}
      title={title}
      okButtonProps={{ disabled: !reason.trim(), danger: true }}
      onOk={() => rejecting !== null && void decide(rejecting, false, reason)}
      onCancel={() => setRejecting(null)}
    >
      <Input.TextArea
        rows={3}
        maxLength={500}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        placeholder={t('sealRejectReason')}
        data-testid={testId}
      />
    </Modal>
  );
}

/** A priced catalogue row as its edit form holds it: the price typed in yuan instead of fen. */
export type PricedForm<V extends { priceFen: number }> = Omit<V, 'priceFen' | 'updatedAt'> & { price: string };

/**
 * The edit dialog of a priced catalogue row (印章种类, 升级路径): opened on a row or blank, the price
 * shown in yuan and saved in fen, the server's field errors shown on their fields.
 */
export function usePricedEdit<V extends { priceFen: number }>(
  blank: PricedForm<V>,
  saveRow: (row: Omit<PricedForm<V>, 'price'> & { priceFen: number }) => Promise<Catalogue>,
  onSaved: (c: Catalogue) => void,
) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [editing, setEditing] = useState<V | 'new' | null>(null);
  const [form] = Form.useForm<PricedForm<V>>();
  // antd's field paths are typed by the form's fields; these two are on every priced form
  const fieldError = (name: string, error: string) => form.setFields([{ name: name as never, errors: [error] }]);
  const open = (row: V | 'new') => {
    setEditing(row);
    form.setFieldsValue((row === 'new' ? blank : { ...row, price: yuan(row.priceFen) }) as never);
  };
  const save = async () => {
    const { price, ...rest } = await form.validateFields();
    const fen = fenOf(price);
    if (fen === undefined || Number.isNaN(fen)) return fieldError('price', t('sealPriceInvalid'));
    try {
      onSaved(await saveRow({ ...rest, priceFen: fen }));
      void message.success(t('saved'));
      setEditing(null);
    } catch (e) {
      if (e instanceof ApiError && e.field) fieldError(e.field, e.message);
      else void message.error(String((e as Error).message));
    }
  };
  return { editing, setEditing, form, open, save };
}
