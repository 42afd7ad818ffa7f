// 挂失/撤销申请: for a holder whose key is lost (no key, no login). The request goes to staff review
// (挂失审核); the answer is the same whatever was entered, so it never tells whether a 唯一识别号 exists.
import { useState } from 'react';
import { Alert, Button, Card, Form, Input, Radio, Result, Space } from 'antd';
import { api } from '../api';
import { errorText } from '../errors';
import { useI18n, type MessageKey } from '../i18n';
import { HOLDER_REVOCATION_REASONS } from '../../../src/shared/holder-revocation.js';

interface Values {
  uniqueId: string;
  name: string;
  contact: string;
  reason: string;
  serial?: string;
}

export default function LossReportPage() {
  const { t } = useI18n();
  const [form] = Form.useForm<Values>();
  const [answer, setAnswer] = useState<{ id: string; message: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (): Promise<void> => {
    const v = await form.validateFields();
    setBusy(true);
    setError(null);
    try {
      setAnswer(await api.lossReport(v));
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  if (answer) return <Result status="success" title={t('lossReportSent')} subTitle={`${answer.message}（${answer.id}）`} />;
  return (
    <Card title={t('menuLossReport')}>
      <Space orientation="vertical" style={{ width: '100%' }}>
        <Alert type="info" showIcon title={t('lossReportIntro')} />
        <Form form={form} layout="vertical" initialValues={{ reason: 'keyCompromise' }}>
          <Form.Item name="uniqueId" label={t('colUniqueId')} rules={[{ required: true, whitespace: true }]}>
            <Input maxLength={64} />
          </Form.Item>
          <Form.Item name="name" label={t('lossReportName')} rules={[{ required: true, whitespace: true }]}>
            <Input maxLength={200} />
          </Form.Item>
          <Form.Item name="contact" label={t('lossReportContact')} rules={[{ required: true, whitespace: true }]}>
            <Input maxLength={200} />
          </Form.Item>
          <Form.Item
            name="serial"
            label={t('lossReportSerial')}
            extra={t('lossReportSerialHint')}
            rules={[{ pattern: /^\s*(0x)?[0-9a-fA-F:\s]*$/, message: t('lossReportSerialInvalid') }]}
          >
            <Input maxLength={120} spellCheck={false} />
          </Form.Item>
          <Form.Item name="reason" label={t('revokeReason')}>
            <Radio.Group>
              <Space orientation="vertical">
                {HOLDER_REVOCATION_REASONS.map((r) => (
                  <Radio key={r} value={r}>
                    {t(`revokeReason_${r}` as MessageKey)}
                  </Radio>
                ))}
              </Space>
            </Radio.Group>
          </Form.Item>
        </Form>
        {error && <Alert type="error" showIcon title={error} />}
        <Button type="primary" loading={busy} onClick={() => void submit()}>
          {t('lossReportSubmit')}
        </Button>
      </Space>
    </Card>
  );
}
