// The staff console: language, session (password + TOTP login), the menu by permission, routes.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { App as AntApp, Button, ConfigProvider, Form, Input, Layout, Menu, Modal, Result, Space, Spin, Tag } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import { api, ApiError, setCsrf, setSessionLostHandler, type Session } from './api';
import { I18nContext, initialLang, storeLang, translator, useI18n, type I18n, type Lang } from './i18n';
import LoginPage from './pages/LoginPage';
import PaymentsPage from './pages/PaymentsPage';
import OrdersPage from './pages/OrdersPage';
import InvoicesPage from './pages/InvoicesPage';
import CertificatesPage from './pages/CertificatesPage';
import CataloguePage from './pages/CataloguePage';
import AuditPage from './pages/AuditPage';
import AccountsPage from './pages/AccountsPage';
import LossReviewPage from './pages/LossReviewPage';
import SealReviewPage from './pages/SealReviewPage';
import ChangeReviewPage from './pages/ChangeReviewPage';
import RelyingAppsPage from './pages/RelyingAppsPage';
import OutboxPage from './pages/OutboxPage';

const theme = {
  token: {
    colorPrimary: '#10528f',
    borderRadius: 4,
    fontFamily:
      "-apple-system, BlinkMacSystemFont, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', 'Noto Sans SC', 'Helvetica Neue', Arial, sans-serif",
  },
};

export const SessionContext = createContext<Session | null>(null);
export const useSession = (): Session => useContext(SessionContext)!;
export const useCan = (): ((p: string) => boolean) => {
  const s = useSession();
  return (p) => s.permissions.includes(p);
};

/** Hash routes: #/payments, #/orders/R…, … */
export function usePath(): string {
  const get = (): string => window.location.hash.replace(/^#/, '') || '/';
  const [path, setPath] = useState(get);
  useEffect(() => {
    const on = (): void => setPath(get());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return path;
}
export const go = (path: string): void => {
  window.location.hash = path;
};

const PAGES = [
  { key: 'payments', label: 'menuPayments', perm: 'payments.confirm' },
  { key: 'orders', label: 'menuOrders', perm: 'orders.read' },
  { key: 'invoices', label: 'menuInvoices', perm: 'invoices.read' },
  { key: 'certificates', label: 'menuCertificates', perm: 'certificates.read' },
  { key: 'seal-reviews', label: 'menuSealReviews', perm: 'reviews.decide' },
  { key: 'change-reviews', label: 'menuChangeReviews', perm: 'reviews.decide' },
  { key: 'catalogue', label: 'menuCatalogue', perm: 'catalogue.read' },
  { key: 'relying-apps', label: 'menuRelyingApps', perm: 'catalogue.read' },
  { key: 'outbox', label: 'menuOutbox', perm: 'outbox.manage' },
  { key: 'audit', label: 'menuAudit', perm: 'audit.read' },
  { key: 'accounts', label: 'menuAccounts', perm: 'staff.manage' },
  { key: 'loss-reviews', label: 'menuLossReviews', perm: 'reviews.decide' },
] as const;

function ChangePassword({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const { message } = AntApp.useApp();
  const [form] = Form.useForm<{ current: string; next: string }>();
  return (
    <Modal
      open={open}
      title={t('changePassword')}
      onCancel={onClose}
      onOk={() =>
        void form.validateFields().then(async (v) => {
          try {
            await api.changePassword(v.current, v.next);
            void message.success(t('passwordChanged'));
            form.resetFields();
            onClose();
          } catch (e) {
            if (e instanceof ApiError)
              form.setFields([{ name: e.field === 'current' ? 'current' : 'next', errors: [e.message] }]);
          }
        })
      }
    >
      <Form form={form} layout="vertical" name="password">
        <Form.Item name="current" label={t('currentPassword')} rules={[{ required: true }]}>
          <Input.Password autoComplete="current-password" />
        </Form.Item>
        <Form.Item name="next" label={t('password')} rules={[{ required: true, min: 12 }]}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function Shell({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const { t, lang, setLang } = useI18n();
  const path = usePath();
  const [pwOpen, setPwOpen] = useState(false);
  const allowed = PAGES.filter((p) => session.permissions.includes(p.perm));
  const seg = path.split('/').filter(Boolean);
  const current = allowed.find((p) => p.key === seg[0]) ?? allowed[0];
  useEffect(() => {
    if (current && seg[0] !== current.key) window.location.replace(`#/${current.key}`);
  }, [current, seg]);
  const arg = seg[1] ? decodeURIComponent(seg[1]) : undefined;
  let page = <Result status="403" title={t('forbidden')} />;
  switch (current?.key) {
    case 'payments':
      page = <PaymentsPage />;
      break;
    case 'orders':
      page = <OrdersPage openId={arg} />;
      break;
    case 'invoices':
      page = <InvoicesPage />;
      break;
    case 'certificates':
      page = <CertificatesPage openSerial={arg} />;
      break;
    case 'catalogue':
      page = <CataloguePage />;
      break;
    case 'audit':
      page = <AuditPage />;
      break;
    case 'accounts':
      page = <AccountsPage />;
      break;
    case 'loss-reviews':
      page = <LossReviewPage />;
      break;
    case 'outbox':
      page = <OutboxPage />;
      break;
    case 'seal-reviews':
      page = <SealReviewPage />;
      break;
    case 'change-reviews':
      page = <ChangeReviewPage />;
      break;
    case 'relying-apps':
      page = <RelyingAppsPage />;
      break;
  }
  return (
    <Layout className="sc-layout">
      <Layout.Header className="sc-header">
        <div className="sc-brand">
          {t('title')}
          <small>{t('subtitle')}</small>
        </div>
        <div className="sc-user">
          <span data-testid="staff-user">
            {session.staff.displayName} ({session.staff.username})
          </span>
          {session.staff.roles.map((r) => (
            <Tag key={r} color="blue">
              {t(`role.${r}`)}
            </Tag>
          ))}
          <Button size="small" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
            {t('switchLang')}
          </Button>
          <Button size="small" onClick={() => setPwOpen(true)}>
            {t('changePassword')}
          </Button>
          <Button size="small" onClick={onLogout}>
            {t('logout')}
          </Button>
        </div>
      </Layout.Header>
      <Layout>
        <Layout.Sider width={180} theme="light" breakpoint="lg" collapsedWidth={0}>
          <Menu
            mode="inline"
            selectedKeys={current ? [current.key] : []}
            items={allowed.map((p) => ({ key: p.key, label: <a href={`#/${p.key}`}>{t(p.label)}</a> }))}
            style={{ height: '100%' }}
          />
        </Layout.Sider>
        <Layout.Content className="sc-content">{page}</Layout.Content>
      </Layout>
      <ChangePassword open={pwOpen} onClose={() => setPwOpen(false)} />
    </Layout>
  );
}

export default function StaffApp() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const i18n = useMemo<I18n>(() => ({ lang, t: translator(lang), setLang: (l) => (storeLang(l), setLangState(l)) }), [lang]);
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  const [session, setSession] = useState<Session | null>(null);
  const [ready, setReady] = useState(false);

  const adopt = useCallback((s: Session | null) => {
    setCsrf(s?.csrfToken ?? '');
    setSession(s);
  }, []);

  useEffect(() => {
    setSessionLostHandler(() => adopt(null));
    void api
      .session()
      .then(adopt, () => adopt(null))
      .finally(() => setReady(true));
  }, [adopt]);

  const logout = async (): Promise<void> => {
    await api.logout().catch(() => undefined);
    adopt(null);
  };

  return (
    <I18nContext.Provider value={i18n}>
      <ConfigProvider locale={lang === 'zh' ? zhCN : enUS} theme={theme} button={{ autoInsertSpace: false }}>
        <AntApp>
          {!ready ? (
            <Space style={{ width: '100%', justifyContent: 'center', padding: 120 }}>
              <Spin />
            </Space>
          ) : session ? (
            <SessionContext.Provider value={session}>
              <Shell session={session} onLogout={() => void logout()} />
            </SessionContext.Provider>
          ) : (
            <LoginPage onLogin={adopt} />
          )}
        </AntApp>
      </ConfigProvider>
    </I18nContext.Provider>
  );
}
