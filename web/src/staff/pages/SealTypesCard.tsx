// 印章种类 in the catalogue: price, validity and whether the seal name must be the organisation
// (单位公章); applications copy name and price, so a change applies to new applications only.
import { Button, Card, Form, Input, InputNumber, Modal, Switch, Table, Tag } from 'antd';
import type { SealTypeView } from '../../../../src/shared/seal-views.js';
import { api, yuan, type Catalogue } from '../api';
import { useI18n } from '../i18n';
import { usePricedEdit, type PricedForm } from './common';

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
  const { editing, setEditing, form, open, save } = usePricedEdit<SealTypeView>(
    { code: '', name: '', nameEn: '', price: '', validityDays: 365, nameIsOrganization: false, active: true },
    api.saveSealType,
    onSaved,
  );
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
                      {t('edit')}
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
      <Modal open={editing !== null} title={t('sealTypes')} onOk={() => void save()} onCancel={() => setEditing(null)}>
        <Form<PricedForm<SealTypeView>> form={form} name="sealType" layout="vertical">
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
