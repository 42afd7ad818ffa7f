// Catalogue and settings: certificate types with profile, renewal window, online renewal and a
// price per term; payment methods; remittance instructions; the invoice issuer. New orders only.
import { useEffect, useState } from 'react';
import {
  Alert,
  App,
  Button,
  Card,
  Checkbox,
  Col,
  Form,
  Input,
  InputNumber,
  Modal,
  Row,
  Select,
  Space,
  Switch,
  Table,
  Tag,
  Typography,
} from 'antd';
import { api, ApiError, fenOf, yuan, type Catalogue, type CertificateType } from '../api';
import { useI18n } from '../i18n';
import { useCan } from '../StaffApp';
import SealTypesCard from './SealTypesCard';
import UpgradePathsCard from './UpgradePathsCard';

type TypeForm = Omit<CertificateType, 'prices'> & { p1?: string; p2?: string; p3?: string };

export default function CataloguePage() {
  const { t } = useI18n();
  const can = useCan();
  const write = can('catalogue.write');
  const { message } = App.useApp();
  const [cat, setCat] = useState<Catalogue | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<CertificateType | 'new' | null>(null);
  const [typeForm] = Form.useForm<TypeForm>();
  const [remForm] = Form.useForm();
  const [issuerForm] = Form.useForm();
  const load = (): void => {
    api.catalogue().then(setCat, (e: Error) => setError(e.message));
  };
  useEffect(load, []);
  useEffect(() => {
    if (cat?.remittance) remForm.setFieldsValue(cat.remittance);
    if (cat) issuerForm.setFieldsValue(cat.invoiceIssuer);
  }, [cat, remForm, issuerForm]);
  useEffect(() => {
    if (editing === 'new')
      typeForm.setFieldsValue({
        code: '',
        name: '',
        nameEn: '',
        profile: cat?.profiles[0]?.id ?? '',
        renewBeforeDays: 92,
        renewAfterDays: 92,
        onlineRenewal: true,
        refundUnused: false,
        p1: '',
        p2: '',
        p3: '',
      });
    else if (editing)
      typeForm.setFieldsValue({
        ...editing,
        p1: editing.prices['1'] !== undefined ? yuan(editing.prices['1']) : '',
        p2: editing.prices['2'] !== undefined ? yuan(editing.prices['2']) : '',
        p3: editing.prices['3'] !== undefined ? yuan(editing.prices['3']) : '',
      });
  }, [editing, typeForm, cat]);

  const fail = (e: unknown): void => void message.error(e instanceof ApiError ? e.message : String(e));
  const saveType = async (): Promise<void> => {
    const v = await typeForm.validateFields();
    const prices: CertificateType['prices'] = {};
    for (const k of ['1', '2', '3'] as const) {
      const fen = fenOf(v[`p${k}`]);
      if (fen !== undefined) prices[k] = fen;
    }
    try {
      setCat(
        await api.saveType({
          code: v.code,
          name: v.name,
          nameEn: v.nameEn,
          profile: v.profile,
          renewBeforeDays: v.renewBeforeDays,
          renewAfterDays: v.renewAfterDays,
          onlineRenewal: v.onlineRenewal,
          refundUnused: v.refundUnused === true,
          prices,
        }),
      );
      void message.success(t('saved'));
      setEditing(null);
    } catch (e) {
      fail(e);
    }
  };

  if (error) return <Alert type="error" title={error} />;
  if (!cat) return null;
  return (
    <Space orientation="vertical" style={{ width: '100%' }} size="middle">
      <Card
        size="small"
        title={t('types')}
        extra={
          write && (
            <Button type="primary" onClick={() => setEditing('new')}>
              {t('addType')}
            </Button>
          )
        }
      >
        <Alert type="info" showIcon title={t('newOrdersOnly')} style={{ marginBottom: 12 }} />
        <Table<CertificateType>
          size="small"
          rowKey="code"
          pagination={false}
          dataSource={cat.types}
          columns={[
            { title: t('code_'), dataIndex: 'code' },
            { title: t('name'), dataIndex: 'name' },
            { title: t('profile'), dataIndex: 'profile' },
            { title: t('renewBefore'), dataIndex: 'renewBeforeDays' },
            { title: t('renewAfter'), dataIndex: 'renewAfterDays' },
            {
              title: t('onlineRenewal'),
              dataIndex: 'onlineRenewal',
              render: (v: boolean) => (v ? <Tag color="green">{t('yes')}</Tag> : <Tag>{t('no')}</Tag>),
            },
            ...(['1', '2', '3'] as const).map((k) => ({
              title: t('price', { n: k }),
              key: k,
              align: 'right' as const,
              render: (_: unknown, r: CertificateType) => (r.prices[k] !== undefined ? yuan(r.prices[k]) : '—'),
            })),
            ...(write
              ? [
                  {
                    title: t('actions'),
                    key: 'a',
                    render: (_: unknown, r: CertificateType) => (
                      <Button size="small" onClick={() => setEditing(r)}>
                        {t('editType')}
                      </Button>
                    ),
                  },
                ]
              : []),
          ]}
        />
      </Card>
      <UpgradePathsCard cat={cat} write={write} onSaved={setCat} />
      <SealTypesCard types={cat.sealTypes} write={write} onSaved={setCat} />
      <Card size="small" title={t('paymentMethods')}>
        <Checkbox.Group
          disabled={!write}
          value={cat.paymentMethods}
          options={['online', 'postal', 'bank'].map((m) => ({ value: m, label: t(`method.${m}`) }))}
          onChange={(v) =>
            void api.setPaymentMethods(v.map(String)).then((r) => setCat({ ...cat, paymentMethods: r.paymentMethods }), fail)
          }
        />
      </Card>
      <ChangePriceCard fen={cat.changePriceFen} write={write} onSaved={(changePriceFen) => setCat({ ...cat, changePriceFen })} />
      <Row gutter={16}>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('remittance')}>
            <Form
              form={remForm}
              layout="vertical"
              name="remittance"
              disabled={!write}
              onFinish={(v) => void api.setRemittance(v).then(() => void message.success(t('saved')), fail)}
            >
              {(['payee', 'bank', 'account', 'postalAddress', 'postcode', 'note'] as const).map((f) => (
                <Form.Item key={f} name={f} label={t(f === 'note' ? 'note' : f)} rules={f === 'note' ? [] : [{ required: true }]}>
                  <Input />
                </Form.Item>
              ))}
              <Button type="primary" htmlType="submit">
                {t('save')}
              </Button>
            </Form>
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card size="small" title={t('invoiceIssuer')}>
            <Form
              form={issuerForm}
              layout="vertical"
              name="issuer"
              disabled={!write}
              onFinish={(v) => void api.setInvoiceIssuer(v).then(() => void message.success(t('saved')), fail)}
            >
              <Form.Item name="name" label={t('name')} rules={[{ required: true }]}>
                <Input />
              </Form.Item>
              <Form.Item name="taxId" label={t('taxId')}>
                <Input />
              </Form.Item>
              <Form.Item name="address" label={t('address')}>
                <Input />
              </Form.Item>
              <Form.Item name="phone" label={t('phone')}>
                <Input />
              </Form.Item>
              <Form.Item name="paper" label={t('paperInvoices')} valuePropName="checked">
                <Switch />
              </Form.Item>
              <Button type="primary" htmlType="submit">
                {t('save')}
              </Button>
            </Form>
          </Card>
        </Col>
      </Row>
      <Modal
        open={editing !== null}
        title={editing === 'new' ? t('addType') : t('editType')}
        onCancel={() => setEditing(null)}
        onOk={() => void saveType()}
        destroyOnHidden
      >
        <Form form={typeForm} layout="vertical" name="type">
          <Form.Item name="code" label={t('code_')} rules={[{ required: true, pattern: /^[a-z0-9][a-z0-9-]*$/ }]}>
            <Input disabled={editing !== 'new'} />
          </Form.Item>
          <Form.Item name="name" label={t('name')} rules={[{ required: true }]}>
            <Input />
          </Form.Item>
          <Form.Item name="nameEn" label={t('nameEn')} rules={[{ required: true }]}>
            <Input />
          </Form.Item>
          <Form.Item name="profile" label={t('profile')} rules={[{ required: true }]}>
            <Select options={cat.profiles.map((p) => ({ value: p.id, label: `${p.id} · ${p.name}` }))} />
          </Form.Item>
          <Space>
            <Form.Item name="renewBeforeDays" label={t('renewBefore')} rules={[{ required: true }]}>
              <InputNumber min={0} max={3650} />
            </Form.Item>
            <Form.Item name="renewAfterDays" label={t('renewAfter')} rules={[{ required: true }]}>
              <InputNumber min={0} max={3650} />
            </Form.Item>
          </Space>
          <Form.Item name="onlineRenewal" label={t('onlineRenewal')} valuePropName="checked">
            <Switch />
          </Form.Item>
          <Form.Item name="refundUnused" label={t('refundUnused')} valuePropName="checked">
            <Switch />
          </Form.Item>
          <Space>
            {(['1', '2', '3'] as const).map((k) => (
              <Form.Item key={k} name={`p${k}`} label={t('price', { n: k })} rules={[{ pattern: /^\d{1,9}(\.\d{1,2})?$/ }]}>
                <Input style={{ width: 110 }} />
              </Form.Item>
            ))}
          </Space>
        </Form>
      </Modal>
    </Space>
  );
}

/** 变更证书收费: what a change of certificate details costs (0: free, no payment step). */
function ChangePriceCard({ fen, write, onSaved }: { fen: number; write: boolean; onSaved: (fen: number) => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [value, setValue] = useState(yuan(fen));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setValue(yuan(fen)), [fen]);
  const save = (): void => {
    const v = fenOf(value);
    if (v === undefined || Number.isNaN(v)) return setError(t('sealPriceInvalid'));
    setError(null);
    void api.setChangePrice(v).then(
      (r) => {
        onSaved(r.changePriceFen);
        void message.success(t('saved'));
      },
      (e: Error) => setError(e.message),
    );
  };
  return (
    <Card size="small" title={t('changePrice')} data-testid="change-price">
      <Space wrap>
        <Input
          disabled={!write}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          style={{ width: 160 }}
          prefix="¥"
          data-testid="change-price-input"
        />
        <Button type="primary" disabled={!write} onClick={save}>
          {t('save')}
        </Button>
      </Space>
      <Typography.Paragraph type="secondary">{t('changePriceHint')}</Typography.Paragraph>
      {error && <Alert type="error" showIcon title={error} />}
    </Card>
  );
}
