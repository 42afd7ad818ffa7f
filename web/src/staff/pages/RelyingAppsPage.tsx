// 应用管理: the relying applications holders can enable (应用开通): names, accepted certificate types,
// fee per year, webhook URL, active or not; the API credential and the webhook secret are shown once,
// when made or rotated, and never again.
import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Card, Form, Input, Modal, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import type { RelyingAppView } from '../../../../src/api/staff/shapes.js';
import { api, ApiError, fenOf, yuan, type Catalogue } from '../api';
import { useCan } from '../StaffApp';
import { useI18n } from '../i18n';

type AppForm = Omit<RelyingAppView, 'feePerYearFen' | 'id' | 'credentialId' | 'hasWebhookSecret' | 'createdAt' | 'updatedAt'> & {
  fee: string;
};

export default function RelyingAppsPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const can = useCan();
  const write = can('catalogue.write');
  const [items, setItems] = useState<RelyingAppView[]>([]);
  const [cat, setCat] = useState<Catalogue | null>(null);
  const [editing, setEditing] = useState<RelyingAppView | 'new' | null>(null);
  const [secrets, setSecrets] = useState<Record<string, string> | null>(null);
  const [form] = Form.useForm<AppForm>();
  const load = useCallback(() => {
    void api.relyingApps().then((r) => setItems(r.items));
    void api.catalogue().then(setCat);
  }, []);
  useEffect(load, [load]);

  const open = (a: RelyingAppView | 'new') => {
    setEditing(a);
    form.setFieldsValue(
      a === 'new'
        ? { name: '', nameEn: '', description: '', acceptedTypes: [], fee: '0', webhookUrl: '', active: true }
        : { ...a, fee: yuan(a.feePerYearFen), webhookUrl: a.webhookUrl ?? '' },
    );
  };
  const save = async () => {
    const v = await form.validateFields();
    const fen = fenOf(v.fee);
    if (fen === undefined || Number.isNaN(fen)) return form.setFields([{ name: 'fee', errors: [t('sealPriceInvalid')] }]);
    const { fee: _fee, ...rest } = v;
    const body = {
      ...rest,
      webhookUrl: v.webhookUrl?.trim() || null,
      feePerYearFen: fen,
    };
    try {
      if (editing === 'new') {
        const r = await api.createRelyingApp(body);
        setSecrets({ credentialId: r.app.credentialId, credentialSecret: r.credentialSecret, webhookSecret: r.webhookSecret });
      } else if (editing) await api.updateRelyingApp(editing.id, body);
      void message.success(t('saved'));
      setEditing(null);
      load();
    } catch (e) {
      if (e instanceof ApiError && e.field) form.setFields([{ name: e.field as keyof AppForm, errors: [e.message] }]);
      else void message.error(String((e as Error).message));
    }
  };
  const rotate = async (a: RelyingAppView, what: 'credential' | 'webhook-secret') => {
    try {
      const r = await api.rotateRelyingApp(a.id, what);
      setSecrets({ credentialId: a.credentialId, ...r });
    } catch (e) {
      void message.error(String((e as Error).message));
    }
  };
  const typeName = (code: string) => cat?.types.find((x) => x.code === code)?.name ?? code;

  return (
    <Card
      size="small"
      title={t('menuRelyingApps')}
      data-testid="relying-apps"
      extra={
        write && (
          <Button type="primary" onClick={() => open('new')} data-testid="add-relying-app">
            {t('addRelyingApp')}
          </Button>
        )
      }
    >
      <Table<RelyingAppView>
        size="small"
        rowKey="id"
        pagination={false}
        dataSource={items}
        columns={[
          {
            title: t('name'),
            key: 'n',
            render: (_, a) => (
              <Space orientation="vertical" size={0}>
                <strong>{a.name}</strong>
                <span>{a.nameEn}</span>
              </Space>
            ),
          },
          {
            title: t('appAcceptedTypes'),
            key: 'types',
            render: (_, a) => a.acceptedTypes.map((c) => <Tag key={c}>{typeName(c)}</Tag>),
          },
          { title: t('appFeePerYear'), key: 'fee', align: 'right', render: (_, a) => yuan(a.feePerYearFen) },
          { title: t('appWebhook'), key: 'w', render: (_, a) => a.webhookUrl ?? '—' },
          { title: t('appCredentialId'), key: 'c', render: (_, a) => <code>{a.credentialId}</code> },
          {
            title: t('sealActive'),
            key: 'a',
            render: (_, a) => (a.active ? <Tag color="green">{t('yes')}</Tag> : <Tag>{t('no')}</Tag>),
          },
          ...(write
            ? [
                {
                  title: t('actions'),
                  key: 'e',
                  render: (_: unknown, a: RelyingAppView) => (
                    <Space wrap>
                      <Button size="small" onClick={() => open(a)}>
                        {t('edit')}
                      </Button>
                      <Button size="small" onClick={() => void rotate(a, 'credential')}>
                        {t('appRotateCredential')}
                      </Button>
                      <Button size="small" onClick={() => void rotate(a, 'webhook-secret')}>
                        {t('appRotateWebhook')}
                      </Button>
                    </Space>
                  ),
                },
              ]
            : []),
        ]}
      />
      <Modal
        open={editing !== null}
        title={t('menuRelyingApps')}
        onOk={() => void save()}
        onCancel={() => setEditing(null)}
        width={640}
      >
        <Form<AppForm> form={form} name="relyingApp" layout="vertical">
          <Form.Item label={t('name')} name="name" rules={[{ required: true, max: 50 }]}>
            <Input />
          </Form.Item>
          <Form.Item label="English" name="nameEn" rules={[{ required: true, max: 80 }]}>
            <Input />
          </Form.Item>
          <Form.Item label={t('appDescription')} name="description">
            <Input.TextArea rows={2} maxLength={500} />
          </Form.Item>
          <Form.Item label={t('appAcceptedTypes')} name="acceptedTypes" rules={[{ required: true }]}>
            <Select
              mode="multiple"
              options={(cat?.types ?? []).map((x) => ({ value: x.code, label: `${x.name} (${x.code})` }))}
            />
          </Form.Item>
          <Form.Item label={t('appFeePerYear')} name="fee" rules={[{ required: true }]}>
            <Input inputMode="decimal" />
          </Form.Item>
          <Form.Item label={t('appWebhook')} name="webhookUrl" extra={t('appWebhookHint')}>
            <Input placeholder="https://" />
          </Form.Item>
          <Form.Item label={t('sealActive')} name="active" valuePropName="checked">
            <Switch />
          </Form.Item>
        </Form>
      </Modal>
      <Modal
        open={secrets !== null}
        title={t('appSecretsTitle')}
        onOk={() => setSecrets(null)}
        onCancel={() => setSecrets(null)}
        cancelButtonProps={{ style: { display: 'none' } }}
      >
        <Alert type="warning" showIcon title={t('appSecretsOnce')} className="sc-gap" />
        {secrets &&
          Object.entries(secrets).map(([k, v]) => (
            <p key={k}>
              <b>{k}</b>:{' '}
              <Typography.Text copyable code data-testid={`secret-${k}`}>
                {v}
              </Typography.Text>
            </p>
          ))}
      </Modal>
    </Card>
  );
}
