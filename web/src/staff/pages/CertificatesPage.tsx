// Certificates: search by serial, subject, unique ID, status; details with the live OCSP answer and
// the current CRL; revocation on the holder's request (reason, who asked, note).
import { useEffect, useState } from 'react';
import { Alert, App, Button, Card, Descriptions, Drawer, Form, Input, Modal, Select, Space, Table, Tag, Typography } from 'antd';
import { END_ENTITY_REASONS } from '../../../../src/shared/revocation-reasons.js';
import { api, ApiError, fmtTime, yuan, type CertificateDetail, type CertificateRow } from '../api';
import { useI18n } from '../i18n';
import { go, useCan } from '../StaffApp';
import { usePaged } from './common';

function CertificateDrawer({
  serial,
  onClose,
  onChanged,
}: {
  serial: string | undefined;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { t } = useI18n();
  const can = useCan();
  const { message } = App.useApp();
  const [d, setD] = useState<CertificateDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState(false);
  const [form] = Form.useForm<{ reason: string; requestedBy: string; note?: string }>();
  const load = (): void => {
    if (serial) api.certificate(serial).then(setD, (e: Error) => setError(e.message));
  };
  useEffect(() => {
    setD(null);
    setError(null);
    load();
  }, [serial]);
  const c = d?.certificate;
  return (
    <Drawer open={!!serial} onClose={onClose} size="large" title={c ? c.commonName : t('loading')} destroyOnHidden>
      {error && <Alert type="error" title={error} />}
      {d && c && (
        <Space orientation="vertical" style={{ width: '100%' }}>
          {can('certificates.revoke') && c.status !== 'revoked' && (
            <Button danger onClick={() => setRevoking(true)}>
              {t('revoke')}
            </Button>
          )}
          <Descriptions size="small" bordered column={1}>
            <Descriptions.Item label={t('serial')}>
              <span className="sc-mono">{c.serial}</span>
            </Descriptions.Item>
            {d.pair.signingSerial && (
              <Descriptions.Item label={t('pairSigning')}>
                <span className="sc-mono">{d.pair.signingSerial}</span>
              </Descriptions.Item>
            )}
            {d.pair.encryptionSerial && (
              <Descriptions.Item label={t('pairEncryption')}>
                <span className="sc-mono" data-testid="pair-encryption">
                  {d.pair.encryptionSerial}
                </span>
              </Descriptions.Item>
            )}
            <Descriptions.Item label={t('subject')}>{c.subject}</Descriptions.Item>
            <Descriptions.Item label={t('certificateType')}>{c.profileName}</Descriptions.Item>
            <Descriptions.Item label={t('uniqueId')}>{c.uniqueId}</Descriptions.Item>
            <Descriptions.Item label={t('validity')}>
              {fmtTime(c.notBefore)} — {fmtTime(c.notAfter)}
            </Descriptions.Item>
            <Descriptions.Item label={t('status')}>
              <Tag color={c.status === 'valid' ? 'green' : 'red'}>{t(`cert.${c.status}`)}</Tag>
              {d.revocation && `${fmtTime(d.revocation.at)} · ${d.revocation.reason}`}
            </Descriptions.Item>
            <Descriptions.Item label={t('ocsp')}>
              <Tag color={d.ocsp === 'good' ? 'green' : d.ocsp === 'revoked' ? 'red' : 'orange'} data-testid="ocsp-status">
                {d.ocsp}
              </Tag>
            </Descriptions.Item>
            <Descriptions.Item label={t('crl')}>
              {d.crl
                ? `${t(d.crl.listed ? 'crlListed' : 'crlNotListed', { n: d.crl.number })} · ${fmtTime(d.crl.thisUpdate)} → ${fmtTime(d.crl.nextUpdate)}`
                : '—'}
            </Descriptions.Item>
          </Descriptions>
          <Card size="small" title={t('orders')}>
            {d.orders.map((o) => (
              <div key={o.id}>
                <a href={`#/orders/${encodeURIComponent(o.id)}`}>{o.id}</a> · {t(`state.${o.state}`)} · ¥{yuan(o.amountFen)} ·{' '}
                {o.role}
              </div>
            ))}
          </Card>
          <Card size="small" title={t('auditTrail')}>
            {d.audit.map((a) => (
              <div key={a.seq} className="sc-mono">
                #{a.seq} {fmtTime(a.at)} {a.actor} {a.action} {JSON.stringify(a.details)}
              </div>
            ))}
          </Card>
          <Typography.Paragraph>
            <pre className="sc-mono">{d.pem}</pre>
          </Typography.Paragraph>
          <Modal
            open={revoking}
            title={`${t('revoke')} · ${c.commonName}`}
            onCancel={() => setRevoking(false)}
            okButtonProps={{ danger: true }}
            destroyOnHidden
            onOk={() =>
              void form.validateFields().then(async (v) => {
                try {
                  await api.revoke(c.serial, v);
                  void message.success(t('revoked'));
                  setRevoking(false);
                  load();
                  onChanged();
                } catch (e) {
                  void message.error(e instanceof ApiError ? e.message : String(e));
                }
              })
            }
          >
            <Form form={form} layout="vertical" name="revoke" initialValues={{ reason: 'unspecified' }}>
              <Form.Item name="reason" label={t('revokeReason')} rules={[{ required: true }]}>
                <Select options={END_ENTITY_REASONS.map((r) => ({ value: r, label: r }))} />
              </Form.Item>
              <Form.Item name="requestedBy" label={t('requestedBy')} rules={[{ required: true, whitespace: true, max: 200 }]}>
                <Input />
              </Form.Item>
              <Form.Item name="note" label={t('note')}>
                <Input.TextArea rows={2} maxLength={500} />
              </Form.Item>
            </Form>
          </Modal>
        </Space>
      )}
    </Drawer>
  );
}

export default function CertificatesPage({ openSerial }: { openSerial: string | undefined }) {
  const { t } = useI18n();
  const [filters, setFilters] = useState<{ serial?: string; subject?: string; uniqueId?: string; status?: string }>({});
  const [form] = Form.useForm();
  const list = usePaged((page, pageSize) => api.certificates({ page, pageSize, ...filters }), [filters]);
  return (
    <Card size="small" title={t('menuCertificates')}>
      <Form
        form={form}
        layout="inline"
        name="certFilters"
        className="sc-filters"
        onFinish={(v: typeof filters) => setFilters(Object.fromEntries(Object.entries(v).filter(([, x]) => x)))}
      >
        <Form.Item name="serial">
          <Input placeholder={t('serial')} allowClear style={{ width: 220 }} />
        </Form.Item>
        <Form.Item name="subject">
          <Input placeholder={t('subject')} allowClear style={{ width: 180 }} />
        </Form.Item>
        <Form.Item name="uniqueId">
          <Input placeholder={t('uniqueId')} allowClear style={{ width: 170 }} />
        </Form.Item>
        <Form.Item name="status">
          <Select
            allowClear
            placeholder={t('status')}
            style={{ width: 120 }}
            options={['valid', 'revoked'].map((s) => ({ value: s, label: t(`cert.${s}`) }))}
          />
        </Form.Item>
        <Button type="primary" htmlType="submit">
          {t('search')}
        </Button>
      </Form>
      {list.error && <Alert type="error" title={list.error} />}
      <Table<CertificateRow>
        size="small"
        rowKey="serial"
        {...list.tableProps}
        onRow={(c) => ({ onClick: () => go(`/certificates/${c.serial}`), style: { cursor: 'pointer' } })}
        columns={[
          { title: t('serial'), dataIndex: 'serial', render: (v: string) => <span className="sc-mono">{v}</span> },
          { title: t('subject'), dataIndex: 'subject' },
          { title: t('uniqueId'), dataIndex: 'uniqueId' },
          {
            title: t('validity'),
            key: 'v',
            render: (_: unknown, c: CertificateRow) =>
              `${fmtTime(c.notBefore).slice(0, 10)} — ${fmtTime(c.notAfter).slice(0, 10)}`,
          },
          {
            title: t('status'),
            dataIndex: 'status',
            render: (v: string) => <Tag color={v === 'valid' ? 'green' : 'red'}>{t(`cert.${v}`)}</Tag>,
          },
        ]}
      />
      <CertificateDrawer serial={openSerial} onClose={() => go('/certificates')} onChanged={list.reload} />
    </Card>
  );
}
