// 订单查询: the holder's orders, newest first; a row opens the order.
import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Result, Space, Table, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { api, type Order } from '../api';
import { errorText } from '../errors';
import { fmtTime, money, named } from '../format';
import { useI18n } from '../i18n';
import { navigate } from '../router';
import { updateUnfinished, useUnfinishedInstalls } from '../unfinished';
import { orderKindText, payMethodText, StateTag } from './OrderPage';

export function OrdersTable({ orders, loading }: { orders: Order[]; loading?: boolean }) {
  const { t, lang } = useI18n();
  const unfinished = useUnfinishedInstalls();
  const columns: ColumnsType<Order> = [
    { title: t('colOrderId'), dataIndex: 'id', key: 'id', render: (id: string) => <a href={`#/orders/${id}`}>{id}</a> },
    { title: t('colCreatedAt'), dataIndex: 'createdAt', key: 'createdAt', render: (v: string) => fmtTime(lang, v) },
    { title: t('fieldBusiness'), key: 'business', render: (_, o) => orderKindText(t, o.kind) },
    {
      title: t('fieldKindName'),
      key: 'kind',
      render: (_, o) => named(lang, o.certificateTypeName, o.certificateTypeNameEn),
    },
    { title: t('colMonths'), dataIndex: 'months', key: 'months', align: 'right' },
    { title: t('colAmount'), dataIndex: 'amountFen', key: 'amount', align: 'right', render: (v: number) => money(t, v) },
    {
      title: t('colPayMethod'),
      dataIndex: 'paymentMethod',
      key: 'method',
      render: (m: Order['paymentMethod']) => payMethodText(t, m),
    },
    {
      title: t('colState'),
      key: 'state',
      render: (_, o) =>
        updateUnfinished(o, unfinished) ? (
          <Space size={4} wrap>
            {o.state === 'completed' ? <Tag color="orange">{t('updateUnfinishedTitle')}</Tag> : <StateTag state={o.state} />}
            <a href={`#/orders/${o.id}/update`} onClick={(e) => e.stopPropagation()} data-testid={`resume-${o.id}`}>
              {t('resumeUpdate')}
            </a>
          </Space>
        ) : (
          <StateTag state={o.state} />
        ),
    },
  ];
  return (
    <Table<Order>
      rowKey="id"
      size="middle"
      bordered
      loading={loading}
      columns={columns}
      dataSource={orders}
      pagination={orders.length > 10 ? { pageSize: 10 } : false}
      locale={{ emptyText: t('noOrders') }}
      onRow={(o) => ({ onClick: () => navigate(`/orders/${o.id}`), className: 'cd-clickable' })}
      scroll={{ x: true }}
    />
  );
}

export default function OrdersPage() {
  const { t } = useI18n();
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    setError(null);
    try {
      setOrders((await api.orders()).orders);
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [t]);
  useEffect(() => {
    void load();
  }, [load]);
  if (error) return <Result status="error" title={error} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  return (
    <Card title={<h1 className="cd-card-title">{t('ordersTitle')}</h1>} data-testid="orders">
      <OrdersTable orders={orders ?? []} loading={!orders} />
    </Card>
  );
}
