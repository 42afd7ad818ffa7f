// The frame of every page, as in the seed manual: product name, today's date with the weekday,
// 用户信息, 安全提醒, 退出; the menu below; the page in the middle.
import { type ReactNode, useEffect, useState } from 'react';
import { Alert, Button, Layout, Menu, Space, Typography } from 'antd';
import { GlobalOutlined, LogoutOutlined, SafetyCertificateOutlined, UserOutlined } from '@ant-design/icons';
import { useI18n } from '../i18n';
import { headerDate } from '../format';
import { usePath } from '../router';
import { useApp } from '../state';

const { Header, Content, Footer } = Layout;

function useToday(): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = window.setInterval(() => setNow(new Date()), 60_000);
    return () => window.clearInterval(id);
  }, []);
  return now;
}

export default function PortalLayout({ productName, children }: { productName: string; children: ReactNode }) {
  const { t, lang, setLang } = useI18n();
  const { session, logout } = useApp();
  const path = usePath();
  const today = useToday();

  // the seed's menu order: 更新证书 升级证书 变更证书 印章申请 应用开通 撤销证书 证书查询, then the queries
  const full = Boolean(session && !session.renewalOnly);
  const items = [
    { key: 'renew', label: <a href="#/renew">{t('menuRenew')}</a> },
    ...(full
      ? [
          { key: 'upgrade', label: <a href="#/upgrade">{t('menuUpgrade')}</a> },
          { key: 'change', label: <a href="#/change">{t('menuChange')}</a> },
          { key: 'seal-apply', label: <a href="#/seal-apply">{t('menuSealApply')}</a> },
          { key: 'apps', label: <a href="#/apps">{t('menuApps')}</a> },
          { key: 'revoke', label: <a href="#/revoke">{t('menuRevoke')}</a> },
          { key: 'certificates', label: <a href="#/certificates">{t('menuCertificates')}</a> },
        ]
      : []),
    { key: 'orders', label: <a href="#/orders">{t('menuOrders')}</a> },
    ...(full ? [{ key: 'seals', label: <a href="#/seals">{t('menuSeals')}</a> }] : []),
    { key: 'downloads', label: <a href="#/downloads">{t('menuDownloads')}</a> },
  ];
  const selected =
    path.startsWith('/orders') && !path.endsWith('/update')
      ? 'orders'
      : path.startsWith('/certificates')
        ? 'certificates'
        : path.startsWith('/revoke') || path.startsWith('/upgrade') || path.startsWith('/change') || path.startsWith('/apps')
          ? path.slice(1).split('/')[0]!
          : path.startsWith('/seal-apply') || path.startsWith('/seals')
            ? path.slice(1).split('/')[0]!
            : path.startsWith('/downloads')
              ? 'downloads'
              : 'renew';

  return (
    <Layout className="cd-layout">
      <Header className="cd-header">
        <div className="cd-brand">
          <SafetyCertificateOutlined aria-hidden className="cd-brand-icon" />
          <span className="cd-brand-name" data-testid="product-name">
            {productName}
          </span>
        </div>
        <Space className="cd-header-right" size="middle" wrap>
          <span className="cd-date" data-testid="today">
            {headerDate(lang, today)}
          </span>
          <Button
            type="text"
            size="small"
            className="cd-header-button"
            icon={<GlobalOutlined />}
            aria-label={t('switchLangLabel')}
            data-testid="lang-switch"
            onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}
          >
            {t('switchLang')}
          </Button>
          {session && (
            <Button
              type="text"
              size="small"
              className="cd-header-button"
              icon={<LogoutOutlined />}
              data-testid="logout"
              onClick={() => void logout(t('sessionEnded'))}
            >
              {t('logout')}
            </Button>
          )}
        </Space>
      </Header>
      {session && (
        <>
          <nav aria-label={t('mainNav')} className="cd-nav">
            <Menu mode="horizontal" selectedKeys={[selected]} items={items} className="cd-menu" />
          </nav>
          <div className="cd-infobar" role="note">
            <span>
              <UserOutlined aria-hidden /> <b>{t('userInfo')}</b> <span data-testid="holder-name">{session.holder.name}</span>
            </span>
            <span>
              <b>{t('securityReminder')}</b> {t('securityReminderText')}
            </span>
          </div>
        </>
      )}
      <Content className="cd-content">
        {session?.renewalOnly && <Alert className="cd-gap" type="warning" showIcon title={t('renewalOnlyNotice')} />}
        {children}
      </Content>
      <Footer className="cd-footer">
        <Typography.Text type="secondary">
          © {today.getFullYear()} {productName}
        </Typography.Text>{' '}
        <a href="#/downloads" data-testid="downloads-link">
          {t('menuDownloads')}
        </a>{' '}
        <a href="#/lost">{t('menuLossReport')}</a>
      </Footer>
    </Layout>
  );
}
