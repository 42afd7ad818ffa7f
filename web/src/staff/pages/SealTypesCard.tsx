// 印章种类 in the catalogue: price, validity and whether the seal name must be the organisation
// (单位公章); applications copy name and price, so a change applies to new applications only.
import { useState } from 'react';
import { App, Button, Card, Form, Input, InputNumber, Modal, Switch, Table, Tag } from 'antd';
import type { SealTypeView } from '../../../../src/shared/seal-views.js';
import { api, ApiError, fenOf, yuan, type Catalogue } from '../api';
import { useI18n } from '../i18n';

type SealTypeForm = Omit<SealTypeView, 'priceFen'> & { price: string };

export default function SealTypesCard({
  types,
  write,
  onSaved,
}: {
  types: SealTypeView[];
  write: boolean;
  onSaved: (c: Catalogue) => void;
}) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [editing, setEditing] = useState<SealTypeView | 'new' | null>(null);
  const [form] = Form.useForm<SealTypeForm>();
  const open = (s: SealTypeView | 'new') => {
    setEditing(s);
    form.setFieldsValue(
      s === 'new'
        ? { code: '', name: '', nameEn: '', price: '', validityDays: 365, nameIsOrganization: false, active: true }
        : { ...s, price: yuan(s.priceFen) },
    );
  };
  const save = async () => {
    const v = await form.validateFields();
    const fen = fenOf(v.price);
    if (fen === undefined || Number.isNaN(fen)) return form.setFields([{ name: 'price', errors: [t('sealPriceInvalid')] }]);
    try {
      const { price: _price, ...rest } = v;
      onSaved(await api.saveSealType({ ...rest, priceFen: fen }));
      void message.success(t('saved'));
      setEditing(null);
    } catch (e) {
      if (e instanceof ApiError && e.field) form.setFields([{ name: e.field as keyof SealTypeForm, errors: [e.message] }]);
      else void message.error(String((e as Error).message));
    }
  };
  return (
    <Card
      size="small"
      title={t('sealTypes')}
      data-testid="seal-types"
      extra={
        write && (
          <Button type="primary" onClick={() => open('new')}>
            {t('addSealType')}
          </Button>
        )
      }
    >
      <Table<SealTypeView>
        size="small"
        rowKey="code"
        pagination={false}
        dataSource={types}
        columns={[
          { title: t('code_'), dataIndex: 'code' },
          { title: t('name'), dataIndex: 'name' },
          { title: t('sealPrice'), key: 'p', align: 'right', render: (_, r) => yuan(r.priceFen) },
          { title: t('sealValidityDays'), dataIndex: 'validityDays' },
          {
            title: t('sealNameIsOrg'),
            key: 'o',
            render: (_, r) => (r.nameIsOrganization ? <Tag color="blue">{t('yes')}</Tag> : <Tag>{t('no')}</Tag>),
          },
          {
            title: t('sealActive'),
            key: 'a',
            render: (_, r) => (r.active ? <Tag color="green">{t('yes')}</Tag> : <Tag>{t('no')}</Tag>),
          },
          ...(write
            ? [
                {
                  title: t('actions'),
                  key: 'e',
                  render: (_: unknown, r: SealTypeView) => (
                    <Button size="small" onClick={() => open(r)} data-testid={`edit-seal-type-${r.code}`}>
                      {t('editType')}
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
      <Modal open={editing !== null} title={t('sealTypes')} onOk={() => void save()} onCancel={() => setEditing(null)}>
        <Form<SealTypeForm> form={form} layout="vertical">
          <Form.Item label={t('code_')} name="code" rules={[{ required: true }]}>
            <Input disabled={editing !== 'new'} />
          </Form.Item>
          <Form.Item label={t('name')} name="name" rules={[{ required: true, max: 20 }]}>
            <Input />
          </Form.Item>
          <Form.Item label="English" name="nameEn" rules={[{ required: true, max: 80 }]}>
            <Input />
          </Form.Item>
          <Form.Item label={t('sealPrice')} name="price" rules={[{ required: true }]}>
            <Input inputMode="decimal" />
          </Form.Item>
          <Form.Item label={t('sealValidityDays')} name="validityDays" rules={[{ required: true }]}>
            <InputNumber min={1} max={3660} />
          </Form.Item>
          <Form.Item label={t('sealNameIsOrg')} name="nameIsOrganization" valuePropName="checked">
            <Switch />
          </Form.Item>
          <Form.Item label={t('sealActive')} name="active" valuePropName="checked">
            <Switch />
          </Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}
