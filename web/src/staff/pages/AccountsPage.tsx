// Staff accounts (admin): create (the initial password is shown once; TOTP is enrolled at the first
// login), roles, disable, reset password or authenticator, unlock.
import { useEffect, useState } from 'react';
import { Alert, App, Button, Card, Checkbox, Form, Input, Modal, Space, Table, Tag, Typography } from 'antd';
import { api, ApiError, fmtTime, type Role, type StaffAccount } from '../api';
import { useI18n } from '../i18n';

const ROLES: Role[] = ['operator', 'reviewer', 'auditor', 'admin', 'kmc'];

export default function AccountsPage() {
  const { t } = useI18n();
  const { message, modal } = App.useApp();
  const [rows, setRows] = useState<StaffAccount[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [form] = Form.useForm<{ username: string; displayName?: string; roles: Role[] }>();
  const load = (): void => {
    api.accounts().then(
      (r) => setRows(r.items),
      (e: Error) => setError(e.message),
    );
  };
  useEffect(load, []);
  const fail = (e: unknown): void => void message.error(e instanceof ApiError ? e.message : String(e));
  const showSecret = (title: string, password: string): void => {
    modal.info({
      title,
      content: (
        <Typography.Text code copyable className="sc-mono">
          {password}
        </Typography.Text>
      ),
      width: 520,
    });
  };
  return (
    <Card
      size="small"
      title={t('menuAccounts')}
      extra={
        <Button type="primary" onClick={() => setCreating(true)}>
          {t('addAccount')}
        </Button>
      }
    >
      {error && <Alert type="error" title={error} />}
      <Table<StaffAccount>
        size="small"
        rowKey="id"
        pagination={false}
        dataSource={rows}
        columns={[
          { title: t('username'), dataIndex: 'username' },
          { title: t('displayName'), dataIndex: 'displayName' },
          {
            title: t('roles'),
            key: 'roles',
            render: (_: unknown, a: StaffAccount) => (
              <Checkbox.Group
                value={a.roles}
                options={ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))}
                onChange={(v) => v.length > 0 && void api.updateAccount(a.id, { roles: v as Role[] }).then(load, fail)}
              />
            ),
          },
          {
            title: t('totp'),
            dataIndex: 'totpEnrolled',
            render: (v: boolean) => (v ? <Tag color="green">{t('enrolled')}</Tag> : <Tag>{t('notEnrolled')}</Tag>),
          },
          {
            title: t('status'),
            key: 's',
            render: (_: unknown, a: StaffAccount) =>
              a.disabled ? (
                <Tag>{t('disabled')}</Tag>
              ) : a.locked ? (
                <Tag color="red">{t('locked')}</Tag>
              ) : (
                <Tag color="green">{t('active')}</Tag>
              ),
          },
          { title: t('lastLogin'), dataIndex: 'lastLoginAt', render: fmtTime },
          {
            title: t('actions'),
            key: 'a',
            render: (_: unknown, a: StaffAccount) => (
              <Space wrap>
                {a.locked && (
                  <Button size="small" onClick={() => void api.unlock(a.id).then(load, fail)}>
                    {t('unlock')}
                  </Button>
                )}
                <Button
                  size="small"
                  onClick={() =>
                    void api.resetPassword(a.id).then((r) => (showSecret(t('newPassword'), r.password), load()), fail)
                  }
                >
                  {t('resetPassword')}
                </Button>
                <Button size="small" onClick={() => void api.resetTotp(a.id).then(load, fail)}>
                  {t('resetTotp')}
                </Button>
                <Button
                  size="small"
                  danger={!a.disabled}
                  onClick={() => void api.updateAccount(a.id, { disabled: !a.disabled }).then(load, fail)}
                >
                  {a.disabled ? t('enable') : t('disable')}
                </Button>
              </Space>
            ),
          },
        ]}
      />
      <Modal
        open={creating}
        title={t('addAccount')}
        onCancel={() => setCreating(false)}
        destroyOnHidden
        onOk={() =>
          void form.validateFields().then(async (v) => {
            try {
              const r = await api.createAccount(v);
              setCreating(false);
              form.resetFields();
              showSecret(t('accountCreated', { user: r.account.username }), r.password);
              load();
            } catch (e) {
              if (e instanceof ApiError && e.field) form.setFields([{ name: e.field as 'username', errors: [e.message] }]);
              else fail(e);
            }
          })
        }
      >
        <Form form={form} layout="vertical" name="account" initialValues={{ roles: ['operator'] }}>
          <Form.Item name="username" label={t('username')} rules={[{ required: true, pattern: /^[a-z][a-z0-9._-]{1,31}$/ }]}>
            <Input />
          </Form.Item>
          <Form.Item name="displayName" label={t('displayName')}>
            <Input />
          </Form.Item>
          <Form.Item name="roles" label={t('roles')} rules={[{ required: true }]}>
            <Checkbox.Group options={ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))} />
          </Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}
