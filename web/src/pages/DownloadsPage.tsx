// 下载中心: the key assistant (协卡助手) for each platform — version, size, SHA-256, the CA's detached
// signature — how to check and install it, and which PKCS#11 driver a key needs. Open without login:
// a holder needs the assistant before the first login.
import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Result, Spin, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { DownloadOutlined } from '@ant-design/icons';
import { api, type AgentDownloadView, type DownloadsView, type KeyDriverHint } from '../api';
import { errorText } from '../errors';
import { useI18n, type MessageKey } from '../i18n';

const PLATFORMS: { platform: AgentDownloadView['platform']; title: MessageKey; install: MessageKey[] }[] = [
  { platform: 'linux-x64', title: 'dlPlatformLinux', install: ['dlInstallDeb', 'dlInstallDeb2', 'dlInstallBinary'] },
  { platform: 'windows-x64', title: 'dlPlatformWindows', install: ['dlInstallMsi'] },
  { platform: 'macos', title: 'dlPlatformMac', install: ['dlInstallPkg'] },
];

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

export default function DownloadsPage() {
  const { t, lang } = useI18n();
  const [data, setData] = useState<DownloadsView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    setError(null);
    try {
      setData(await api.downloads());
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [t]);
  useEffect(() => {
    void load();
  }, [load]);
  if (error) return <Result status="error" title={error} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  if (!data) return <Spin className="cd-spin" />;

  const columns: ColumnsType<AgentDownloadView> = [
    {
      title: t('dlColFile'),
      key: 'name',
      render: (_, f) => (
        <a href={f.url} download data-testid="dl-file">
          <DownloadOutlined aria-hidden /> {f.name}
        </a>
      ),
    },
    { title: t('dlColKind'), key: 'kind', render: (_, f) => t(`dlKind.${f.kind}` as MessageKey) },
    { title: t('dlColVersion'), dataIndex: 'version', key: 'version' },
    {
      title: t('dlColSize'),
      key: 'size',
      render: (_, f) => (
        <span data-testid="dl-size" title={`${f.size} bytes`}>
          {mb(f.size)}
        </span>
      ),
    },
    {
      title: 'SHA-256',
      key: 'sha256',
      render: (_, f) => (
        <Typography.Text code copyable className="cd-hash" data-testid="dl-sha256">
          {f.sha256}
        </Typography.Text>
      ),
    },
    {
      title: t('dlColSignature'),
      key: 'sig',
      render: (_, f) => (
        <a href={f.signatureUrl} download data-testid="dl-signature">
          {f.name}.p7s
        </a>
      ),
    },
  ];
  const driverColumns: ColumnsType<KeyDriverHint> = [
    { title: t('dlColVendor'), key: 'vendor', render: (_, d) => (lang === 'en' ? d.vendorEn : d.vendor) },
    { title: t('dlColKeys'), dataIndex: 'keys', key: 'keys' },
    { title: 'Linux', dataIndex: 'linux', key: 'linux' },
    { title: 'Windows', dataIndex: 'windows', key: 'windows' },
    { title: 'macOS', dataIndex: 'macos', key: 'macos' },
    { title: t('dlColNote'), key: 'note', render: (_, d) => (lang === 'en' ? d.noteEn : d.note) },
  ];
  const sample = data.agent.files[0]?.name ?? 'certdesk-agent_VERSION_amd64.deb';

  return (
    <div className="cd-page" data-testid="downloads">
      <Card title={<h1 className="cd-card-title">{t('dlTitle')}</h1>}>
        <p>{t('dlIntro')}</p>
        <p data-testid="dl-versions">
          {t('dlLatest', { version: data.agent.latestVersion ?? '—' })} {t('dlMinimum', { version: data.agent.minimumVersion })}
        </p>
        {PLATFORMS.map(({ platform, title, install }) => {
          const files = data.agent.files.filter((f) => f.platform === platform);
          return (
            <section key={platform} className="cd-gap-top" data-testid={`dl-${platform}`}>
              <Typography.Title level={2} className="cd-section-title">
                {t(title)}
              </Typography.Title>
              {files.length > 0 ? (
                <>
                  <Table
                    rowKey="name"
                    columns={columns}
                    dataSource={files}
                    pagination={false}
                    size="small"
                    scroll={{ x: true }}
                  />
                  <ol className="cd-list">
                    {install.map((k) => (
                      <li key={k}>{t(k)}</li>
                    ))}
                  </ol>
                </>
              ) : (
                <p data-testid="dl-none">{t('dlNotBuilt')}</p>
              )}
            </section>
          );
        })}
        <section className="cd-gap-top">
          <Typography.Title level={2} className="cd-section-title">
            {t('dlVerifyTitle')}
          </Typography.Title>
          <p>
            {t('dlVerifyText')} <a href={data.caRootUrl}>{t('dlCaRoot')}</a>
          </p>
          <pre className="cd-pre" data-testid="dl-verify">
            {`sha256sum ${sample}\nopenssl cms -verify -binary -inform DER -purpose any -out /dev/null \\\n  -in ${sample}.p7s -content ${sample} -CAfile ca-root.pem`}
          </pre>
        </section>
        <section className="cd-gap-top">
          <Typography.Title level={2} className="cd-section-title">
            {t('dlDriversTitle')}
          </Typography.Title>
          <p>{t('dlDriversText')}</p>
          <Table
            rowKey="vendorEn"
            columns={driverColumns}
            dataSource={data.drivers}
            pagination={false}
            size="small"
            scroll={{ x: true }}
          />
        </section>
      </Card>
    </div>
  );
}
