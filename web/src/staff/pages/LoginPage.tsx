// Login: user name + password, then the TOTP code — or, the first time, the QR code to enrol.
import { useState } from 'react';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { api, ApiError, setCsrf, type LoginStep, type Session } from '../api';
import { useI18n } from '../i18n';

export default function LoginPage({ onLogin }: { onLogin: (s: Session) => void }) {
  const { t, lang, setLang } = useI18n();
  const [step, setStep] = useState<LoginStep | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submitPassword = async (v: { username: string; password: string }): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const s = await api.login(v.username, v.password);
      setCsrf(s.csrfToken);
      setStep(s);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (v: { code: string }): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onLogin(await api.totp(v.code.trim()));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'no_pending_login') setStep(null);
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="sc-login">
      <Card
        title={step ? t(step.next === 'enrol' ? 'enrolTitle' : 'totpTitle') : `${t('title')} · ${t('loginTitle')}`}
        extra={
          <Button size="small" type="link" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
            {t('switchLang')}
          </Button>
        }
      >
        {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} data-testid="login-error" />}
        {!step ? (
          <Form name="login" layout="vertical" onFinish={(v: { username: string; password: string }) => void submitPassword(v)}>
            <Form.Item name="username" label={t('username')} rules={[{ required: true }]}>
              <Input autoComplete="username" autoFocus />
            </Form.Item>
            <Form.Item name="password" label={t('password')} rules={[{ required: true }]}>
              <Input.Password autoComplete="current-password" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block loading={busy}>
              {t('next')}
            </Button>
          </Form>
        ) : (
          <Form name="totp" layout="vertical" onFinish={(v: { code: string }) => void submitCode(v)}>
            <Typography.Paragraph>{t(step.next === 'enrol' ? 'enrolHint' : 'totpHint')}</Typography.Paragraph>
            {step.enrol && (
              <>
                <img className="sc-qr" src={step.enrol.qr} alt="otpauth QR" data-testid="enrol-qr" />
                <Typography.Paragraph>
                  {t('secret')}:{' '}
                  <Typography.Text code copyable className="sc-mono" data-testid="enrol-secret">
                    {step.enrol.secret}
                  </Typography.Text>
                </Typography.Paragraph>
              </>
            )}
            <Form.Item name="code" label={t('code')} rules={[{ required: true, pattern: /^\s*\d{6}\s*$/ }]}>
              <Input inputMode="numeric" autoComplete="one-time-code" maxLength={7} autoFocus />
            </Form.Item>
            <Button type="primary" htmlType="submit" block loading={busy}>
              {t('login')}
            </Button>
            <Button type="link" block onClick={() => setStep(null)}>
              {t('backToPassword')}
            </Button>
          </Form>
        )}
      </Card>
    </div>
  );
}
