import { runService } from '@mp3converter/service';
import { loadNotificationConfig } from './config.ts';
import { shutdownBudgetMs, startNotifier } from './worker.ts';

await runService('notification', loadNotificationConfig, startNotifier, {
  shutdownTimeoutMs: shutdownBudgetMs,
  notReady: 'could not connect to MongoDB and RabbitMQ',
});
