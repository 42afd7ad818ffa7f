// 升级证书 paths in the catalogue: from which certificate type to which, price, term, whether the old
// certificate's remaining time carries over, whether a new key is made, open or closed. Upgrade
// orders keep what they were sold as, so a change applies to new orders only.
import { Button, Card, Form, Input, InputNumber, Modal, Select, Switch, Table, Tag } from 'antd';
import type { UpgradePathView } from '../../../../src/api/staff/shapes.js';
import { api, yuan, type Catalogue } from '../api';
import { useI18n } from '../i18n';
import { usePricedEdit, type PricedForm } from './common';

export default function UpgradePathsCard({
  cat,
  write,
  onSaved,
}: {
  cat: Catalogue;
  write: boolean;
  onSaved: (c: Catalogue) => void;
}) {
  const { t } = useI18n();
  const { editing, setEditing, form, open, save } = usePricedEdit<UpgradePathView>(
    { fromType: '', toType: '', price: '', termYears: 1, carryOver: true, newKey: true, active: true },
    api.saveUpgradePath,
    onSaved,
  );
  const typeName = (code: string) => cat.types.find((x) => x.code === code)?.name ?? code;
  const typeOptions = cat.types.map((x) => ({ value: x.code, label: `${x.name} (${x.code})` }));
  const yesNo = (b: boolean, color = 'green') => (b ? <Tag color={color}>{t('yes')}</Tag> : <Tag>{t('no')}</Tag>);
  return (
    <Card
      size="small"
      title={t('upgradePaths')}
      data-testid="upgrade-paths"
      extra={
        write && (
          <Button type="primary" onClick={() => open('new')}>
            {t('addUpgradePath')}
          </Button>
        )
      }
    >
      <Table<UpgradePathView>
        size="small"
        rowKey={(r) => `${r.fromType}>${r.toType}`}
        pagination={false}
        dataSource={cat.upgradePaths}
        columns={[
          { title: t('upgradeFromType'), key: 'f', render: (_, r) => typeName(r.fromType) },
          { title: t('upgradeToType'), key: 't', render: (_, r) => typeName(r.toType) },
          { title: t('sealPrice'), key: 'p', align: 'right', render: (_, r) => yuan(r.priceFen) },
          { title: t('upgradeTermYears'), dataIndex: 'termYears' },
          { title: t('upgradeCarryOver'), key: 'c', render: (_, r) => yesNo(r.carryOver, 'blue') },
          { title: t('upgradeNewKey'), key: 'k', render: (_, r) => yesNo(r.newKey, 'blue') },
          { title: t('sealActive'), key: 'a', render: (_, r) => yesNo(r.active) },
          ...(write
            ? [
                {
                  title: t('actions'),
                  key: 'e',
                  render: (_: unknown, r: UpgradePathView) => (
                    <Button size="small" onClick={() => open(r)} data-testid={`edit-upgrade-${r.fromType}-${r.toType}`}>
                      {t('edit')}
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
      <Modal open={editing !== null} title={t('upgradePaths')} onOk={() => void save()} onCancel={() => setEditing(null)}>
        <Form<PricedForm<UpgradePathView>> form={form} name="upgradePath" layout="vertical">
          <Form.Item label={t('upgradeFromType')} name="fromType" rules={[{ required: true }]}>
            <Select options={typeOptions} disabled={editing !== 'new'} />
          </Form.Item>
          <Form.Item label={t('upgradeToType')} name="toType" rules={[{ required: true }]}>
            <Select options={typeOptions} disabled={editing !== 'new'} />
          </Form.Item>
          <Form.Item label={t('sealPrice')} name="price" rules={[{ required: true }]}>
            <Input inputMode="decimal" />
          </Form.Item>
          <Form.Item label={t('upgradeTermYears')} name="termYears" rules={[{ required: true }]}>
            <InputNumber min={1} max={10} />
          </Form.Item>
          <Form.Item label={t('upgradeCarryOver')} name="carryOver" valuePropName="checked">
            <Switch />
          </Form.Item>
          <Form.Item label={t('upgradeNewKey')} name="newKey" valuePropName="checked" extra={t('upgradeNewKeyHint')}>
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
