// One certificate's details, its PEM text and downloads.
import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Descriptions, Result, Spin, Typography } from 'antd';
import { api, type CertificateDetail } from '../api';
import { errorText } from '../errors';
import { fmtTime, named } from '../format';
import { useI18n } from '../i18n';
import { CertStatusWithReason, DownloadLinks } from './CertificatesPage';

interface ExtensionView {
  oid?: string;
  name?: string;
  critical?: boolean;
  value?: unknown;
}

function extensionList(ext: unknown): ExtensionView[] {
  if (Array.isArray(ext)) return ext as ExtensionView[];
  if (ext && typeof ext === 'object')
    return Object.entries(ext as Record<string, unknown>).map(([name, value]) => ({ name, value }));
  return [];
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

export default function CertificateDetailPage({ serial }: { serial: string }) {
  const { t, lang } = useI18n();
  const [cert, setCert] = useState<CertificateDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    setError(null);
    try {
      setCert((await api.certificate(serial)).certificate);
    } catch (e) {
      setError(errorText(t, e));
    }
  }, [serial, t]);
  useEffect(() => {
    void load();
  }, [load]);
  if (error) return <Result status="error" title={error} extra={<Button onClick={() => void load()}>{t('retry')}</Button>} />;
  if (!cert) return <Spin className="cd-spin" />;
  const exts = extensionList(cert.extensions);
  return (
    <div className="cd-page">
      <Card
        className="cd-gap"
        title={<h1 className="cd-card-title">{t('certificateDetail')}</h1>}
        extra={<a href="#/certificates">{t('back')}</a>}
      >
        <Descriptions
          bordered
          size="middle"
          column={1}
          styles={{ label: { width: 180 } }}
          items={[
            { key: 'name', label: t('fieldName'), children: cert.commonName },
            { key: 'kind', label: t('fieldKind'), children: named(lang, cert.profileName, cert.profileNameEn) },
            { key: 'uid', label: t('fieldUniqueId'), children: cert.uniqueId ?? '—' },
            { key: 'subject', label: t('fieldSubject'), children: cert.subject },
            { key: 'issuer', label: t('fieldIssuer'), children: cert.issuer },
            { key: 'serial', label: t('fieldSerial'), children: <code>{cert.serial.toUpperCase()}</code> },
            { key: 'nb', label: t('fieldNotBefore'), children: fmtTime(lang, cert.notBefore) },
            { key: 'na', label: t('fieldNotAfter'), children: fmtTime(lang, cert.notAfter) },
            { key: 'status', label: t('fieldStatus'), children: <CertStatusWithReason cert={cert} /> },
            { key: 'dl', label: t('colActions'), children: <DownloadLinks serial={cert.serial} /> },
          ]}
        />
      </Card>
      {exts.length > 0 && (
        <Card className="cd-gap" title={t('extensions')}>
          <Descriptions
            bordered
            size="small"
            column={1}
            items={exts.map((e, i) => ({
              key: i,
              label: (
                <span>
                  {e.name ?? e.oid}
                  {e.critical ? ` (${t('critical')})` : ''}
                </span>
              ),
              children: <span className="cd-break">{show(e.value)}</span>,
            }))}
          />
        </Card>
      )}
      {cert.pem && (
        <Card title={t('pemText')}>
          <Typography.Paragraph copyable={{ text: cert.pem }}>
            <pre className="cd-pem">{cert.pem}</pre>
          </Typography.Paragraph>
        </Card>
      )}
    </div>
  );
}
