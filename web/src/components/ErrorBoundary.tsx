// A page that throws while rendering shows a calm message instead of a blank screen.
import { Component, type ContextType, type ReactNode } from 'react';
import { Button, Result } from 'antd';
import { I18nContext } from '../i18n';

export default class ErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, { error: Error | null }> {
  static override contextType = I18nContext;
  declare context: ContextType<typeof I18nContext>;
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error): { error: Error } {
    return { error };
  }

  override componentDidUpdate(prev: { resetKey: string }): void {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  override render(): ReactNode {
    if (!this.state.error) return this.props.children;
    const { t } = this.context;
    return (
      <Result
        status="warning"
        title={t('pageError')}
        subTitle={t('pageErrorText')}
        extra={<Button onClick={() => window.location.reload()}>{t('reload')}</Button>}
      />
    );
  }
}
