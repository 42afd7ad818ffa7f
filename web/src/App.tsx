// The holder portal: language and antd locale, configuration and session, routes.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { App as AntApp, ConfigProvider, Result, Spin } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import 'dayjs/locale/en';
import { AgentClient, subscribeKeyEvents } from './agent';
import { named } from './format';
import { api, DEFAULT_CONFIG, setCsrfToken, setSessionLostHandler, type PortalConfig, type Session } from './api';
import { I18nContext, initialLang, storeLang, translator, useI18n, type I18n, type Lang } from './i18n';
import { match, navigate, usePath } from './router';
import {
  AppContext,
  loadConnected,
  loadLoginKey,
  storeConnected,
  storeLoginKey,
  useApp,
  type AppState,
  type LoginKey,
} from './state';
import ErrorBoundary from './components/ErrorBoundary';
import PortalLayout from './components/PortalLayout';
import LoginPage from './pages/LoginPage';
import RenewPage from './pages/RenewPage';
import OrdersPage from './pages/OrdersPage';
import OrderPage from './pages/OrderPage';
import UpdatePage from './pages/UpdatePage';
import CertificatesPage from './pages/CertificatesPage';
import CertificateDetailPage from './pages/CertificateDetailPage';
import DownloadsPage from './pages/DownloadsPage';
import RevokePage from './pages/RevokePage';
import LossReportPage from './pages/LossReportPage';
import SealApplyPage from './pages/SealApplyPage';
import UpgradePage from './pages/UpgradePage';
import AppsPage from './pages/AppsPage';
import SealsPage from './pages/SealsPage';
import ChangePage from './pages/ChangePage';
import ChangeDetailPage from './pages/ChangeDetailPage';

const theme = {
  token: {
    colorPrimary: '#0b5cad',
    borderRadius: 4,
    fontFamily:
      "-apple-system, BlinkMacSystemFont, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', 'Noto Sans SC', 'Helvetica Neue', Arial, sans-serif",
  },
};

// antd spaces out two-character Chinese labels ("确 认"); the seed's labels read 确认, 登录系统.
const BUTTON = { autoInsertSpace: false };

function makeAgent(config: PortalConfig): AgentClient | null {
  try {
    return new AgentClient(config.agentUrl);
  } catch {
    return null;
  }
}

export default function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const i18n = useMemo<I18n>(
    () => ({
      lang,
      t: translator(lang),
      setLang: (l) => {
        storeLang(l);
        setLangState(l);
      },
    }),
    [lang],
  );
  useEffect(() => {
    dayjs.locale(lang === 'zh' ? 'zh-cn' : 'en');
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);

  const [config, setConfig] = useState<PortalConfig>(DEFAULT_CONFIG);
  const [session, setSession] = useState<Session | null>(null);
  const [ready, setReady] = useState(false);
  const [loginKey, setLoginKey] = useState<LoginKey | null>(loadLoginKey);
  const [agentConnected, setAgentConnectedState] = useState(loadConnected);
  const [notice, setNotice] = useState<string | null>(null);
  const agent = useMemo(() => makeAgent(config), [config]);

  useEffect(() => {
    let live = true;
    void (async () => {
      const [c, s] = await Promise.all([api.config(), api.session().catch(() => null)]);
      if (!live) return;
      setConfig(c);
      if (s) {
        setCsrfToken(s.csrfToken);
        setSession(s);
      }
      setReady(true);
    })();
    return () => {
      live = false;
    };
  }, []);

  const productName = named(lang, config.productName, config.productNameEn);
  useEffect(() => {
    document.title = productName;
  }, [productName]);

  const endSession = useCallback((msg: string | null) => {
    setCsrfToken(undefined);
    setSession(null);
    storeLoginKey(null);
    setLoginKey(null);
    setNotice(msg);
    navigate('/login');
  }, []);

  const logout = useCallback(
    async (msg?: string) => {
      await api.logout().catch(() => undefined);
      endSession(msg ?? null);
    },
    [endSession],
  );

  useEffect(() => {
    setSessionLostHandler(() => endSession(i18n.t('sessionExpired')));
    return () => setSessionLostHandler(undefined);
  }, [endSession, i18n]);

  // Pulling the key out ends the session (only once the holder has connected to the assistant
  // from a click in this tab: no background call to the assistant before that).
  useEffect(() => {
    if (!session || !agent || !agentConnected || !loginKey) return;
    return subscribeKeyEvents(agent, (e) => {
      const gone =
        (e.type === 'removed' && e.token.id === loginKey.tokenId) ||
        (e.type === 'tokens' && !e.tokens.some((tk) => tk.id === loginKey.tokenId));
      if (gone) void logout(i18n.t('tokenRemovedLogout'));
    });
  }, [session, agent, agentConnected, loginKey, logout, i18n]);

  const state: AppState = {
    config,
    session,
    agent,
    loginKey,
    loggedIn: (s, key) => {
      setCsrfToken(s.csrfToken);
      storeLoginKey(key);
      setLoginKey(key);
      setNotice(null);
      setSession(s);
    },
    logout,
    agentConnected,
    setAgentConnected: (v) => {
      storeConnected(v);
      setAgentConnectedState(v);
    },
    notice,
    setNotice,
  };

  return (
    <I18nContext.Provider value={i18n}>
      <ConfigProvider locale={lang === 'zh' ? zhCN : enUS} theme={theme} button={BUTTON}>
        <AntApp>
          <AppContext.Provider value={state}>
            {ready ? (
              <PortalLayout productName={productName}>
                <RoutesWithBoundary />
              </PortalLayout>
            ) : (
              <div className="cd-boot">
                <Spin size="large" />
              </div>
            )}
          </AppContext.Provider>
        </AntApp>
      </ConfigProvider>
    </I18nContext.Provider>
  );
}

function RoutesWithBoundary() {
  const path = usePath();
  return (
    <ErrorBoundary resetKey={path}>
      <Routes />
    </ErrorBoundary>
  );
}

function Routes() {
  const path = usePath();
  const { session } = useApp();
  const { t } = useI18n();
  if (match('/downloads', path)) return <DownloadsPage />;
  if (match('/lost', path)) return <LossReportPage />;
  if (!session) return <LoginPage />;
  if (path === '/' || path === '/login') return <Redirect to="/renew" />;
  let m: Record<string, string> | null;
  if (match('/renew', path)) return <RenewPage />;
  if (match('/orders', path)) return <OrdersPage />;
  if (match('/seal-apply', path) && !session.renewalOnly) return <SealApplyPage />;
  if (match('/seals', path) && !session.renewalOnly) return <SealsPage />;
  if (match('/change', path) && !session.renewalOnly) return <ChangePage />;
  if ((m = match('/changes/:id', path)) && !session.renewalOnly) return <ChangeDetailPage key={m.id} orderId={m.id!} />;
  if ((m = match('/orders/:id', path))) return <OrderPage key={m.id} orderId={m.id!} />;
  if ((m = match('/orders/:id/update', path))) return <UpdatePage key={m.id} orderId={m.id!} />;
  if (!session.renewalOnly) {
    if (match('/certificates', path)) return <CertificatesPage />;
    if (match('/revoke', path)) return <RevokePage />;
    if (match('/upgrade', path)) return <UpgradePage />;
    if (match('/apps', path)) return <AppsPage />;
    if ((m = match('/certificates/:serial', path))) return <CertificateDetailPage key={m.serial} serial={m.serial!} />;
  }
  return <Result status="404" title={t('notFound')} extra={<a href="#/renew">{t('goHome')}</a>} />;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
