// 证书查询: the current certificate and the ones before it, with the orders that renewed them.
import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Descriptions, Result, Space, Spin, Table, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { DownloadOutlined } from '@ant-design/icons';
import { api, type CertificateSummary, type Order } from '../api';
import { errorText } from '../errors';
import { fmtDate, named } from '../format';
import { hasKey, useI18n } from '../i18n';
import { OrdersTable } from './OrdersPage';
import { SealsTable } from './SealsPage';
import type { SealApplicationView } from '../../../src/shared/seal-views.js';

/** The status tag, and for a revoked certificate its 撤销原因 and date. */
export function CertStatusWithReason({ cert }: { cert: CertificateSummary }) {
  const { t, lang } = useI18n();
  if (cert.status !== 'revoked' || !cert.revocationReason) return <CertStatusTag status={cert.status} />;
  const key = `revokeReason_${cert.revocationReason}`;
  return (
    <Space size={4} wrap>
      <CertStatusTag status={cert.status} />
      <span>{hasKey(key) ? t(key) : cert.revocationReason}</span>
      {cert.revokedAt && <span>{fmtDate(lang, cert.revokedAt)}</span>}
    </Space>
  );
}

export function CertStatusTag({ status }: { status: string }) {
  const { t } = useI18n();
  const key = `certStatus.${status}`;
  const color = status === 'revoked' ? 'red' : status === 'expired' ? 'default' : status === 'superseded' ? 'purple' : 'green';
  return <Tag color={color}>{hasKey(key) ? t(key) : status}</Tag>;
}

export function DownloadLinks({ serial }: { serial: string }) {
  const { t } = useI18n();
  return (
    <Space wrap>
      <a href={api.downloadUrl(serial, 'pem')} download>
        <DownloadOutlined aria-hidden /> {t('downloadPem')}
      </a>
      <a href={api.downloadUrl(serial, 'der')} download>
        <DownloadOutlined aria-hidden /> {t('downloadDer')}
      </a>
      <a href={api.downloadUrl(serial, 'chain.pem')} download>
        <DownloadOutlined aria-hidden /> {t('downloadChain')}
      </a>
    </Space>
  );
}

export default function CertificatesPage() {
  const { t, lang } = useI18n();
  const [data, setData] = useState<{ current: CertificateSummary; history: CertificateSummary[]; orders: Order[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  // the seals made for the holder's certificates (印章查询 has the applications too)
  const [seals, setSeals] = useState<SealApplicationView[]>([]);
  const load = useCallback(async () => {
    setError(null);
    try {
      setData(await api.certificates());
      setSeals((await api.seals().catch(() => ({ applications: [] }))).applications.filter((a) => a.esId));
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [t]);
  useEffect(() => {
    void load();
  }, [load]);
  if (error) return <Result status="error" title={error} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  if (!data) return <Spin className="cd-spin" />;
  const c = data.current;

  const columns: ColumnsType<CertificateSummary> = [
    { title: t('colSerial'), dataIndex: 'serial', key: 'serial', render: (s: string) => <code>{s.toUpperCase()}</code> },
    { title: t('colKind'), key: 'kind', render: (_, r) => named(lang, r.profileName, r.profileNameEn) },
    { title: t('colNotBefore'), dataIndex: 'notBefore', key: 'nb', render: (v: string) => fmtDate(lang, v) },
    { title: t('colNotAfter'), dataIndex: 'notAfter', key: 'na', render: (v: string) => fmtDate(lang, v) },
    { title: t('colStatus'), key: 'status', render: (_, r) => <CertStatusWithReason cert={r} /> },
    {
      title: t('colActions'),
      key: 'actions',
      render: (_, r) => (
        <Space wrap>
          <a href={`#/certificates/${encodeURIComponent(r.serial)}`}>{t('details')}</a>
          <DownloadLinks serial={r.serial} />
        </Space>
      ),
    },
  ];

  return (
    <div className="cd-page">
      <Card
        className="cd-gap"
        title={<h1 className="cd-card-title">{t('certificatesTitle')}</h1>}
        extra={<a href={`#/certificates/${encodeURIComponent(c.serial)}`}>{t('details')}</a>}
        data-testid="current-certificate"
      >
        <Descriptions
          bordered
          size="middle"
          column={{ xs: 1, md: 2 }}
          title={t('currentCertificate')}
          items={[
            { key: 'name', label: t('fieldName'), children: c.commonName },
            { key: 'kind', label: t('fieldKind'), children: named(lang, c.profileName, c.profileNameEn) },
            { key: 'uid', label: t('fieldUniqueId'), children: c.uniqueId ?? '—' },
            { key: 'serial', label: t('fieldSerial'), children: <code>{c.serial.toUpperCase()}</code> },
            { key: 'nb', label: t('fieldNotBefore'), children: fmtDate(lang, c.notBefore) },
            { key: 'na', label: t('fieldNotAfter'), children: fmtDate(lang, c.notAfter) },
            { key: 'status', label: t('fieldStatus'), children: <CertStatusTag status={c.status} /> },
            { key: 'days', label: t('fieldDaysLeft'), children: t('daysLeft', { n: c.daysLeft }) },
            { key: 'dl', label: t('colActions'), children: <DownloadLinks serial={c.serial} /> },
            // an SM2 dual pair: the encryption certificate (加密证书) beside the signing one
            ...(c.encryption
              ? [
                  {
                    key: 'enc',
                    label: t('fieldEncryptionCertificate'),
                    children: (
                      <Space wrap data-testid="encryption-certificate">
                        <code>{c.encryption.serial.toUpperCase()}</code>
                        <CertStatusTag status={c.encryption.status} />
                        <DownloadLinks serial={c.encryption.serial} />
                      </Space>
                    ),
                  },
                ]
              : []),
          ]}
        />
      </Card>
      <Card className="cd-gap" title={t('certificateHistory')}>
        <Table<CertificateSummary>
          rowKey="serial"
          size="middle"
          bordered
          columns={columns}
          dataSource={data.history}
          pagination={false}
          locale={{ emptyText: t('noHistory') }}
          scroll={{ x: true }}
        />
      </Card>
      {seals.length > 0 && (
        <Card className="cd-gap" title={t('menuSeals')} data-testid="certificate-seals">
          <SealsTable rows={seals} />
        </Card>
      )}
      <Card title={t('relatedOrders')}>
        <OrdersTable orders={data.orders} />
      </Card>
    </div>
  );
}
